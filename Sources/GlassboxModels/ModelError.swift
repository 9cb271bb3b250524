import Foundation

/// Errors of loading, fetching and running models. Each message names the model, file or
/// field involved and what was expected.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A configuration field is missing or has an unusable value.
    case invalidConfiguration(source: String, field: String, expected: String)
    /// A weight tensor is missing from the file.
    case missingTensor(source: String, tensor: String)
    /// A weight tensor has the wrong shape.
    case badTensorShape(source: String, tensor: String, shape: [Int], expected: [Int])
    /// The architecture named by the file is not one Glassbox implements.
    case unsupportedArchitecture(source: String, architecture: String)
    /// `--model` named neither a registry entry nor an existing file or folder.
    case unknownModel(String, known: [String])
    /// A token id is outside the vocabulary.
    case tokenOutOfRange(id: Int, vocabularySize: Int)
    /// Input that cannot be run (empty batch, too long for learned positions, ...).
    case invalidInput(String)
    /// Fetching failed: the download command, the wheel, or the network.
    case fetchFailed(model: String, reason: String)
    /// A fetched file does not have the pinned SHA-256.
    case hashMismatch(model: String, file: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(source, field, expected):
            return "\(source): configuration field '\(field)': expected \(expected)"
        case let .missingTensor(source, tensor):
            return "\(source): weight tensor '\(tensor)' is missing"
        case let .badTensorShape(source, tensor, shape, expected):
            return "\(source): weight tensor '\(tensor)' has shape \(shape), expected \(expected)"
        case let .unsupportedArchitecture(source, architecture):
            return "\(source): architecture '\(architecture)' is not supported (supported: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .unknownModel(name, known):
            return "unknown model '\(name)': not a registry name (\(known.joined(separator: ", "))) and no such GGUF file or safetensors folder"
        case let .tokenOutOfRange(id, vocabularySize):
            return "token id \(id) is outside the vocabulary 0..<\(vocabularySize)"
        case let .invalidInput(message):
            return message
        case let .fetchFailed(model, reason):
            return "could not fetch model '\(model)': \(reason)"
        case let .hashMismatch(model, file, expected, actual):
            return "model '\(model)': file \(file) has SHA-256 \(actual), expected \(expected) (corrupted or changed download; it was not installed)"
        }
    }
}

extension ModelError: LocalizedError {
    public var errorDescription: String? { description }
}
