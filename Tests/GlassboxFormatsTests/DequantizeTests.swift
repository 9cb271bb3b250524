import Foundation
import Testing
@testable import GlassboxFormats

/// Bit-exact dequantization against `quant_blocks.json` (gguf-py / ggml reference values).
struct DequantizeTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let type: String
        let typeID: Int
        let blockSize: Int
        let typeSize: Int
        let blocks: [(raw: [UInt8], expected: [UInt32])]
        var testDescription: String { type }
    }

    static let cases: [Case] = {
        guard let json = try? Fixtures.json("quant_blocks.json"), let types = json["types"] as? [[String: Any]] else { return [] }
        return types.map { t in
            let blocks = (t["blocks"] as? [[String: Any]] ?? []).map { b -> ([UInt8], [UInt32]) in
                let raw = [UInt8](Data(base64Encoded: b["raw_base64"] as? String ?? "") ?? Data())
                let f = [UInt8](Data(base64Encoded: b["values_f32le_base64"] as? String ?? "") ?? Data())
                let bits = stride(from: 0, to: f.count, by: 4).map {
                    UInt32(f[$0]) | UInt32(f[$0 + 1]) << 8 | UInt32(f[$0 + 2]) << 16 | UInt32(f[$0 + 3]) << 24
                }
                return (raw, bits)
            }
            return Case(type: t["type"] as? String ?? "?", typeID: t["ggml_type_id"] as? Int ?? -1,
                        blockSize: t["block_size"] as? Int ?? 0, typeSize: t["type_size_bytes"] as? Int ?? 0,
                        blocks: blocks)
        }
    }()

    @Test func fixtureHasEveryRequiredType() {
        let names = Set(Self.cases.map(\.type))
        for required in ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"] {
            #expect(names.contains(required), "quant_blocks.json lacks \(required)")
        }
    }

    @Test(arguments: cases)
    func layoutMatchesGGML(_ c: Case) throws {
        let type = try #require(GGMLType(name: c.type), "unknown type name \(c.type)")
        #expect(Int(type.rawValue) == c.typeID)
        if type.blockSize > 1 {
            #expect(type.blockSize == c.blockSize)
            #expect(type.typeSize == c.typeSize)
        } else {
            #expect(type.typeSize == c.typeSize)
        }
    }

    @Test(arguments: cases.filter { GGMLType(name: $0.type)?.canDequantize == true })
    func bitExact(_ c: Case) throws {
        let type = try #require(GGMLType(name: c.type))
        #expect(!c.blocks.isEmpty)
        for (k, block) in c.blocks.enumerated() {
            let n = block.raw.count / type.typeSize * type.blockSize
            #expect(n == block.expected.count, "\(c.type) block \(k): \(n) elements, expected \(block.expected.count)")
            var out = [Float](repeating: .nan, count: n)
            block.raw.withUnsafeBytes { src in
                out.withUnsafeMutableBufferPointer { dst in
                    Dequantize.convert(type, from: src.baseAddress!, count: n, into: dst.baseAddress!)
                }
            }
            let mismatches = zip(out, block.expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1 }
            #expect(mismatches.isEmpty,
                    "\(c.type) block \(k): \(mismatches.count) of \(n) values differ; first at \(mismatches.first?.offset ?? -1): \(mismatches.first.map { "\($0.element.0) vs \(Float(bitPattern: $0.element.1))" } ?? "")")
        }
    }

    /// The parallel path (two threads over block ranges) gives the same bits as the serial one.
    @Test(arguments: [GGMLType.q4_1, .q6_K, .q8_0])
    func parallelEqualsSerial(_ type: GGMLType) {
        let elements = Dequantize.parallelThreshold + 4 * 256
        let blocks = elements / type.blockSize
        var rng = SplitMix(seed: 7)
        var raw = [UInt8](repeating: 0, count: blocks * type.typeSize)
        for i in raw.indices { raw[i] = UInt8(truncatingIfNeeded: rng.next()) }
        // Keep the f16 scales finite so that the comparison is meaningful.
        let scaleOffsets: [Int] = type == .q6_K ? [208] : [0]
        for b in 0..<blocks { for o in scaleOffsets { raw[b * type.typeSize + o + 1] &= 0x3B } }
        var parallel = [Float](repeating: 0, count: elements)
        var serial = [Float](repeating: 0, count: elements)
        raw.withUnsafeBytes { src in
            parallel.withUnsafeMutableBufferPointer { Dequantize.convert(type, from: src.baseAddress!, count: elements, into: $0.baseAddress!) }
            serial.withUnsafeMutableBufferPointer { Dequantize.convertSerial(type, from: src.baseAddress!, blocks: blocks, into: $0.baseAddress!) }
        }
        #expect(parallel.map(\.bitPattern) == serial.map(\.bitPattern))
        #expect(serial.contains { $0 != 0 })
    }

    @Test func unsupportedTypesAreNamed() {
        #expect(!GGMLType.iq2_xxs.canDequantize)
        #expect(GGMLType(name: "IQ2_XXS") == .iq2_xxs)
        #expect(GGMLType(name: "Q4_K") == .q4_K)
        #expect(GGMLType.q4_K.name == "Q4_K")
        #expect(GGMLType.q4_K.rowBytes(576) == nil)
        #expect(GGMLType.q4_K.rowBytes(512) == 288)
    }
}

/// Small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
