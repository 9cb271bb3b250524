import Foundation
import Yams

/// The paper catalog: a directory of `<id>.md` files (`papers/` by default).
///
/// The repository layout around it (`reproductions/`, `reports/results.json`) is found
/// next to the catalog directory unless given explicitly.
public struct Catalog: Sendable {
    public let directory: URL
    /// Parsed files, sorted by id.
    public private(set) var files: [PaperFile]
    /// Files that did not parse, with their errors (loading never stops at one bad file).
    public private(set) var problems: [PapersError]

    /// Files in the catalog directory that are not papers.
    public static let reservedNames: Set<String> = ["README.md"]

    /// Loads every `*.md` file of `directory` except `README.md`. A missing directory is an empty catalog.
    public init(directory: URL) throws {
        self.directory = directory
        var files: [PaperFile] = []
        var problems: [PapersError] = []
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: directory.path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw PapersError.io(path: directory.path, message: "expected a catalog directory, found a file")
            }
            let names: [String]
            do {
                names = try fm.contentsOfDirectory(atPath: directory.path)
            } catch {
                throw PapersError.io(path: directory.path, message: "cannot list the catalog directory (\(error.localizedDescription))")
            }
            for name in names.sorted() where name.hasSuffix(".md") && !Self.reservedNames.contains(name) {
                do {
                    files.append(try PaperFile(contentsOf: directory.appendingPathComponent(name)))
                } catch let e as PapersError {
                    problems.append(e)
                }
            }
        }
        self.files = files.sorted { $0.paper.id < $1.paper.id }
        self.problems = problems
    }

    /// Loads a catalog that must exist (browsing and validation; sync may start an empty one).
    public static func existing(_ directory: URL) throws -> Catalog {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw PapersError.io(path: directory.path, message: "no catalog directory here (use --catalog DIR)")
        }
        return try Catalog(directory: directory)
    }

    public var papers: [Paper] { files.map(\.paper) }

    /// The file of a paper, by id in any accepted form (versioned, `arXiv:` prefix, …).
    public func file(for id: String) -> PaperFile? {
        let key = (try? PaperID(id))?.base ?? id
        return files.first { $0.paper.id == key }
    }

    public func paper(_ id: String) -> Paper? { file(for: id)?.paper }

    /// Where the file of `id` lives.
    public func url(for id: PaperID) -> URL { directory.appendingPathComponent(id.fileName) }

    /// The repository root the catalog sits in (the catalog directory's parent).
    public var root: URL { directory.deletingLastPathComponent() }
    public var defaultReproductionsDirectory: URL { root.appendingPathComponent("reproductions") }
    public var defaultResultsFile: URL { root.appendingPathComponent("reports/results.json") }
    public var defaultRulesFile: URL { Self.rulesFile(in: directory) }
    /// `<catalog>/discover.yaml`.
    public static func rulesFile(in directory: URL) -> URL { directory.appendingPathComponent("discover.yaml") }
    public var dismissedFile: URL { directory.appendingPathComponent("dismissed.txt") }
}

/// Writes `text` to `url` atomically: a temporary file in the same directory, then rename.
func writeAtomically(_ text: String, to url: URL) throws {
    try writeAtomically(Data(text.utf8), to: url)
}

/// Writes `data` to `url` atomically: a temporary file in the same directory, then rename.
func writeAtomically(_ data: Data, to url: URL) throws {
    let fm = FileManager.default
    let dir = url.deletingLastPathComponent()
    do {
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        try data.write(to: tmp)
        if rename(tmp.path, url.path) != 0 {
            let code = errno
            try? fm.removeItem(at: tmp)
            throw PapersError.io(path: url.path, message: "cannot move the new file into place (errno \(code))")
        }
    } catch let e as PapersError {
        throw e
    } catch {
        throw PapersError.io(path: url.path, message: "cannot write (\(error.localizedDescription))")
    }
}

/// What a reproduction manifest says about papers: just its `id`, `paper` and `model`.
public struct ReproductionLink: Sendable, Equatable, Codable {
    public var id: String
    public var paper: String?
    public var model: String?
    public var file: String

    /// Reads every `*.yaml` / `*.yml` in `directory` (missing directory → none). Files that do not
    /// parse or lack an `id` are reported as problems.
    public static func load(directory: URL) -> (links: [ReproductionLink], problems: [PapersError]) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory.path) else { return ([], []) }
        var links: [ReproductionLink] = []
        var problems: [PapersError] = []
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let url = directory.appendingPathComponent(name)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                problems.append(.io(path: url.path, message: "cannot read as UTF-8 text")); continue
            }
            guard let node = try? Yams.compose(yaml: text), let mapping = node.mapping else {
                problems.append(.malformedPaperFile(path: url.path, message: "not a YAML mapping")); continue
            }
            var id: String?, paper: String?, model: String?
            for (k, v) in mapping {
                switch k.string {
                case "id": id = v.scalar?.string
                case "paper": paper = v.scalar?.string
                case "model": model = v.scalar?.string
                default: break
                }
            }
            guard let id, !id.isEmpty else {
                problems.append(.invalidField(path: url.path, field: "id", expected: "the target's slug")); continue
            }
            links.append(ReproductionLink(id: id, paper: paper, model: model, file: url.path))
        }
        return (links, problems)
    }
}
