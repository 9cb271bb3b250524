import Foundation
import Testing
import GlassboxTensor
@testable import GlassboxFormats

struct SafetensorsTests {
    /// Builds a safetensors file from (name, dtype, shape, raw bytes) entries.
    static func build(_ entries: [(String, String, [Int], [UInt8])], metadata: [String: String]? = nil) -> [UInt8] {
        var header: [String] = []
        var data: [UInt8] = []
        for (name, dtype, shape, bytes) in entries {
            header.append("\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(data.count),\(data.count + bytes.count)]}")
            data += bytes
        }
        if let metadata {
            header.append("\"__metadata__\":{" + metadata.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}")
        }
        var json = Array(("{" + header.joined(separator: ",") + "}").utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        out += json
        out += data
        return out
    }

    static func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    /// The tiny Llama's safetensors and F32 GGUF hold the same weights; tensors that the GGUF
    /// converter does not permute must be identical.
    @Test func tinyLlamaMatchesItsGGUF() throws {
        let st = try SafetensorsFile(path: Fixtures.path("tiny/llama/model.safetensors"))
        let gguf = try GGUFFile(path: Fixtures.path("tiny/llama_f32.gguf"))
        let pairs = [("model.embed_tokens.weight", "token_embd.weight"), ("lm_head.weight", "output.weight"),
                     ("model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight"),
                     ("model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight"),
                     ("model.norm.weight", "output_norm.weight")]
        for (hf, gg) in pairs {
            let a = try st.tensor(hf), b = try gguf.tensor(gg)
            #expect(a.shape == b.shape, "\(hf)")
            #expect(a.scalars == b.scalars, "\(hf)")
        }
        let golden = try Fixtures.json("tiny/llama_golden.json")
        let keys = try #require((golden["provenance"] as? [String: Any])?["safetensors_keys"] as? [String: [String: Any]])
        #expect(Set(st.tensors.map(\.name)) == Set(keys.keys))
        for (k, v) in keys {
            let info = try st.info(k)
            #expect(info.dtype.rawValue == v["dtype"] as? String)
            #expect(info.shape == v["shape"] as? [Int])
        }
    }

    @Test(arguments: ["gpt2", "bert"])
    func tinyCheckpointsOpen(_ model: String) throws {
        let st = try SafetensorsFile(path: Fixtures.path("tiny/\(model)/model.safetensors"))
        #expect(!st.tensors.isEmpty)
        for info in st.tensors {
            let t = try st.tensor(info)
            #expect(t.shape == info.shape)
            let finite = t.scalars.allSatisfy { $0.isFinite }
            #expect(finite, "\(info.name)")
        }
    }

    @Test func halfTypesAndMetadata() throws {
        let f16: [UInt16] = [0x3C00, 0xC100, 0x0001, 0x7BFF]          // 1, -2.5, 2^-24, 65504
        let bf16: [UInt16] = [0x3F80, 0xC020, 0x4049, 0x0000]         // 1, -2.5, 3.140625, 0
        let f32: [UInt32] = [Float(0.5).bitPattern, Float(-7).bitPattern]
        let bytes = Self.build([("a", "F16", [2, 2], Self.le(f16)), ("b", "BF16", [4], Self.le(bf16)),
                                ("c", "F32", [2], Self.le(f32)), ("ids", "I64", [1], Self.le([Int64(3)]))],
                               metadata: ["format": "pt"])
        let path = try Fixtures.temporaryFile(bytes, suffix: ".safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let st = try SafetensorsFile(path: path)
        #expect(st.metadata == ["format": "pt"])
        #expect(try st.tensor("a").scalars == [1, -2.5, 0x1p-24, 65504])
        #expect(try st.tensor("a").shape == [2, 2])
        #expect(try st.tensor("b").scalars == [1, -2.5, 3.140625, 0])
        #expect(try st.tensor("c").scalars == [0.5, -7])
        #expect(throws: FormatError.unsupportedType(file: st.name, tensor: "ids", type: "I64")) { try st.tensor("ids") }
        #expect(throws: FormatError.self) { try st.tensor("missing") }
    }
}

struct CheckpointTests {
    @Test func singleFileFolder() throws {
        let ckpt = try SafetensorsCheckpoint(folder: Fixtures.path("tiny/llama"))
        let file = try SafetensorsFile(path: Fixtures.path("tiny/llama/model.safetensors"))
        #expect(ckpt.tensorNames == file.tensorNames)
        #expect(try ckpt.tensor("model.norm.weight").scalars == file.tensor("model.norm.weight").scalars)
        let asProtocol: any TensorFile = ckpt
        #expect(try asProtocol.shape(of: "lm_head.weight") == [96, 64])
    }

    @Test func shardedFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let one: [UInt32] = [Float(1).bitPattern, Float(2).bitPattern]
        let two: [UInt16] = [0x4200]  // 3.0 as F16
        try Data(SafetensorsTests.build([("a", "F32", [2], SafetensorsTests.le(one))])).write(to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try Data(SafetensorsTests.build([("b", "F16", [1], SafetensorsTests.le(two))])).write(to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index = #"{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let ckpt = try SafetensorsCheckpoint(folder: dir.path)
        #expect(Set(ckpt.tensorNames) == ["a", "b"])
        #expect(try ckpt.tensor("a").scalars == [1, 2])
        #expect(try ckpt.tensor("b").scalars == [3])
        #expect(throws: FormatError.self) { try ckpt.tensor("c") }
        // An index naming a tensor its shard lacks is an error.
        let lying = #"{"weight_map":{"a":"model-00001-of-00002.safetensors","zz":"model-00002-of-00002.safetensors"}}"#
        try Data(lying.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        #expect(throws: FormatError.missing(file: "model-00002-of-00002.safetensors", field: "tensor zz",
                                            expected: "the tensor that model.safetensors.index.json places in this shard")) {
            try SafetensorsCheckpoint(folder: dir.path)
        }
    }
}
