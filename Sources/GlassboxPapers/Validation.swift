import Foundation

/// The outcome of `papers validate`.
public struct ValidationReport: Sendable {
    public var papersChecked: Int
    public var targetsChecked: Int
    public var problems: [PapersError]
    public var isValid: Bool { problems.isEmpty }
}

extension Catalog {
    /// The body sections every annotated (non-candidate) paper has.
    /// Values the hand-written `status` field may take.
    public static let statuses: Set<String> = ["candidate", "annotated"]

    public static let requiredSections = ["Summary", "Key claims", "Method", "Reproduction notes"]

    /// Checks: every file parses; required fields are present; ids are well-formed and match the
    /// file name; no id appears twice; every `reproductions:` slug is a target in `reproductionsDirectory`;
    /// every target's `paper` is in the catalog.
    public func validate(reproductionsDirectory: URL? = nil) -> ValidationReport {
        var problems = self.problems
        var seen: [String: String] = [:]
        for file in files {
            let p = file.paper
            let path = file.path
            func missing(_ field: String, _ expected: String) {
                problems.append(.invalidField(path: path, field: field, expected: expected))
            }
            guard file.keys.contains("id"), let pid = try? PaperID(p.id) else {
                missing("id", "a well-formed id (2209.10652, hep-th/9901001 or web/<slug>), got '\(p.id)'")
                continue
            }
            if let other = seen[pid.base] {
                problems.append(.malformedPaperFile(path: path, message: "id '\(pid.base)' is also used by \(other)"))
            }
            seen[pid.base] = path
            let fileName = URL(fileURLWithPath: path).lastPathComponent
            if fileName != pid.fileName {
                problems.append(.malformedPaperFile(path: path, message: "file name should be '\(pid.fileName)' for id '\(pid.base)'"))
            }
            if p.title.isEmpty { missing("title", "the paper's title") }
            if p.authors.isEmpty { missing("authors", "a non-empty list of authors") }
            if pid.isArxiv {
                if p.version == nil { missing("version", "arXiv's version number (1, 2, …)") }
                if p.published == nil { missing("published", "the v1 date, e.g. 2022-09-21T15:30:48Z") }
                if p.updated == nil { missing("updated", "the date of the retrieved version") }
                if p.primaryCategory == nil { missing("primary_category", "arXiv's primary category, e.g. cs.LG") }
                if p.categories.isEmpty { missing("categories", "a non-empty list of arXiv categories") }
                if p.abstract.isEmpty { missing("abstract", "arXiv's abstract") }
            } else {
                if (p.url ?? "").isEmpty { missing("url", "the work's web address (web/ ids have no arXiv page)") }
                if let u = p.url, !u.isEmpty, !(u.hasPrefix("https://") || u.hasPrefix("http://")) {
                    missing("url", "an http(s) address, got '\(u)'")
                }
            }
            for date in [("published", p.published), ("updated", p.updated)] {
                if let d = date.1, !Self.looksLikeDate(d) {
                    missing(date.0, "an ISO 8601 date (YYYY-MM-DD…), got '\(d)'")
                }
            }
            if let status = p.status, !Self.statuses.contains(status) {
                missing("status", "one of \(Self.statuses.sorted().joined(separator: ", ")) or no status, got '\(status)'")
            }
            if !p.isCandidate {
                if p.families.isEmpty { missing("families", "at least one method family (annotated papers)") }
                for s in Self.requiredSections where (p.section(s) ?? "").isEmpty {
                    problems.append(.malformedPaperFile(path: path, message: "body section '## \(s)' is missing or empty"))
                }
            }
        }
        let reproDir = reproductionsDirectory ?? defaultReproductionsDirectory
        let (links, linkProblems) = ReproductionLink.load(directory: reproDir)
        problems += linkProblems
        let targetIDs = Set(links.map(\.id))
        for file in files {
            for slug in file.paper.reproductions where !targetIDs.contains(slug) {
                problems.append(.invalidField(path: file.path, field: "reproductions",
                                              expected: "slugs of targets in \(reproDir.lastPathComponent)/; no target '\(slug)'"))
            }
        }
        let paperIDs = Set(files.map(\.paper.id))
        for link in links {
            guard let paper = link.paper, !paper.isEmpty else {
                problems.append(.invalidField(path: link.file, field: "paper", expected: "the id of a paper in the catalog"))
                continue
            }
            let key = (try? PaperID(paper))?.base ?? paper
            if !paperIDs.contains(key) {
                problems.append(.invalidField(path: link.file, field: "paper",
                                              expected: "the id of a paper in the catalog; no paper '\(paper)'"))
            }
        }
        return ValidationReport(papersChecked: files.count + self.problems.count, targetsChecked: links.count, problems: problems)
    }

    static func looksLikeDate(_ s: String) -> Bool {
        let c = Array(s.utf8)
        guard c.count >= 10 else { return false }
        let digit: (UInt8) -> Bool = { $0 >= 48 && $0 <= 57 }
        return digit(c[0]) && digit(c[1]) && digit(c[2]) && digit(c[3]) && c[4] == 45 && digit(c[5]) && digit(c[6])
            && c[7] == 45 && digit(c[8]) && digit(c[9])
    }
}
