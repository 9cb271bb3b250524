import Foundation
import GlassboxTensor

/// Named Float32 tensors read from a checkpoint, whatever its format.
public protocol TensorFile: Sendable {
    /// Name used in error messages.
    var name: String { get }
    /// Tensor names in file order.
    var tensorNames: [String] { get }
    func hasTensor(_ name: String) -> Bool
    /// Row-major shape of a tensor.
    func shape(of name: String) throws -> [Int]
    /// The tensor as Float32 (borrowed from the mapping when it is stored as aligned F32).
    func tensor(_ name: String) throws -> Tensor
}

extension GGUFFile: TensorFile {
    public var tensorNames: [String] { tensors.map(\.name) }
    public func shape(of tensorName: String) throws -> [Int] { try info(tensorName).shape }
}

extension SafetensorsFile: TensorFile {
    public var tensorNames: [String] { tensors.map(\.name) }
    public func shape(of tensorName: String) throws -> [Int] { try info(tensorName).shape }
}

/// A Hugging Face checkpoint folder: `model.safetensors`, or the shards listed by
/// `model.safetensors.index.json` (`weight_map`: tensor name → shard file).
public final class SafetensorsCheckpoint: TensorFile, @unchecked Sendable {
    public let name: String
    public let shards: [SafetensorsFile]
    private let owner: [String: Int]
    public let tensorNames: [String]

    public init(folder: String) throws {
        let dir = URL(fileURLWithPath: folder)
        self.name = dir.lastPathComponent
        let single = dir.appendingPathComponent("model.safetensors").path
        let indexPath = dir.appendingPathComponent("model.safetensors.index.json").path
        let fm = FileManager.default
        if fm.fileExists(atPath: single) {
            let f = try SafetensorsFile(path: single)
            shards = [f]
            tensorNames = f.tensorNames
            owner = Dictionary(uniqueKeysWithValues: f.tensorNames.map { ($0, 0) })
            return
        }
        guard fm.fileExists(atPath: indexPath) else {
            throw FormatError.missing(file: folder, field: "model.safetensors", expected: "model.safetensors or model.safetensors.index.json in the folder")
        }
        let root = try TokenizerLoader.readJSONObject(indexPath)
        guard let map = root["weight_map"] as? [String: String] else {
            throw FormatError.badJSON(file: "model.safetensors.index.json", field: "weight_map", expected: "an object of tensor name → shard file")
        }
        let files = Array(Set(map.values)).sorted()
        for f in files where f.contains("/") || f.hasPrefix(".") {
            throw FormatError.invalidValue(file: "model.safetensors.index.json", field: "weight_map", value: f,
                                           expected: "a file name inside the folder")
        }
        shards = try files.map { try SafetensorsFile(path: dir.appendingPathComponent($0).path) }
        var owner: [String: Int] = [:]
        var names: [String] = []
        for (k, shard) in shards.enumerated() {
            for n in shard.tensorNames where map[n] == files[k] {
                owner[n] = k
                names.append(n)
            }
        }
        for (n, f) in map where owner[n] == nil {
            throw FormatError.missing(file: f, field: "tensor \(n)", expected: "the tensor that model.safetensors.index.json places in this shard")
        }
        self.owner = owner
        self.tensorNames = names
    }

    private func shard(_ tensorName: String) throws -> SafetensorsFile {
        guard let k = owner[tensorName] else {
            throw FormatError.missing(file: name, field: "tensor \(tensorName)", expected: "a tensor of that name")
        }
        return shards[k]
    }

    public func hasTensor(_ tensorName: String) -> Bool { owner[tensorName] != nil }
    public func shape(of tensorName: String) throws -> [Int] { try shard(tensorName).shape(of: tensorName) }
    public func tensor(_ tensorName: String) throws -> Tensor { try shard(tensorName).tensor(tensorName) }
}
