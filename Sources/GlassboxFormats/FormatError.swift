import Foundation

/// Everything that can be wrong with a model or tokenizer file. Each message names the file,
/// the field (or value) at fault and what was expected.
public enum FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened or mapped.
    case unreadable(file: String, reason: String)
    /// A field needs more bytes than the file has left.
    case truncated(file: String, field: String, offset: Int, needed: Int, available: Int)
    /// The file does not start with the expected magic bytes.
    case badMagic(file: String, expected: String, found: String)
    /// A format version this reader does not handle.
    case unsupportedVersion(file: String, version: Int, supported: String)
    /// A field holds a value outside what the format allows.
    case invalidValue(file: String, field: String, value: String, expected: String)
    /// A required metadata key or tensor is absent.
    case missing(file: String, field: String, expected: String)
    /// A metadata value exists but has another type than asked for.
    case typeMismatch(file: String, field: String, expected: String, found: String)
    /// A tensor type that can be parsed but not converted to Float32.
    case unsupportedType(file: String, tensor: String, type: String)
    /// JSON that does not parse or does not have the expected structure.
    case badJSON(file: String, field: String, expected: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read the file: \(reason)"
        case let .truncated(file, field, offset, needed, available):
            return "\(file): \(field) at byte \(offset) needs \(needed) bytes but only \(available) remain (truncated or lying file)"
        case let .badMagic(file, expected, found):
            return "\(file): expected magic \(expected), found \(found)"
        case let .unsupportedVersion(file, version, supported):
            return "\(file): format version \(version) is not supported (expected \(supported))"
        case let .invalidValue(file, field, value, expected):
            return "\(file): \(field) is \(value), expected \(expected)"
        case let .missing(file, field, expected):
            return "\(file): \(field) is missing (expected \(expected))"
        case let .typeMismatch(file, field, expected, found):
            return "\(file): \(field) holds \(found), expected \(expected)"
        case let .unsupportedType(file, tensor, type):
            return "\(file): tensor \(tensor) has type \(type), which cannot be converted to Float32 by this reader"
        case let .badJSON(file, field, expected):
            return "\(file): \(field): expected \(expected)"
        }
    }
}

extension FormatError: LocalizedError {
    public var errorDescription: String? { description }
}
