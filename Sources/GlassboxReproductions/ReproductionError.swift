// GlassboxReproductions — manifests, recipes, expectations, the runner, results store,
// reports and the regression comparison. It never prints: progress goes to callbacks.
import Foundation

/// Everything that can go wrong reading targets or running them. Each message names the
/// file, field or value and what was expected.
public enum ReproductionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A manifest field is missing or malformed.
    case invalidManifest(file: String, field: String, problem: String)
    /// The YAML itself does not parse.
    case unreadableManifest(file: String, reason: String)
    /// Several manifests are invalid; all of them are listed.
    case manyInvalidManifests([ReproductionError])
    /// The manifest names a recipe nobody registered.
    case unknownRecipe(file: String, name: String, known: [String])
    /// Two manifests share an id.
    case duplicateTarget(id: String, files: [String])
    /// A recipe asked its context for a parameter it does not declare or of another type.
    case parameter(recipe: String, name: String, problem: String)
    /// A recipe asked for a metric or figure name that is not allowed.
    case invalidName(recipe: String, name: String, problem: String)
    /// A selection (slug, --paper, --family, --shard) matched nothing or is malformed.
    case selection(String)
    /// A file could not be read or written.
    case io(path: String, reason: String)
    /// `results.json` (or a baseline) is not what this version writes.
    case invalidResults(path: String, reason: String)
    /// A file the repository ships under `data/` was not found.
    case missingData(path: String, searched: [String])

    public var description: String {
        switch self {
        case let .invalidManifest(file, field, problem):
            return "\(file): field '\(field)': \(problem)"
        case let .unreadableManifest(file, reason):
            return "\(file): not valid YAML: \(reason)"
        case let .manyInvalidManifests(errors):
            return errors.map(\.description).joined(separator: "\n")
        case let .unknownRecipe(file, name, known):
            let list = known.isEmpty ? "none are registered" : "known recipes: " + known.joined(separator: ", ")
            return "\(file): field 'recipe': no recipe named '\(name)' (\(list))"
        case let .duplicateTarget(id, files):
            return "target id '\(id)' is used by more than one manifest: " + files.joined(separator: ", ")
        case let .parameter(recipe, name, problem):
            return "recipe '\(recipe)': parameter '\(name)': \(problem)"
        case let .invalidName(recipe, name, problem):
            return "recipe '\(recipe)': name '\(name)': \(problem)"
        case let .selection(message):
            return message
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .invalidResults(path, reason):
            return "\(path): not a results file of this version: \(reason)"
        case let .missingData(path, searched):
            return "\(path): not found (looked in \(searched.joined(separator: ", ")); run from the repository root or set GLASSBOX_DATA)"
        }
    }
}

/// Thrown by a recipe (or its context) when the target cannot be run here — the model is
/// not available, a dataset is missing. The target is reported as *skipped* with the
/// reason; a skip is never counted as a pass.
public struct TargetSkipped: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "skipped: \(reason)" }
}

/// Writes `data` to `url` atomically: a temporary file in the same directory, then rename.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temp = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        try data.write(to: temp)
        if rename(temp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw ReproductionError.io(path: url.path, reason: "could not move the new file into place: \(reason)")
        }
    } catch let error as ReproductionError {
        throw error
    } catch {
        throw ReproductionError.io(path: url.path, reason: "could not write: \(error.localizedDescription)")
    }
}

/// Writes UTF-8 text atomically.
public func writeAtomically(_ text: String, to url: URL) throws {
    try writeAtomically(Data(text.utf8), to: url)
}
