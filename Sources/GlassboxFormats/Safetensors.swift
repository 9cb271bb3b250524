import Foundation
import GlassboxTensor

/// Element type of a safetensors tensor.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", u16 = "U16", u32 = "U32", u64 = "U64", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }

    /// Whether ``SafetensorsFile/tensor(_:)`` converts this type to Float32.
    public var canConvert: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// One tensor of a safetensors file.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Row-major shape.
    public let shape: [Int]
    /// Byte offset from the start of the file.
    public let fileOffset: Int
    public let byteCount: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file (`u64 header length | JSON header | data`), memory-mapped and validated:
/// header length, every dtype, shape and `data_offsets` pair was checked when it was opened.
public final class SafetensorsFile: @unchecked Sendable {
    public let file: MappedFile
    /// Tensors sorted by their position in the file.
    public let tensors: [SafetensorsTensorInfo]
    /// The free-form `__metadata__` string map.
    public let metadata: [String: String]
    public let dataOffset: Int
    private let index: [String: Int]
    private let borrowed = StorageCache()

    /// Largest header accepted (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    public var name: String { file.name }

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let name = file.name
        var c = ByteCursor(file)
        let n = try c.read(UInt64.self, field: "header length")
        guard n >= 2, n <= UInt64(SafetensorsFile.maxHeaderBytes), n <= UInt64(c.remaining) else {
            throw FormatError.invalidValue(file: name, field: "header length", value: String(n),
                                           expected: "2…\(min(SafetensorsFile.maxHeaderBytes, c.remaining)) bytes (file has \(file.count))")
        }
        let headerBytes = try c.bytes(Int(n), field: "JSON header")
        self.dataOffset = 8 + Int(n)
        let dataSize = file.count - dataOffset
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(headerBytes), options: [])
        } catch {
            throw FormatError.badJSON(file: name, field: "header", expected: "valid JSON (\(error.localizedDescription))")
        }
        guard let header = json as? [String: Any] else {
            throw FormatError.badJSON(file: name, field: "header", expected: "a JSON object of tensors")
        }
        var meta: [String: String] = [:]
        var infos: [SafetensorsTensorInfo] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw FormatError.badJSON(file: name, field: "__metadata__", expected: "an object of strings")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw FormatError.badJSON(file: name, field: "__metadata__.\(k)", expected: "a string")
                    }
                    meta[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw FormatError.badJSON(file: name, field: key, expected: "an object with dtype, shape, data_offsets")
            }
            guard let ds = entry["dtype"] as? String, let dtype = SafetensorsDType(rawValue: ds) else {
                throw FormatError.badJSON(file: name, field: "\(key).dtype", expected: "one of \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")), found \(String(describing: entry["dtype"] ?? "nothing"))")
            }
            guard let shapeAny = entry["shape"] as? [Any], shapeAny.count <= 8 else {
                throw FormatError.badJSON(file: name, field: "\(key).shape", expected: "an array of at most 8 dimensions")
            }
            var shape: [Int] = []
            var count = 1
            for d in shapeAny {
                guard let n = SafetensorsFile.jsonInt(d), n >= 0, n <= Int(Int32.max) else {
                    throw FormatError.badJSON(file: name, field: "\(key).shape", expected: "non-negative dimensions below 2^31, found \(d)")
                }
                let (m, o) = count.multipliedReportingOverflow(by: n)
                guard !o else {
                    throw FormatError.badJSON(file: name, field: "\(key).shape", expected: "an element count that fits in 64 bits")
                }
                count = m
                shape.append(n)
            }
            guard let offs = entry["data_offsets"] as? [Any], offs.count == 2,
                  let begin = SafetensorsFile.jsonInt(offs[0]), let end = SafetensorsFile.jsonInt(offs[1]),
                  begin >= 0, begin <= end, end <= dataSize else {
                throw FormatError.badJSON(file: name, field: "\(key).data_offsets",
                                          expected: "[begin, end] with 0 ≤ begin ≤ end ≤ \(dataSize) (the data size)")
            }
            let (bytes, o) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !o, bytes == end - begin else {
                throw FormatError.invalidValue(file: name, field: "\(key).data_offsets", value: "[\(begin), \(end)]",
                                               expected: "\(o ? "a sane size" : String(bytes)) bytes for shape \(shape) \(dtype.rawValue)")
            }
            infos.append(SafetensorsTensorInfo(name: key, dtype: dtype, shape: shape, fileOffset: dataOffset + begin, byteCount: bytes))
        }
        infos.sort { ($0.fileOffset, $0.byteCount, $0.name) < ($1.fileOffset, $1.byteCount, $1.name) }
        for (a, b) in zip(infos, infos.dropFirst()) where a.byteCount > 0 && a.fileOffset + a.byteCount > b.fileOffset {
            throw FormatError.invalidValue(file: name, field: "\(b.name).data_offsets", value: String(b.fileOffset - dataOffset),
                                           expected: "data not overlapping tensor \(a.name)")
        }
        self.tensors = infos
        self.metadata = meta
        self.index = Dictionary(uniqueKeysWithValues: infos.enumerated().map { ($1.name, $0) })
    }

    /// An integer from a JSON number (integral values only).
    static func jsonInt(_ x: Any) -> Int? {
        if let n = x as? NSNumber {
            let d = n.doubleValue
            guard d.rounded() == d, abs(d) < 9.0e15 else { return nil }
            return n.intValue
        }
        return nil
    }

    public func info(_ tensorName: String) throws -> SafetensorsTensorInfo { try file.lookup(tensorName, in: index, tensors) }

    public func hasTensor(_ tensorName: String) -> Bool { index[tensorName] != nil }

    /// The raw bytes of a tensor inside the mapping (valid while this file is alive).
    public func rawBytes(_ info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer { file.region(info.fileOffset, info.byteCount) }

    public func tensor(_ tensorName: String) throws -> Tensor { try tensor(info(tensorName)) }

    /// The tensor as Float32. F32 data aligned to 4 bytes is borrowed from the mapping without a copy.
    public func tensor(_ info: SafetensorsTensorInfo) throws -> Tensor {
        let n = info.elementCount
        switch info.dtype {
        case .f32:
            return file.borrowedFloats(at: info.fileOffset, count: n, shape: info.shape, cache: borrowed) ?? convert(info, .f32)
        case .f16: return convert(info, .f16)
        case .bf16: return convert(info, .bf16)
        default:
            throw FormatError.unsupportedType(file: name, tensor: info.name, type: info.dtype.rawValue)
        }
    }

    private func convert(_ info: SafetensorsTensorInfo, _ type: GGMLType) -> Tensor {
        Tensor(shape: info.shape) { buf in
            guard let dst = buf.baseAddress, let src = rawBytes(info).baseAddress else { return }
            Dequantize.convert(type, from: src, count: info.elementCount, into: dst)
        }
    }
}
