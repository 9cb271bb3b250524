import Foundation
import GlassboxTensor

/// The type code of a GGUF metadata value.
public enum GGUFValueType: UInt32, Sendable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    public var description: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }

    /// Smallest number of bytes a value of this type takes in the file.
    var minimumSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8
        case .array: return 12
        }
    }
}

/// One GGUF metadata value.
public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    /// An array of values that all have `elementType` (arrays of arrays nest).
    case array(elementType: GGUFValueType, values: [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// The value as an integer, if it is one of the integer types and fits in `Int`.
    public var intValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(exactly: v)
        default: return nil
        }
    }

    /// The value as a floating-point number (floats and integers).
    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return intValue.map(Double.init)
        }
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    public var arrayValue: [GGUFValue]? {
        if case let .array(_, values) = self { return values }
        return nil
    }

    /// A short human-readable type, e.g. `ARRAY[STRING]`.
    public var typeName: String {
        if case let .array(t, _) = self { return "ARRAY[\(t)]" }
        return type.description
    }

    public var description: String {
        switch self {
        case let .string(s): return "\"\(s)\""
        case let .array(t, values):
            let head = values.prefix(8).map(\.description).joined(separator: ", ")
            return "[\(t) × \(values.count): \(head)\(values.count > 8 ? ", …" : "")]"
        case let .bool(b): return String(b)
        case let .float32(v): return String(v)
        case let .float64(v): return String(v)
        default: return String(intValue ?? 0)
        }
    }
}

/// Where a tensor lives in a GGUF file and what it holds.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml dimensions, fastest-varying first (`ne[0]` is the row length).
    public let dimensions: [Int]
    public let type: GGMLType
    /// Byte offset from the start of the data section.
    public let offset: Int
    /// Byte offset from the start of the file.
    public let fileOffset: Int
    public let elementCount: Int
    public let byteCount: Int

    /// Row-major shape (the ggml dimensions reversed): a 2-D weight with `ne = [in, out]` has shape `[out, in]`.
    public var shape: [Int] { dimensions.reversed() }
    /// Elements per row (`ne[0]`).
    public var rowLength: Int { dimensions.first ?? 1 }
    /// Number of rows (all dimensions but the first).
    public var rowCount: Int { rowLength == 0 ? 0 : elementCount / rowLength }
    /// Bytes per row.
    public var rowBytes: Int { rowLength / type.blockSize * type.typeSize }
}

/// A GGUF (v2 or v3) file, memory-mapped and validated: every offset, size, count and
/// dimension was checked against the file size when it was opened.
public final class GGUFFile: @unchecked Sendable {
    /// The mapping; tensors that borrow from the file keep it alive.
    public let file: MappedFile
    public let version: Int
    /// Metadata in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Start of the data section in the file.
    public let dataOffset: Int
    private let tensorIndex: [String: Int]
    private let borrowed = StorageCache()

    /// Deepest nesting of metadata arrays accepted.
    public static let maxArrayDepth = 8
    /// Most elements of one metadata array (real vocabularies and merge lists have < 1 M).
    public static let maxArrayLength = 1 << 24
    /// Most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
    public static let maxDimensions = 4

    public var name: String { file.name }

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let name = file.name
        var c = ByteCursor(file)

        let magic = try c.bytes(4, field: "magic")
        guard Array(magic) == Array("GGUF".utf8) else {
            throw FormatError.badMagic(file: name, expected: "\"GGUF\"", found: GGUFFile.show(magic))
        }
        let rawVersion = try c.read(UInt32.self, field: "version")
        if rawVersion == 1 {
            throw FormatError.unsupportedVersion(file: name, version: 1, supported: "2 or 3 (v1 used 32-bit counts)")
        }
        guard rawVersion == 2 || rawVersion == 3 else {
            if rawVersion.byteSwapped == 2 || rawVersion.byteSwapped == 3 {
                throw FormatError.unsupportedVersion(file: name, version: Int(rawVersion.byteSwapped),
                                                     supported: "a little-endian file (this one is big-endian)")
            }
            throw FormatError.unsupportedVersion(file: name, version: Int(rawVersion), supported: "2 or 3")
        }
        self.version = Int(rawVersion)

        let tensorCount = try c.read(UInt64.self, field: "tensor_count")
        let kvCount = try c.read(UInt64.self, field: "metadata_kv_count")
        // Each key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
        guard kvCount <= UInt64(c.remaining / 13) else {
            throw FormatError.invalidValue(file: name, field: "metadata_kv_count", value: String(kvCount),
                                           expected: "at most \(c.remaining / 13) for \(c.remaining) remaining bytes")
        }
        var keys: [String] = []
        var meta: [String: GGUFValue] = [:]
        keys.reserveCapacity(Int(kvCount))
        for i in 0..<Int(kvCount) {
            let key = try GGUFFile.readString(&c, field: "metadata key #\(i)")
            let rawType = try c.read(UInt32.self, field: "type of \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw FormatError.invalidValue(file: name, field: "type of metadata \(key)", value: String(rawType),
                                               expected: "a GGUF value type 0…12")
            }
            let value = try GGUFFile.readValue(&c, type: type, field: key, depth: 0)
            guard meta[key] == nil else {
                throw FormatError.invalidValue(file: name, field: "metadata key \(key)", value: "repeated",
                                               expected: "each key once")
            }
            meta[key] = value
            keys.append(key)
        }
        self.metadataKeys = keys
        self.metadata = meta

        var align = 32
        if let a = meta["general.alignment"] {
            guard let v = a.intValue, v > 0, v <= 1 << 16, v & (v - 1) == 0 else {
                throw FormatError.invalidValue(file: name, field: "general.alignment", value: a.description,
                                               expected: "a power of two between 1 and 65536")
            }
            align = v
        }
        self.alignment = align

        // Each tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
        guard tensorCount <= UInt64(c.remaining / 24) else {
            throw FormatError.invalidValue(file: name, field: "tensor_count", value: String(tensorCount),
                                           expected: "at most \(c.remaining / 24) for \(c.remaining) remaining bytes")
        }
        struct Raw { let name: String; let dims: [Int]; let type: GGMLType; let offset: Int; let count: Int; let bytes: Int }
        var raws: [Raw] = []
        raws.reserveCapacity(Int(tensorCount))
        var index: [String: Int] = [:]
        for i in 0..<Int(tensorCount) {
            let tname = try GGUFFile.readString(&c, field: "name of tensor #\(i)")
            let nDims = try c.read(UInt32.self, field: "n_dims of tensor \(tname)")
            guard nDims >= 1, nDims <= UInt32(GGUFFile.maxDimensions) else {
                throw FormatError.invalidValue(file: name, field: "n_dims of tensor \(tname)", value: String(nDims),
                                               expected: "1…\(GGUFFile.maxDimensions)")
            }
            var dims: [Int] = []
            var count = 1
            for d in 0..<Int(nDims) {
                let n = try c.read(UInt64.self, field: "ne[\(d)] of tensor \(tname)")
                guard n <= UInt64(Int32.max) else {
                    throw FormatError.invalidValue(file: name, field: "ne[\(d)] of tensor \(tname)", value: String(n),
                                                   expected: "a dimension below 2^31")
                }
                let (m, o) = count.multipliedReportingOverflow(by: Int(n))
                guard !o else {
                    throw FormatError.invalidValue(file: name, field: "dimensions of tensor \(tname)",
                                                   value: "\(dims + [Int(n)])", expected: "an element count that fits in 64 bits")
                }
                count = m
                dims.append(Int(n))
            }
            let rawType = try c.read(UInt32.self, field: "type of tensor \(tname)")
            guard let type = GGMLType(rawValue: rawType) else {
                throw FormatError.invalidValue(file: name, field: "type of tensor \(tname)", value: String(rawType),
                                               expected: "a known ggml type code")
            }
            guard let rowBytes = type.rowBytes(dims[0]) else {
                throw FormatError.invalidValue(file: name, field: "ne[0] of tensor \(tname)", value: String(dims[0]),
                                               expected: "a multiple of the \(type) block size \(type.blockSize)")
            }
            let rows = dims[0] == 0 ? 0 : count / dims[0]
            let (bytes, o) = rowBytes.multipliedReportingOverflow(by: rows)
            guard !o, bytes <= file.count else {
                throw FormatError.invalidValue(file: name, field: "size of tensor \(tname)", value: "\(dims) \(type)",
                                               expected: "at most the file size \(file.count) bytes")
            }
            let off = try c.read(UInt64.self, field: "offset of tensor \(tname)")
            guard off <= UInt64(file.count), Int(off) % align == 0 else {
                throw FormatError.invalidValue(file: name, field: "offset of tensor \(tname)", value: String(off),
                                               expected: "a multiple of \(align) inside the file")
            }
            guard index[tname] == nil else {
                throw FormatError.invalidValue(file: name, field: "tensor name \(tname)", value: "repeated",
                                               expected: "each tensor once")
            }
            index[tname] = i
            raws.append(Raw(name: tname, dims: dims, type: type, offset: Int(off), count: count, bytes: bytes))
        }
        let (padded, _) = (c.offset + align - 1).quotientAndRemainder(dividingBy: align)
        let data = padded * align
        self.dataOffset = data
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(raws.count)
        for r in raws {
            let start = data + r.offset
            try file.check(offset: start, count: r.bytes, field: "data of tensor \(r.name) (\(r.dims) \(r.type))")
            infos.append(GGUFTensorInfo(name: r.name, dimensions: r.dims, type: r.type, offset: r.offset,
                                        fileOffset: start, elementCount: r.count, byteCount: r.bytes))
        }
        // Tensors must not overlap one another.
        let sorted = infos.filter { $0.byteCount > 0 }.sorted { $0.fileOffset < $1.fileOffset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.fileOffset + a.byteCount > b.fileOffset {
            throw FormatError.invalidValue(file: name, field: "offset of tensor \(b.name)", value: String(b.offset),
                                           expected: "data not overlapping tensor \(a.name)")
        }
        self.tensors = infos
        self.tensorIndex = index
    }

    // MARK: Parsing helpers

    private static func show(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.map { b in (32..<127).contains(b) ? String(UnicodeScalar(b)) : String(format: "\\x%02x", b) }.joined()
    }

    private static func readString(_ c: inout ByteCursor, field: @autoclosure () -> String) throws -> String {
        let n = try c.read(UInt64.self, field: "length of " + field())
        guard n <= UInt64(c.remaining) else {
            throw FormatError.truncated(file: c.file.name, field: field(), offset: c.offset,
                                        needed: n > UInt64(Int.max) ? Int.max : Int(n), available: c.remaining)
        }
        let b = try c.bytes(Int(n), field: field())
        return String(decoding: b, as: UTF8.self)
    }

    private static func readValue(_ c: inout ByteCursor, type: GGUFValueType, field: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try c.read(UInt8.self, field: field))
        case .int8: return .int8(try c.read(Int8.self, field: field))
        case .uint16: return .uint16(try c.read(UInt16.self, field: field))
        case .int16: return .int16(try c.read(Int16.self, field: field))
        case .uint32: return .uint32(try c.read(UInt32.self, field: field))
        case .int32: return .int32(try c.read(Int32.self, field: field))
        case .uint64: return .uint64(try c.read(UInt64.self, field: field))
        case .int64: return .int64(try c.read(Int64.self, field: field))
        case .float32: return .float32(try c.readFloat(field: field))
        case .float64: return .float64(try c.readDouble(field: field))
        case .bool:
            let b = try c.read(UInt8.self, field: field)
            guard b <= 1 else {
                throw FormatError.invalidValue(file: c.file.name, field: field, value: String(b), expected: "a BOOL of 0 or 1")
            }
            return .bool(b == 1)
        case .string: return .string(try readString(&c, field: field))
        case .array:
            guard depth < maxArrayDepth else {
                throw FormatError.invalidValue(file: c.file.name, field: field, value: "arrays nested \(depth + 1) deep",
                                               expected: "at most \(maxArrayDepth) levels")
            }
            let rawType = try c.read(UInt32.self, field: "element type of \(field)")
            guard let et = GGUFValueType(rawValue: rawType) else {
                throw FormatError.invalidValue(file: c.file.name, field: "element type of \(field)", value: String(rawType),
                                               expected: "a GGUF value type 0…12")
            }
            let n = try c.read(UInt64.self, field: "length of \(field)")
            guard n <= UInt64(maxArrayLength) else {
                throw FormatError.invalidValue(file: c.file.name, field: "length of \(field)", value: String(n),
                                               expected: "at most \(maxArrayLength) elements")
            }
            guard n <= UInt64(c.remaining / et.minimumSize) else {
                throw FormatError.invalidValue(file: c.file.name, field: "length of \(field)", value: String(n),
                                               expected: "at most \(c.remaining / et.minimumSize) \(et) values in the \(c.remaining) remaining bytes")
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(n))
            for i in 0..<Int(n) {
                values.append(try readValue(&c, type: et, field: et == .array ? "\(field)[\(i)]" : field, depth: depth + 1))
            }
            return .array(elementType: et, values: values)
        }
    }

    // MARK: Metadata accessors

    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    /// The value of `key` converted by `get`, or an error naming the key and the expected type.
    private func typed<T>(_ key: String, _ expected: String, _ get: (GGUFValue) -> T?) throws -> T {
        guard let v = metadata[key] else { throw FormatError.missing(file: name, field: "metadata \(key)", expected: expected) }
        guard let x = get(v) else { throw FormatError.typeMismatch(file: name, field: key, expected: expected, found: v.typeName) }
        return x
    }

    public func string(_ key: String) throws -> String { try typed(key, "STRING", \.stringValue) }
    public func int(_ key: String) throws -> Int { try typed(key, "an integer", \.intValue) }
    public func float(_ key: String) throws -> Double { try typed(key, "a number", \.doubleValue) }
    public func bool(_ key: String) throws -> Bool { try typed(key, "BOOL", \.boolValue) }
    public func array(_ key: String) throws -> [GGUFValue] { try typed(key, "ARRAY", \.arrayValue) }

    public func stringArray(_ key: String) throws -> [String] { try typedArray(key, "STRING", \.stringValue) }
    public func intArray(_ key: String) throws -> [Int] { try typedArray(key, "an integer", \.intValue) }
    public func floatArray(_ key: String) throws -> [Double] { try typedArray(key, "a number", \.doubleValue) }

    private func typedArray<T>(_ key: String, _ expected: String, _ get: (GGUFValue) -> T?) throws -> [T] {
        try array(key).enumerated().map { i, v in
            guard let x = get(v) else { throw FormatError.typeMismatch(file: name, field: "\(key)[\(i)]", expected: expected, found: v.typeName) }
            return x
        }
    }

    /// `string(key)` if present, else `defaultValue`; a present value of another type is still an error.
    public func string(_ key: String, default defaultValue: String) throws -> String {
        metadata[key] == nil ? defaultValue : try string(key)
    }

    public func int(_ key: String, default defaultValue: Int) throws -> Int {
        metadata[key] == nil ? defaultValue : try int(key)
    }

    public func float(_ key: String, default defaultValue: Double) throws -> Double {
        metadata[key] == nil ? defaultValue : try float(key)
    }

    public func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        metadata[key] == nil ? defaultValue : try bool(key)
    }

    // MARK: Tensors

    public func info(_ tensorName: String) throws -> GGUFTensorInfo { try file.lookup(tensorName, in: tensorIndex, tensors) }

    public func hasTensor(_ tensorName: String) -> Bool { tensorIndex[tensorName] != nil }

    /// How many tensors of each type the file holds.
    public var tensorTypeCounts: [GGMLType: Int] {
        tensors.reduce(into: [:]) { $0[$1.type, default: 0] += 1 }
    }

    /// The tensor's raw bytes inside the mapping (valid while this file is alive).
    public func rawBytes(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer { file.region(info.fileOffset, info.byteCount) }

    /// The raw bytes of row `row` (ggml block format; `info.rowBytes` long).
    public func rawRow(_ info: GGUFTensorInfo, _ row: Int) -> UnsafeRawBufferPointer {
        precondition(row >= 0 && row < info.rowCount, "GGUFFile.rawRow: row \(row) outside 0..<\(info.rowCount) of \(info.name)")
        return UnsafeRawBufferPointer(start: file.base! + info.fileOffset + row * info.rowBytes, count: info.rowBytes)
    }

    /// Converts rows `rows` of the tensor to Float32 into `dst` (`rows.count * info.rowLength` floats).
    public func dequantizeRows(_ info: GGUFTensorInfo, _ rows: Range<Int>, into dst: UnsafeMutablePointer<Float>) throws {
        guard info.type.canDequantize else { throw FormatError.unsupportedType(file: name, tensor: info.name, type: info.type.name) }
        precondition(rows.lowerBound >= 0 && rows.upperBound <= info.rowCount,
                     "GGUFFile.dequantizeRows: rows \(rows) outside 0..<\(info.rowCount) of \(info.name)")
        guard !rows.isEmpty, info.rowLength > 0 else { return }
        let src = UnsafeRawPointer(file.base!) + info.fileOffset + rows.lowerBound * info.rowBytes
        Dequantize.convert(info.type, from: src, count: rows.count * info.rowLength, into: dst)
    }

    /// Rows `indices` of a tensor (e.g. the embedding rows of token ids), converted to Float32,
    /// as a `[indices.count, rowLength]` tensor; the rest of the tensor is not touched.
    public func rows(_ info: GGUFTensorInfo, _ indices: [Int]) throws -> Tensor {
        guard info.type.canDequantize else { throw FormatError.unsupportedType(file: name, tensor: info.name, type: info.type.name) }
        if let bad = indices.first(where: { $0 < 0 || $0 >= info.rowCount }) {
            throw FormatError.invalidValue(file: name, field: "row index into \(info.name)", value: String(bad),
                                           expected: "0..<\(info.rowCount)")
        }
        let n = info.rowLength
        return try Tensor(shape: [indices.count, n]) { buf in
            guard let dst = buf.baseAddress else { return }
            for (k, r) in indices.enumerated() { try dequantizeRows(info, r..<r + 1, into: dst + k * n) }
        }
    }

    /// The tensor as Float32 in row-major shape `info.shape`. F32 data aligned to 4 bytes is
    /// borrowed from the mapping without a copy; everything else is converted.
    public func tensor(_ tensorName: String) throws -> Tensor {
        try tensor(info(tensorName))
    }

    public func tensor(_ info: GGUFTensorInfo) throws -> Tensor {
        guard info.type.canDequantize else { throw FormatError.unsupportedType(file: name, tensor: info.name, type: info.type.name) }
        if info.type == .f32, let t = file.borrowedFloats(at: info.fileOffset, count: info.elementCount, shape: info.shape, cache: borrowed) {
            return t
        }
        return try Tensor(shape: info.shape) { buf in
            guard let dst = buf.baseAddress, info.elementCount > 0 else { return }
            try dequantizeRows(info, 0..<info.rowCount, into: dst)
        }
    }
}
