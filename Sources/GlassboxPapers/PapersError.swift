// GlassboxPapers — the paper catalog on disk and the arXiv client.
import Foundation

/// Every failure of the papers module. Each message names the file, field or value
/// involved and what was expected.
public enum PapersError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A paper id that is neither a new-style, an old-style arXiv id nor `web/<slug>`.
    case invalidID(String)
    /// A file could not be read or written.
    case io(path: String, message: String)
    /// A paper file is not `---` front matter `---` followed by a body.
    case malformedPaperFile(path: String, message: String)
    /// A front-matter field is missing or has the wrong type.
    case invalidField(path: String, field: String, expected: String)
    /// XML that does not parse.
    case malformedXML(source: String, line: Int, message: String)
    /// Well-formed XML that is not the expected feed.
    case unexpectedFeed(source: String, message: String)
    /// The arXiv API answered with its error entry (served with HTTP 200).
    case arxivError(query: String, message: String)
    /// An HTTP status that is not retried or that persisted through every retry.
    case httpStatus(url: String, status: Int, attempts: Int)
    /// The request timed out on every attempt.
    case timedOut(url: String, attempts: Int)
    /// Transport-level failure (connection refused, DNS, …).
    case transport(url: String, message: String)
    /// A known id came back from arXiv with a different title.
    case titleMismatch(id: String, catalog: String, arxiv: String)
    /// A requested id was not returned by arXiv.
    case notFound(id: String)
    /// The catalog has no paper with this id.
    case unknownPaper(String)
    /// A command-line or API argument that cannot be used.
    case invalidArgument(name: String, value: String, expected: String)
    /// A rules file (discover.yaml) that cannot be used.
    case invalidRules(path: String, message: String)
    /// Several problems at once (validation, sync).
    case multiple([PapersError])

    public var description: String {
        switch self {
        case .invalidID(let s):
            return "invalid paper id '\(s)': expected a new-style arXiv id (2209.10652, optionally v2), an old-style id (hep-th/9901001) or web/<slug>"
        case .io(let path, let message):
            return "\(path): \(message)"
        case .malformedPaperFile(let path, let message):
            return "\(path): \(message)"
        case .invalidField(let path, let field, let expected):
            return "\(path): field '\(field)': expected \(expected)"
        case .malformedXML(let source, let line, let message):
            return "\(source): malformed XML at line \(line): \(message)"
        case .unexpectedFeed(let source, let message):
            return "\(source): \(message)"
        case .arxivError(let query, let message):
            return "arXiv API error for \(query): \(message)"
        case .httpStatus(let url, let status, let attempts):
            return "\(url): HTTP \(status) after \(attempts) attempt\(attempts == 1 ? "" : "s")"
        case .timedOut(let url, let attempts):
            return "\(url): timed out after \(attempts) attempt\(attempts == 1 ? "" : "s")"
        case .transport(let url, let message):
            return "\(url): \(message)"
        case .titleMismatch(let id, let catalog, let arxiv):
            return "\(id): title in the catalog '\(catalog)' does not match arXiv's title '\(arxiv)'"
        case .notFound(let id):
            return "\(id): not returned by arXiv"
        case .unknownPaper(let id):
            return "no paper '\(id)' in the catalog"
        case .invalidArgument(let name, let value, let expected):
            return "\(name): expected \(expected), got '\(value)'"
        case .invalidRules(let path, let message):
            return "\(path): \(message)"
        case .multiple(let errors):
            return errors.map(\.description).joined(separator: "\n")
        }
    }
}

extension PapersError: LocalizedError {
    public var errorDescription: String? { description }
}
