import Foundation
import Testing
import GlassboxTensor
@testable import GlassboxFormats

/// A minimal GGUF writer for building well-formed and deliberately broken files.
struct GGUFBuilder {
    var version: UInt32 = 3
    var bytes: [UInt8] = []
    var kvs: [[UInt8]] = []
    var infos: [[UInt8]] = []
    var data: [UInt8] = []
    var alignment = 32

    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { u64(UInt64(s.utf8.count)) + Array(s.utf8) }

    mutating func kv(_ key: String, type: UInt32, _ payload: [UInt8]) {
        kvs.append(Self.str(key) + Self.u32(type) + payload)
    }

    /// A tensor whose data is appended (aligned) to the data section.
    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, data payload: [UInt8]) {
        while data.count % alignment != 0 { data.append(0) }
        infos.append(Self.str(name) + Self.u32(UInt32(dims.count)) + dims.flatMap(Self.u64) + Self.u32(type) + Self.u64(UInt64(data.count)))
        data += payload
    }

    func build() -> [UInt8] {
        var out = Array("GGUF".utf8) + Self.u32(version) + Self.u64(UInt64(infos.count)) + Self.u64(UInt64(kvs.count))
        out += kvs.flatMap { $0 } + infos.flatMap { $0 }
        while out.count % alignment != 0 { out.append(0) }
        return out + data
    }
}

struct RobustnessTests {
    static func open(_ bytes: [UInt8], name: String = "test.gguf") throws -> GGUFFile {
        try bytes.withUnsafeBytes { try GGUFFile(file: MappedFile(copying: $0, name: name)) }
    }

    static func openST(_ bytes: [UInt8], name: String = "test.safetensors") throws -> SafetensorsFile {
        try bytes.withUnsafeBytes { try SafetensorsFile(file: MappedFile(copying: $0, name: name)) }
    }

    static func valid() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.kv("general.architecture", type: 8, GGUFBuilder.str("llama"))
        b.kv("nested", type: 9, GGUFBuilder.u32(9) + GGUFBuilder.u64(2)
             + GGUFBuilder.u32(8) + GGUFBuilder.u64(1) + GGUFBuilder.str("a")
             + GGUFBuilder.u32(5) + GGUFBuilder.u64(2) + GGUFBuilder.u32(7) + GGUFBuilder.u32(UInt32(bitPattern: -3)))
        b.kv("f64", type: 12, GGUFBuilder.u64(Double(2.5).bitPattern))
        b.kv("flag", type: 7, [1])
        b.kv("i16", type: 3, [0xFE, 0xFF])
        b.tensor("w", dims: [4, 2], type: 0, data: (0..<8).flatMap { GGUFBuilder.u32(Float($0).bitPattern) })
        return b
    }

    @Test(arguments: [UInt32(2), 3])
    func builderFileParses(version: UInt32) throws {
        var b = Self.valid()
        b.version = version
        let f = try Self.open(b.build())
        #expect(f.version == Int(version))
        #expect(try f.string("general.architecture") == "llama")
        let nested = try f.array("nested")
        #expect(nested == [.array(elementType: .string, values: [.string("a")]),
                           .array(elementType: .int32, values: [.int32(7), .int32(-3)])])
        #expect(try f.float("f64") == 2.5)
        #expect(try f.bool("flag"))
        #expect(try f.int("i16") == -2)
        #expect(try f.tensor("w").scalars == (0..<8).map(Float.init))
        #expect(try f.tensor("w").shape == [2, 4])
    }

    /// Empty tensors (a zero dimension) are legal and read as empty tensors.
    @Test func zeroSizedTensors() throws {
        var b = Self.valid()
        b.tensor("empty_rows", dims: [4, 0], type: 0, data: [])
        b.tensor("empty_q", dims: [0, 3], type: 2, data: [])
        let f = try Self.open(b.build())
        #expect(try f.tensor("empty_rows").shape == [0, 4])
        #expect(try f.tensor("empty_q").shape == [3, 0])
        #expect(try f.tensor("empty_q").count == 0)
        #expect(try f.tensor("w").scalars == (0..<8).map(Float.init))
    }

    /// Each broken file gives the named error; none crashes.
    @Test func brokenFilesGiveClearErrors() throws {
        let good = Self.valid().build()
        func expectError(_ bytes: [UInt8], _ check: (FormatError) -> Bool, _ what: String) {
            do {
                _ = try Self.open(bytes)
                Issue.record("\(what): opened without error")
            } catch let e as FormatError {
                #expect(check(e), "\(what): unexpected \(e)")
                #expect(e.description.contains("test.gguf"), "\(what): message does not name the file: \(e)")
            } catch {
                Issue.record("\(what): non-FormatError \(error)")
            }
        }
        expectError([], { if case .truncated(_, "magic", _, _, _) = $0 { return true }; return false }, "empty")
        expectError(Array("GGML".utf8) + Array(good.dropFirst(4)), { if case .badMagic = $0 { return true }; return false }, "magic")
        var v1 = good; v1[4] = 1
        expectError(v1, { if case .unsupportedVersion(_, 1, _) = $0 { return true }; return false }, "version 1")
        var be = good; be[4] = 0; be[7] = 3
        expectError(be, { if case .unsupportedVersion(_, 3, let s) = $0 { return s.contains("big-endian") }; return false }, "big-endian")
        var manyTensors = good; manyTensors.replaceSubrange(8..<16, with: GGUFBuilder.u64(1 << 60))
        expectError(manyTensors, { if case .invalidValue(_, "tensor_count", _, _) = $0 { return true }; return false }, "tensor count")
        var manyKV = good; manyKV.replaceSubrange(16..<24, with: GGUFBuilder.u64(UInt64.max))
        expectError(manyKV, { if case .invalidValue(_, "metadata_kv_count", _, _) = $0 { return true }; return false }, "kv count")
        var longKey = good; longKey.replaceSubrange(24..<32, with: GGUFBuilder.u64(1 << 62))
        expectError(longKey, { if case .truncated = $0 { return true }; return false }, "key length")
        for cut in [3, 10, 30, 60, 120, good.count - 40, good.count - 1] {
            expectError(Array(good.prefix(cut)), { _ in true }, "cut at \(cut)")
        }

        var b = Self.valid(); b.kv("general.alignment", type: 4, GGUFBuilder.u32(24))
        expectError(b.build(), { if case .invalidValue(_, "general.alignment", _, _) = $0 { return true }; return false }, "alignment")
        b = Self.valid(); b.kv("x", type: 13, [])
        expectError(b.build(), { if case .invalidValue(_, "type of metadata x", _, _) = $0 { return true }; return false }, "value type")
        b = Self.valid(); b.kv("x", type: 7, [2])
        expectError(b.build(), { if case .invalidValue(_, "x", _, _) = $0 { return true }; return false }, "bool")
        b = Self.valid(); b.kv("general.architecture", type: 8, GGUFBuilder.str("again"))
        expectError(b.build(), { if case .invalidValue = $0 { return true }; return false }, "duplicate key")
        b = Self.valid(); b.kv("arr", type: 9, GGUFBuilder.u32(8) + GGUFBuilder.u64(1 << 40))
        expectError(b.build(), { if case .invalidValue(_, "length of arr", _, _) = $0 { return true }; return false }, "array length")
        var deep: [UInt8] = GGUFBuilder.u32(8) + GGUFBuilder.u64(0)
        for _ in 0..<12 { deep = GGUFBuilder.u32(9) + GGUFBuilder.u64(1) + deep }
        b = Self.valid(); b.kv("deep", type: 9, deep)
        expectError(b.build(), { if case .invalidValue = $0 { return true }; return false }, "nesting")
        b = Self.valid(); b.tensor("t", dims: [32, 2], type: 77, data: [])
        expectError(b.build(), { if case .invalidValue(_, "type of tensor t", _, _) = $0 { return true }; return false }, "tensor type")
        b = Self.valid(); b.tensor("t", dims: [1, 1, 1, 1, 1], type: 0, data: [0, 0, 0, 0])
        expectError(b.build(), { if case .invalidValue(_, "n_dims of tensor t", _, _) = $0 { return true }; return false }, "n_dims")
        b = Self.valid(); b.tensor("t", dims: [33], type: 2, data: [])
        expectError(b.build(), { if case .invalidValue(_, "ne[0] of tensor t", _, _) = $0 { return true }; return false }, "block multiple")
        b = Self.valid(); b.tensor("t", dims: [1 << 30, 1 << 30], type: 0, data: [])
        expectError(b.build(), { if case .invalidValue(_, "size of tensor t", _, _) = $0 { return true }; return false }, "absurd dims")
        b = Self.valid(); b.tensor("t", dims: [64], type: 0, data: [1, 2, 3, 4])
        expectError(b.build(), { if case .truncated(_, let f, _, _, _) = $0 { return f.hasPrefix("data of tensor t") }; return false }, "data past end")
        b = Self.valid(); b.tensor("w", dims: [1], type: 0, data: [0, 0, 0, 0])
        expectError(b.build(), { if case .invalidValue(_, "tensor name w", _, _) = $0 { return true }; return false }, "duplicate tensor")
        b = Self.valid(); b.tensor("t", dims: [8], type: 0, data: [])
        b.infos[b.infos.count - 1].replaceSubrange((b.infos.last!.count - 8)..., with: GGUFBuilder.u64(0))
        b.data += [UInt8](repeating: 0, count: 32)
        expectError(b.build(), { if case .invalidValue(_, "offset of tensor t", _, let e) = $0 { return e.contains("overlapping") }; return false }, "overlap")
        b = Self.valid(); b.tensor("t", dims: [256], type: UInt32(GGMLType.iq2_xxs.rawValue), data: [UInt8](repeating: 0, count: 66))
        let f = try Self.open(b.build())
        #expect(throws: FormatError.unsupportedType(file: "test.gguf", tensor: "t", type: "IQ2_XXS")) { try f.tensor("t") }
    }

    @Test func brokenSafetensorsGiveClearErrors() throws {
        let ok = SafetensorsTests.build([("a", "F32", [2], SafetensorsTests.le([UInt32(0), 0]))])
        #expect(try Self.openST(ok).tensor("a").scalars == [0, 0])
        func header(_ json: String, data: Int = 16) -> [UInt8] {
            let j = Array(json.utf8)
            return GGUFBuilder.u64(UInt64(j.count)) + j + [UInt8](repeating: 0, count: data)
        }
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "header length"),
            ("short", [1, 0, 0], "header length"),
            ("huge length", GGUFBuilder.u64(1 << 40) + [0x7B, 0x7D], "header length"),
            ("length past end", GGUFBuilder.u64(100) + Array("{}".utf8), "header length"),
            ("not JSON", header("{\"a\": [1,"), "header"),
            ("not object", header("[1, 2]"), "header"),
            ("bad dtype", header(#"{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}"#), "a.dtype"),
            ("negative dim", header(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#), "a.shape"),
            ("fractional dim", header(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#), "a.shape"),
            ("absurd dims", header(#"{"a":{"dtype":"F32","shape":[2000000000,2000000000,2000000000],"data_offsets":[0,4]}}"#), "a.shape"),
            ("offsets past end", header(#"{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#), "a.data_offsets"),
            ("reversed offsets", header(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#), "a.data_offsets"),
            ("size mismatch", header(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#), "a.data_offsets"),
            ("overlap", header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}"#), "b.data_offsets"),
            ("bad metadata", header(#"{"__metadata__":{"k":1}}"#), "__metadata__.k"),
            ("entry not object", header(#"{"a":3}"#), "a"),
            ("deep nesting", header("{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"), "header"),
        ]
        for (what, bytes, field) in cases {
            do {
                _ = try Self.openST(bytes)
                Issue.record("\(what): opened without error")
            } catch let e as FormatError {
                switch e {
                case let .invalidValue(_, f, _, _), let .badJSON(_, f, _), let .truncated(_, f, _, _, _):
                    #expect(f == field, "\(what): \(e)")
                default: Issue.record("\(what): unexpected \(e)")
                }
                #expect(e.description.contains("test.safetensors"))
            }
        }
    }

    /// Seeded random mutations of the real fixtures: the readers either open the file and read
    /// every tensor, or throw a `FormatError`; nothing crashes, and nothing allocates more than
    /// a small multiple of the file size.
    @Test(arguments: [("tiny/llama_mixed.gguf", UInt64(1)), ("tiny/llama_f16.gguf", 2), ("tiny/gpt2/model.safetensors", 3)])
    func fuzz(_ fixture: String, _ seed: UInt64) throws {
        let original = try Fixtures.bytes(fixture)
        let isGGUF = fixture.hasSuffix(".gguf")
        // Where the structure lives: the whole GGUF header section, the safetensors JSON header.
        let headerEnd: Int
        if isGGUF {
            let f = try Self.open(original)
            headerEnd = f.dataOffset
        } else {
            headerEnd = 8 + Int(original.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        }
        var rng = SplitMix(seed: seed)
        var opened = 0, rejected = 0
        let interesting: [[UInt8]] = [[0xFF], [0x00], [0x7F], [0x80], GGUFBuilder.u64(UInt64.max), GGUFBuilder.u64(1 << 31),
                                      GGUFBuilder.u32(UInt32.max), Array("-1".utf8), Array("9".utf8), Array("\"".utf8), Array("]".utf8)]
        let iterations = 1500
        for _ in 0..<iterations {
            var bytes = original
            for _ in 0..<(1 + rng.below(4)) {
                let inHeader = rng.below(10) < 9
                let pos = rng.below(inHeader ? min(headerEnd, bytes.count) : bytes.count)
                switch rng.below(5) {
                case 0: bytes[pos] ^= UInt8(1) << UInt8(rng.below(8))
                case 1: bytes[pos] = UInt8(truncatingIfNeeded: rng.next())
                case 2:
                    let v = interesting[rng.below(interesting.count)]
                    for (k, x) in v.enumerated() where pos + k < bytes.count { bytes[pos + k] = x }
                case 3: bytes.removeSubrange(min(pos, bytes.count - 1)...)
                default:
                    let n = 1 + rng.below(16)
                    if rng.below(2) == 0 { bytes.removeSubrange(pos..<min(bytes.count, pos + n)) }
                    else { bytes.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: pos) }
                }
                if bytes.isEmpty { break }
            }
            do {
                var elements = 0
                if isGGUF {
                    let f = try Self.open(bytes)
                    for info in f.tensors where info.type.canDequantize {
                        let t = try f.tensor(info)
                        elements += t.count
                    }
                } else {
                    let f = try Self.openST(bytes)
                    for info in f.tensors where info.dtype.canConvert {
                        elements += try f.tensor(info).count
                    }
                }
                #expect(elements * 4 <= 32 * max(bytes.count, 1), "tensors of \(elements) floats from \(bytes.count) bytes")
                opened += 1
            } catch is FormatError {
                rejected += 1
            }
        }
        #expect(opened + rejected == iterations)
        #expect(rejected > iterations / 10, "mutations should usually break the header (\(rejected) rejected)")
    }
}
