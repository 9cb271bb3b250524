import Foundation

/// A target's latest verdict as read from `reports/results.json`.
public enum TargetVerdict: String, Sendable, Codable {
    case pass, fail, skipped, unknown

    static func from(_ raw: String) -> TargetVerdict {
        switch raw.lowercased() {
        case "pass", "passed", "ok", "success", "succeeded", "reproduced", "holds": return .pass
        case "fail", "failed", "failure", "failing", "regression", "regressed", "error": return .fail
        case "skip", "skipped", "not_run", "not-run": return .skipped
        default: return .unknown
        }
    }
}

/// A paper's reproduction status, from its linked targets' verdicts.
public enum ReproductionStatus: String, Sendable, Codable, CaseIterable {
    /// Has linked targets and every one passes.
    case reproduced
    /// At least one linked target fails.
    case failing
    /// No linked target, or not all have passed yet.
    case untested

    public var badge: String {
        switch self {
        case .reproduced: return "✅ reproduced"
        case .failing: return "❌ failing"
        case .untested: return "⬜ untested"
        }
    }
}

/// The latest verdict of every target in `reports/results.json`, read leniently: a top-level object
/// with `targets` (an array of objects with `id`, or an object keyed by id) whose entries carry a
/// `verdict`/`status`/`outcome`, or `expectations`/`checks` with per-expectation verdicts.
public struct ResultsSummary: Sendable, Equatable {
    public var verdicts: [String: TargetVerdict]

    public init(verdicts: [String: TargetVerdict]) { self.verdicts = verdicts }

    /// nil when the file does not exist.
    public static func load(_ url: URL) throws -> ResultsSummary? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PapersError.io(path: url.path, message: "cannot read the results file")
        }
        return try parse(data, path: url.path)
    }

    public static func parse(_ data: Data, path: String) throws -> ResultsSummary {
        guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PapersError.malformedPaperFile(path: path, message: "expected a JSON object with a 'targets' list")
        }
        var verdicts: [String: TargetVerdict] = [:]
        let targets = top["targets"] ?? top["results"]
        if let list = targets as? [[String: Any]] {
            for t in list {
                guard let id = (t["id"] ?? t["target"] ?? t["slug"]) as? String else { continue }
                verdicts[id] = verdict(of: t)
            }
        } else if let dict = targets as? [String: Any] {
            for (id, value) in dict {
                if let t = value as? [String: Any] { verdicts[id] = verdict(of: t) }
                else if let s = value as? String { verdicts[id] = TargetVerdict.from(s) }
            }
        }
        return ResultsSummary(verdicts: verdicts)
    }

    static func verdict(of t: [String: Any]) -> TargetVerdict {
        for key in ["verdict", "status", "outcome", "result"] {
            if let s = t[key] as? String { return TargetVerdict.from(s) }
        }
        if let passed = t["passed"] as? Bool { return passed ? .pass : .fail }
        let checks = (t["expectations"] ?? t["checks"]) as? [[String: Any]] ?? []
        let each = checks.map(verdict(of:))
        if each.isEmpty { return .unknown }
        if each.contains(.fail) { return .fail }
        if each.allSatisfy({ $0 == .pass }) { return .pass }
        return each.contains(.skipped) ? .skipped : .unknown
    }
}

/// A linked reproduction target with its verdict.
public struct LinkedTarget: Sendable, Equatable, Codable {
    public var id: String
    public var model: String?
    public var verdict: TargetVerdict?
}

/// A paper with what the browsing commands show about it.
public struct PaperListing: Sendable, Equatable, Codable {
    public var id: String
    public var title: String
    public var year: Int?
    public var families: [String]
    public var methods: [String]
    public var candidate: Bool
    public var status: ReproductionStatus
    public var summary: String
    public var targets: [LinkedTarget]
    public var url: String?
}

/// Filters of `papers list`.
public struct PaperFilter: Sendable {
    public enum Candidates: Sendable { case exclude, only, include }
    public var family: String?
    public var method: String?
    public var year: Int?
    public var status: ReproductionStatus?
    public var candidates: Candidates

    public init(family: String? = nil, method: String? = nil, year: Int? = nil, status: ReproductionStatus? = nil,
                candidates: Candidates = .exclude) {
        self.family = family; self.method = method; self.year = year; self.status = status; self.candidates = candidates
    }

    public func accepts(_ l: PaperListing) -> Bool {
        switch candidates {
        case .exclude where l.candidate: return false
        case .only where !l.candidate: return false
        default: break
        }
        if let f = family, !l.families.contains(where: { $0.caseInsensitiveCompare(f) == .orderedSame }) { return false }
        if let m = method, !l.methods.contains(where: { $0.caseInsensitiveCompare(m) == .orderedSame }) { return false }
        if let y = year, l.year != y { return false }
        if let s = status, l.status != s { return false }
        return true
    }
}

/// The catalog joined with reproduction targets and their verdicts: what list, show and index read.
public struct CatalogView: Sendable {
    public let catalog: Catalog
    public let links: [ReproductionLink]
    public let results: ResultsSummary?
    /// Why the results file could not be used (it is then ignored and every paper is untested).
    public let resultsProblem: PapersError?
    public let listings: [PaperListing]

    /// `reproductions`/`results` default to the directories next to the catalog; a missing or
    /// unreadable results file means every paper is untested (see `resultsProblem`).
    public init(catalog: Catalog, reproductionsDirectory: URL? = nil, resultsFile: URL? = nil) {
        self.catalog = catalog
        self.links = ReproductionLink.load(directory: reproductionsDirectory ?? catalog.defaultReproductionsDirectory).links
        do {
            self.results = try ResultsSummary.load(resultsFile ?? catalog.defaultResultsFile)
            self.resultsProblem = nil
        } catch let e as PapersError {
            self.results = nil
            self.resultsProblem = e
        } catch {
            self.results = nil
            self.resultsProblem = .io(path: (resultsFile ?? catalog.defaultResultsFile).path, message: "\(error)")
        }
        let linkByID = Dictionary(links.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var byPaper: [String: [String]] = [:]
        for l in links {
            if let p = l.paper { byPaper[(try? PaperID(p))?.base ?? p, default: []].append(l.id) }
        }
        let results = self.results
        self.listings = catalog.papers.map { p in
            var targetIDs = p.reproductions
            for t in byPaper[p.id] ?? [] where !targetIDs.contains(t) { targetIDs.append(t) }
            let targets = targetIDs.map { LinkedTarget(id: $0, model: linkByID[$0]?.model, verdict: results?.verdicts[$0]) }
            let status: ReproductionStatus
            if targets.contains(where: { $0.verdict == .fail }) { status = .failing }
            else if !targets.isEmpty, targets.allSatisfy({ $0.verdict == .pass }) { status = .reproduced }
            else { status = .untested }
            return PaperListing(id: p.id, title: p.title, year: p.year, families: p.families, methods: p.methods,
                                candidate: p.isCandidate, status: status, summary: p.oneLineSummary, targets: targets,
                                url: p.url ?? p.paperID?.abstractURL)
        }
    }

    public func list(_ filter: PaperFilter) -> [PaperListing] { listings.filter(filter.accepts) }

    public func listing(_ id: String) throws -> PaperListing {
        let key = (try? PaperID(id))?.base ?? id
        guard let l = listings.first(where: { $0.id == key }) else { throw PapersError.unknownPaper(id) }
        return l
    }
}
