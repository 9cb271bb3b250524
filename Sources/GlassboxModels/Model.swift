import Foundation
import GlassboxFormats
import GlassboxTensor

/// Sizes every transformer shares (what methods need to iterate over layers and heads).
public struct ModelDimensions: Sendable, Equatable, Codable {
    public var layers: Int
    public var dModel: Int
    public var heads: Int
    public var kvHeads: Int
    public var dHead: Int
    public var dMLP: Int
    public var vocabularySize: Int
    /// Longest input for learned position embeddings; nil for rotary models.
    public var maxPositions: Int?
}

/// The result of a forward pass.
public struct ModelOutput: @unchecked Sendable {
    /// Next-token logits [batch, length, vocab] (language models) — nil for encoders; [batch, k, vocab]
    /// when the run's `HookRun.logitPositions` selects k positions.
    public var logits: Tensor?
    /// The last hidden state [batch, length, dModel] (after the final norm for decoders).
    public var hidden: Tensor
    /// BERT's pooled [CLS] output [batch, dModel], when the model has a pooler.
    public var pooled: Tensor?
}

/// A transformer with TransformerLens-named hook points. Each architecture implements one
/// `forward`; everything else (caching, hooks, gradients, generation) is built on it.
public protocol TransformerModel: Sendable {
    var architecture: Architecture { get }
    var dimensions: ModelDimensions { get }
    /// Whether attention is causal (decoders) or bidirectional (encoders).
    var isCausal: Bool { get }
    /// The forward pass over a (padded) batch; `run` applies hooks and caches activations;
    /// `cache` (decoders) holds keys and values of earlier calls for incremental decoding.
    func forward(_ input: TokenBatch, run: HookRun, cache: KVCache?) -> ModelOutput
    /// The final norm then the unembedding of a residual-stream tensor [..., dModel]
    /// (the logit lens); nil for encoders without an LM head.
    func unembed(_ resid: Tensor) -> Tensor?
    /// Every hook point of this model.
    var hookNames: [String] { get }
}

extension TransformerModel {
    /// Runs the model without hooks.
    public func callAsFunction(_ input: TokenBatch) throws -> ModelOutput {
        try input.validate(vocabularySize: dimensions.vocabularySize)
        return forward(input, run: HookRun(), cache: nil)
    }

    /// Runs the model and records the activations at `names` (all hook points when nil).
    /// `logitPositions` projects only those positions through the unembedding (see `HookRun`).
    public func runWithCache(_ input: TokenBatch, names: Set<String>? = nil, hooks: Hooks = Hooks(),
                             logitPositions: [Int]? = nil) throws
        -> (output: ModelOutput, cache: ActivationCache) {
        try input.validate(vocabularySize: dimensions.vocabularySize)
        let run = HookRun(hooks: hooks, caching: names.map { .names($0) } ?? .all, logitPositions: logitPositions)
        let out = forward(input, run: run, cache: nil)
        return (out, run.cache)
    }

    /// Runs the model with `hooks` applied (read, replace, add, ablate activations).
    /// `logitPositions` projects only those positions through the unembedding (see `HookRun`).
    public func runWithHooks(_ input: TokenBatch, hooks: Hooks, logitPositions: [Int]? = nil) throws -> ModelOutput {
        try input.validate(vocabularySize: dimensions.vocabularySize)
        return forward(input, run: HookRun(hooks: hooks, logitPositions: logitPositions), cache: nil)
    }

    /// A scalar function of the output and its gradients with respect to the activations at
    /// `names` (e.g. `hook_embed` for the input embeddings, or any hook point), taken with a
    /// `GradientTape` that watches each activation inside its hook. `hooks` run first;
    /// `logitPositions` projects only those positions through the unembedding (see `HookRun`).
    public func gradients(_ input: TokenBatch, withRespectTo names: [String], hooks: Hooks = Hooks(),
                          logitPositions: [Int]? = nil, of scalar: (ModelOutput) -> Tensor) throws
        -> (value: Float, gradients: [String: Tensor], activations: [String: Tensor]) {
        try input.validate(vocabularySize: dimensions.vocabularySize)
        let tape = GradientTape()
        let box = WatchedBox()
        var all = hooks
        for name in names {
            all.add(name) { t in
                let w = tape.watch(t)
                box.watched[name] = w
                return w
            }
        }
        let out = forward(input, run: HookRun(hooks: all, logitPositions: logitPositions), cache: nil)
        let value = scalar(out)
        let order = names.filter { box.watched[$0] != nil }
        guard order.count == names.count else {
            let missing = names.filter { box.watched[$0] == nil }
            throw ModelError.invalidInput("no hook point named \(missing.joined(separator: ", ")) in \(architecture.rawValue)")
        }
        let grads = tape.gradient(of: value, withRespectTo: order.map { box.watched[$0]! })
        var result: [String: Tensor] = [:]
        for (n, g) in zip(order, grads) { result[n] = g }
        return (value.detached().sum().item, result, box.watched.mapValues { $0.detached() })
    }
}

final class WatchedBox { var watched: [String: Tensor] = [:] }

/// The architectures Glassbox implements: one line each.
public enum Architecture: String, Sendable, Codable, CaseIterable {
    case llama
    case gpt2
    case bert

    /// Loads the model from a weight source, reading its configuration from `config`
    /// (a Hugging Face config.json object) or from GGUF metadata.
    func load(_ weights: WeightSource) throws -> any TransformerModel {
        switch self {
        case .llama: return try LlamaModel(weights)
        case .gpt2: return try GPT2Model(weights)
        case .bert: return try BERTModel(weights)
        }
    }

    /// The architecture named by a GGUF `general.architecture` or a config.json `model_type`.
    init?(name: String) {
        switch name.lowercased() {
        case "llama", "mistral", "smollm", "smollm2": self = .llama
        case "gpt2": self = .gpt2
        case "bert": self = .bert
        default: return nil
        }
    }
}

// MARK: - Weights

/// Named Float32 tensors and a configuration: a GGUF file or a safetensors folder.
public protocol WeightSource: Sendable {
    /// For error messages.
    var name: String { get }
    /// Float32 tensor by name (dequantized if stored quantized), or nil when absent.
    func tensorIfPresent(_ name: String) throws -> Tensor?
    /// GGUF metadata (nil for safetensors).
    var gguf: GGUFFile? { get }
    /// config.json (nil for GGUF).
    var config: [String: Any]? { get }
}

extension WeightSource {
    func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        guard let t = try tensorIfPresent(name) else { throw ModelError.missingTensor(source: self.name, tensor: name) }
        if let shape, t.shape != shape { throw ModelError.badTensorShape(source: self.name, tensor: name, shape: t.shape, expected: shape) }
        return t
    }

    /// The first present name among `names` (checkpoints differ in prefixes such as `transformer.`).
    func tensor(anyOf names: [String], shape: [Int]? = nil) throws -> Tensor {
        for n in names { if try tensorIfPresent(n) != nil { return try tensor(n, shape: shape) } }
        throw ModelError.missingTensor(source: name, tensor: names.joined(separator: " or "))
    }
}

/// A GGUF file's weights (llama.cpp tensor names).
public struct GGUFWeights: WeightSource, @unchecked Sendable {
    public let file: GGUFFile
    public var name: String { file.name }
    public var gguf: GGUFFile? { file }
    public var config: [String: Any]? { nil }

    public init(_ file: GGUFFile) { self.file = file }

    public func tensorIfPresent(_ name: String) throws -> Tensor? {
        guard file.hasTensor(name) else { return nil }
        return try file.tensor(name)
    }
}

/// A Hugging Face folder: config.json and model.safetensors.
public struct SafetensorsWeights: WeightSource, @unchecked Sendable {
    public let file: SafetensorsFile
    public let config: [String: Any]?
    public let folder: String
    public var name: String { folder }
    public var gguf: GGUFFile? { nil }

    public init(folder: String) throws {
        self.folder = folder
        let fm = FileManager.default
        let weights = (folder as NSString).appendingPathComponent("model.safetensors")
        guard fm.fileExists(atPath: weights) else {
            throw ModelError.missingTensor(source: folder, tensor: "model.safetensors (file)")
        }
        file = try SafetensorsFile(path: weights)
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        guard let data = fm.contents(atPath: configPath) else {
            throw ModelError.invalidConfiguration(source: folder, field: "config.json", expected: "a config.json file next to model.safetensors")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.invalidConfiguration(source: configPath, field: "document", expected: "a JSON object")
        }
        config = obj
    }

    public func tensorIfPresent(_ name: String) throws -> Tensor? {
        guard file.hasTensor(name) else { return nil }
        return try file.tensor(name)
    }
}

/// Reading typed configurations from config.json objects.
enum ConfigJSON {
    static func decode<T: Decodable>(_ type: T.Type, from object: [String: Any], source: String) throws -> T {
        do {
            let data = try JSONSerialization.data(withJSONObject: object)
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw ModelError.invalidConfiguration(source: source, field: key.stringValue, expected: "a value (it is missing)")
        } catch let DecodingError.typeMismatch(t, ctx) {
            throw ModelError.invalidConfiguration(source: source, field: ctx.codingPath.map(\.stringValue).joined(separator: "."), expected: "\(t)")
        } catch let DecodingError.valueNotFound(t, ctx) {
            throw ModelError.invalidConfiguration(source: source, field: ctx.codingPath.map(\.stringValue).joined(separator: "."), expected: "\(t), found null")
        } catch {
            throw ModelError.invalidConfiguration(source: source, field: "document", expected: "a valid configuration (\(error))")
        }
    }

    static func positive(_ value: Int, _ field: String, source: String) throws {
        guard value > 0, value < 10_000_000 else {
            throw ModelError.invalidConfiguration(source: source, field: field, expected: "a positive size, found \(value)")
        }
    }
}
