import Foundation
import Testing
import GlassboxTensor
@testable import GlassboxFormats

/// The GGUF reader on the tiny Llama fixtures, checked against gguf-py's view of the same files
/// (`tiny/llama_golden.json`).
struct GGUFTests {
    static let variants = ["f32", "f16", "mixed"]

    static func golden(_ variant: String) throws -> [String: Any] {
        let json = try Fixtures.json("tiny/llama_golden.json")
        let variants = try #require(json["gguf_variants"] as? [String: Any])
        return try #require(variants[variant] as? [String: Any])
    }

    @Test(arguments: variants)
    func metadataMatches(_ variant: String) throws {
        let g = try Self.golden(variant)
        let file = try GGUFFile(path: Fixtures.path("tiny/\(try #require(g["file"] as? String))"))
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        let meta = try #require(g["metadata"] as? [String: [String: Any]])
        #expect(Set(file.metadataKeys) == Set(meta.keys))
        for (key, entry) in meta {
            let type = try #require(entry["type"] as? String)
            let v = try #require(file.value(key), "\(key) missing")
            switch type {
            case "STRING": #expect(try file.string(key) == entry["value"] as? String, "\(key)")
            case "UINT32", "INT32":
                #expect(v.typeName == type)
                #expect(try file.int(key) == entry["value"] as? Int, "\(key)")
            case "FLOAT32":
                #expect(v.typeName == type)
                #expect(Float(try file.float(key)) == Float(try #require(entry["value"] as? Double)), "\(key)")
            case "BOOL": #expect(try file.bool(key) == entry["value"] as? Bool, "\(key)")
            case "ARRAY":
                let spec = try #require(entry["value"] as? [String: Any])
                let arr = try file.array(key)
                #expect(arr.count == spec["len"] as? Int, "\(key) length")
                let first4 = try #require(spec["first4"] as? [Any])
                for (i, want) in first4.enumerated() {
                    if let s = want as? String { #expect(arr[i].stringValue == s, "\(key)[\(i)]") }
                    else if let d = want as? Double { #expect(arr[i].doubleValue == d, "\(key)[\(i)]") }
                }
            default: Issue.record("unexpected metadata type \(type) for \(key)")
            }
        }
        // Typed accessors refuse the wrong type and name the key.
        #expect(throws: FormatError.typeMismatch(file: file.name, field: "general.architecture", expected: "an integer", found: "STRING")) {
            try file.int("general.architecture")
        }
        #expect(throws: FormatError.self) { try file.string("no.such.key") }
        #expect(try file.int("no.such.key", default: 7) == 7)
    }

    @Test(arguments: variants)
    func tensorTableAndValues(_ variant: String) throws {
        let g = try Self.golden(variant)
        let file = try GGUFFile(path: Fixtures.path("tiny/\(try #require(g["file"] as? String))"))
        let table = try #require(g["tensors"] as? [[String: Any]])
        #expect(file.tensors.count == table.count)
        var counts: [GGMLType: Int] = [:]
        for t in table { counts[try #require(GGMLType(name: t["type"] as? String ?? "")), default: 0] += 1 }
        #expect(file.tensorTypeCounts == counts)
        for t in table {
            let info = try file.info(try #require(t["gguf"] as? String))
            #expect(info.type.name == t["type"] as? String, "\(info.name) type")
            #expect(info.dimensions == t["ggml_ne"] as? [Int], "\(info.name) dims")
        }
        for spot in try #require(g["tensor_spot_values"] as? [[String: Any]]) {
            let name = try #require(spot["name"] as? String)
            let info = try file.info(name)
            #expect(info.fileOffset == spot["data_offset_in_file"] as? Int, "\(name) offset")
            #expect(info.byteCount == spot["n_bytes"] as? Int, "\(name) bytes")
            let t = try file.tensor(info)
            #expect(t.shape == info.shape)
            let v = t.scalars
            let sum = v.reduce(0.0) { $0 + Double($1) }, abs = v.reduce(0.0) { $0 + Double(Swift.abs($1)) }
            // Goldens carry 6 significant digits.
            expectClose([Float(sum)], [try #require(spot["sum"] as? Double)], tolerance: 1e-3, relative: 1e-5, "\(name) sum")
            expectClose([Float(abs)], [try #require(spot["abs_sum"] as? Double)], tolerance: 1e-3, relative: 1e-5, "\(name) abs sum")
            let first = try #require(spot["row0_first8"] as? [Double])
            expectClose(Array(v.prefix(first.count)), first, tolerance: 1e-6, relative: 1e-5, "\(name) row 0")
            let last = try #require(spot["row_last_last8"] as? [Double])
            expectClose(Array(v.suffix(last.count)), last, tolerance: 1e-6, relative: 1e-5, "\(name) last row")
        }
    }

    /// Row access gives exactly the rows of the whole-tensor conversion.
    @Test func rowsMatchWholeTensor() throws {
        let file = try GGUFFile(path: Fixtures.path("tiny/llama_mixed.gguf"))
        for name in ["token_embd.weight", "blk.0.attn_q.weight", "blk.1.ffn_up.weight"] {
            let info = try file.info(name)
            let whole = try file.tensor(info).scalars
            var rows = [Float](repeating: 0, count: 3 * info.rowLength)
            try rows.withUnsafeMutableBufferPointer { try file.dequantizeRows(info, 5..<8, into: $0.baseAddress!) }
            #expect(rows == Array(whole[5 * info.rowLength..<8 * info.rowLength]), "\(name)")
            #expect(file.rawRow(info, 5).count == info.rowBytes)
            let gathered = try file.rows(info, [7, 0, 7])
            #expect(gathered.shape == [3, info.rowLength])
            let n = info.rowLength
            #expect(gathered.scalars == Array(whole[7 * n..<8 * n] + whole[0..<n] + whole[7 * n..<8 * n]), "\(name)")
            #expect(throws: FormatError.self) { try file.rows(info, [info.rowCount]) }
        }
    }

    /// F32 tensors borrow the mapping (no copy) and stay valid after the file object is gone.
    @Test func f32TensorsBorrowTheMapping() throws {
        var t: Tensor
        var expectedFirst: Float = 0
        do {
            let file = try GGUFFile(path: Fixtures.path("tiny/llama_f32.gguf"))
            let info = try file.info("token_embd.weight")
            t = try file.tensor(info)
            let raw = file.rawBytes(info)
            expectedFirst = raw.loadUnaligned(as: Float.self)
        }
        #expect(t.shape == [96, 64])
        #expect(t.scalars[0] == expectedFirst)
    }

    /// Writing into a borrowed tensor copies first: other tensors of the same data and later
    /// reads are unaffected.
    @Test func borrowedTensorsAreCopyOnWrite() throws {
        let file = try GGUFFile(path: Fixtures.path("tiny/llama_f32.gguf"))
        let st = try SafetensorsFile(path: Fixtures.path("tiny/llama/model.safetensors"))
        let pairs: [(() throws -> Tensor)] = [{ try file.tensor("output_norm.weight") }, { try st.tensor("model.norm.weight") }]
        for load in pairs {
            var a = try load()
            let b = try load()
            let original = b.scalars
            a.withUnsafeMutableBufferPointer { $0[0] = 12345 }
            #expect(a.scalars[0] == 12345)
            #expect(b.scalars == original)
            #expect(try load().scalars == original)
        }
    }

    /// Needs the model: set GLASSBOX_SMOLLM2_GGUF to the SmolLM2-135M-Instruct.Q4_1.gguf path.
    @Test(.enabled(if: Fixtures.smolLM2 != nil, "GLASSBOX_SMOLLM2_GGUF does not name the SmolLM2 GGUF"))
    func smolLM2DequantMatchesGGUFPy() throws {
        let file = try GGUFFile(path: try #require(Fixtures.smolLM2))
        let json = try Fixtures.json("dequant.json")
        for t in try #require(json["tensors"] as? [[String: Any]]) {
            let name = try #require(t["name"] as? String)
            let info = try file.info(name)
            #expect(info.type.name == t["type"] as? String)
            #expect(info.dimensions == t["ggml_ne"] as? [Int])
            let v = try file.tensor(info).scalars
            let sum = v.reduce(0.0) { $0 + Double($1) }, abs = v.reduce(0.0) { $0 + Double(Swift.abs($1)) }
            expectClose([Float(sum)], [try #require(t["sum"] as? Double)], tolerance: 1e-2, relative: 1e-5, "\(name) sum")
            expectClose([Float(abs)], [try #require(t["abs_sum"] as? Double)], tolerance: 1e-2, relative: 1e-5, "\(name) abs sum")
            let r0 = try #require(t["row0_first8"] as? [Double])
            expectClose(Array(v.prefix(8)), r0, tolerance: 1e-7, relative: 1e-5, "\(name) row 0")
            if let r1 = t["row1_first8"] as? [Double] {
                expectClose(Array(v[info.rowLength..<info.rowLength + 8]), r1, tolerance: 1e-7, relative: 1e-5, "\(name) row 1")
            }
        }
    }
}
