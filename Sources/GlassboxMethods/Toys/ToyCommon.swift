import Foundation
import GlassboxTensor

/// Errors from training, saving and loading the toy models.
public enum ToyModelError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A configuration field has a value the model cannot use.
    case invalidConfiguration(field: String, value: String, expected: String)
    /// A weights file is missing a tensor, or has one of the wrong shape.
    case weightMismatch(file: String, tensor: String, expected: String, found: String)
    /// A safetensors file is malformed.
    case malformedSafetensors(file: String, reason: String)
    /// Reading or writing a file failed.
    case io(file: String, reason: String)
    /// An input tensor has a shape the method cannot use.
    case invalidInput(name: String, shape: [Int], expected: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let field, let value, let expected):
            return "invalid configuration: \(field) = \(value), expected \(expected)"
        case .weightMismatch(let file, let tensor, let expected, let found):
            return "\(file): tensor '\(tensor)' expected \(expected), found \(found)"
        case .malformedSafetensors(let file, let reason):
            return "\(file): not a valid F32 safetensors file: \(reason)"
        case .io(let file, let reason):
            return "\(file): \(reason)"
        case .invalidInput(let name, let shape, let expected):
            return "\(name) has shape \(shape), expected \(expected)"
        }
    }
}

/// A progress report from a toy-model training loop (the library never prints;
/// a caller such as the CLI shows these).
public struct ToyTrainingProgress: Sendable {
    /// What is being trained, e.g. "superposition" or "modular-addition".
    public var task: String
    /// Steps (or epochs) completed so far.
    public var step: Int
    public var totalSteps: Int
    /// The latest training loss (for batched instances, the sum over instances).
    public var loss: Float
    /// Further named measurements at this step (test loss, accuracy, …).
    public var metrics: [String: Float]

    public init(task: String, step: Int, totalSteps: Int, loss: Float, metrics: [String: Float] = [:]) {
        self.task = task
        self.step = step
        self.totalSteps = totalSteps
        self.loss = loss
        self.metrics = metrics
    }
}

/// Called from a training loop every `logEvery` steps and at the end.
public typealias ToyProgressHandler = (ToyTrainingProgress) -> Void

func requirePositive(_ value: Int, _ field: String) throws {
    if value <= 0 { throw ToyModelError.invalidConfiguration(field: field, value: "\(value)", expected: "a positive integer") }
}

func checkWeights(_ tensors: [String: Tensor], expected: [(String, [Int])], file: String) throws {
    for (name, shape) in expected {
        guard let t = tensors[name] else {
            throw ToyModelError.weightMismatch(file: file, tensor: name, expected: "shape \(shape)", found: "no such tensor")
        }
        if t.shape != shape {
            throw ToyModelError.weightMismatch(file: file, tensor: name, expected: "shape \(shape)", found: "shape \(t.shape)")
        }
    }
}

/// Writes named parameters with the JSON configuration and the model kind as metadata.
func saveToyWeights<C: Encodable>(_ configuration: C, model: String, names: [String], parameters: [Tensor], to url: URL) throws {
    let json = String(decoding: try JSONEncoder().encode(configuration), as: UTF8.self)
    var named: [String: Tensor] = [:]
    for (name, p) in zip(names, parameters) { named[name] = p }
    try ToySafetensors.write(named, metadata: ["configuration": json, "model": model], to: url)
}

/// Reads a file written by `saveToyWeights` and checks every expected tensor's shape.
func loadToyWeights<C: Decodable>(_ type: C.Type, model: String, from url: URL,
                                  shapes: (C) -> [(String, [Int])]) throws -> (configuration: C, parameters: [Tensor]) {
    let (tensors, meta) = try ToySafetensors.read(from: url)
    guard let json = meta["configuration"], let c = try? JSONDecoder().decode(C.self, from: Data(json.utf8)) else {
        throw ToyModelError.malformedSafetensors(file: url.path, reason: "no \(model) configuration in __metadata__")
    }
    let expected = shapes(c)
    try checkWeights(tensors, expected: expected, file: url.path)
    return (c, expected.map { tensors[$0.0]! })
}

extension Tensor {
    /// A contiguous copy with no autodiff history.
    var plain: Tensor { contiguous().detached() }
}
