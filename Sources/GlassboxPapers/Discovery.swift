import Foundation
import Yams

/// Rules that pick interpretability papers out of a daily feed (`papers/discover.yaml`).
///
/// A paper matches when its title or abstract contains any phrase of `any`, or at least one
/// phrase from every group of `all`, and no phrase of `exclude`. Phrases match whole words,
/// case-insensitively; the last word of a phrase also matches as a prefix
/// ("sparse autoencoder" matches "sparse autoencoders", "interpretab" matches "interpretability").
public struct DiscoveryRules: Sendable, Equatable {
    public var feeds: [String]
    public var announceTypes: [Announcement.AnnounceType]
    public var any: [String]
    public var all: [[String]]
    public var exclude: [String]

    public init(feeds: [String] = ["cs.LG", "cs.CL", "cs.AI"], announceTypes: [Announcement.AnnounceType] = [.new, .cross],
                any: [String] = [], all: [[String]] = [], exclude: [String] = []) {
        self.feeds = feeds; self.announceTypes = announceTypes; self.any = any; self.all = all; self.exclude = exclude
    }

    public static func load(_ url: URL) throws -> DiscoveryRules {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw PapersError.io(path: url.path, message: "cannot read the discovery rules (\(error.localizedDescription))")
        }
        return try parse(text, path: url.path)
    }

    public static func parse(_ text: String, path: String) throws -> DiscoveryRules {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw PapersError.invalidRules(path: path, message: "not valid YAML: \(error)")
        }
        guard let mapping = node?.mapping else { throw PapersError.invalidRules(path: path, message: "expected a mapping with any / all / exclude") }
        var fields: [String: Node] = [:]
        for (k, v) in mapping { if let key = k.string { fields[key] = v } }
        let known: Set<String> = ["feeds", "announce_types", "any", "all", "exclude"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw PapersError.invalidRules(path: path, message: "unknown key '\(unknown)'; expected \(known.sorted().joined(separator: ", "))")
        }
        let reader = FieldReader(path: path, fields: fields)
        var rules = DiscoveryRules()
        if fields["feeds"] != nil { rules.feeds = try reader.list("feeds") }
        if fields["announce_types"] != nil {
            rules.announceTypes = try reader.list("announce_types").map { t in
                guard let type = Announcement.AnnounceType(rawValue: t) else {
                    throw PapersError.invalidRules(path: path, message: "announce type '\(t)': expected new, cross, replace or replace-cross")
                }
                return type
            }
        }
        rules.any = try reader.list("any")
        rules.exclude = try reader.list("exclude")
        if let groups = fields["all"]?.sequence {
            rules.all = try groups.map { g in
                guard let seq = g.sequence else {
                    throw PapersError.invalidRules(path: path, message: "'all' must be a list of phrase lists")
                }
                return seq.compactMap { $0.string }
            }
        }
        if rules.any.isEmpty && rules.all.isEmpty {
            throw PapersError.invalidRules(path: path, message: "no rules: give phrases under 'any' or groups under 'all'")
        }
        return rules
    }

    /// The phrases that made `title`/`abstract` match, or [] when it does not match.
    public func matches(title: String, abstract: String) -> [String] {
        let words = Self.words(title + " " + abstract)
        if exclude.contains(where: { Self.contains(words, phrase: $0) }) { return [] }
        let hits = any.filter { Self.contains(words, phrase: $0) }
        if !hits.isEmpty { return hits }
        guard !all.isEmpty else { return [] }
        var groupHits: [String] = []
        for group in all {
            guard let hit = group.first(where: { Self.contains(words, phrase: $0) }) else { return [] }
            groupHits.append(hit)
        }
        return groupHits
    }

    static func words(_ s: String) -> [Substring] {
        s.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) })
    }

    static func contains(_ words: [Substring], phrase: String) -> Bool {
        let p = Self.words(phrase)
        guard !p.isEmpty, words.count >= p.count else { return false }
        outer: for start in 0...(words.count - p.count) {
            for (k, pw) in p.enumerated() {
                let w = words[start + k]
                if k == p.count - 1 ? !w.hasPrefix(pw) : w != pw { continue outer }
            }
            return true
        }
        return false
    }
}

/// Ids a person dismissed; never proposed again. One id per line in `papers/dismissed.txt`,
/// optionally followed by `# reason`.
public struct DismissedList: Sendable {
    public let url: URL
    public private(set) var ids: Set<String>

    public init(url: URL) throws {
        self.url = url
        var ids = Set<String>()
        if FileManager.default.fileExists(atPath: url.path) {
            let text: String
            do { text = try String(contentsOf: url, encoding: .utf8) } catch {
                throw PapersError.io(path: url.path, message: "cannot read the dismissed list")
            }
            for (n, line) in text.split(separator: "\n").enumerated() {
                let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                    .trimmingCharacters(in: .whitespaces)
                if content.isEmpty { continue }
                guard let id = try? PaperID(content) else {
                    throw PapersError.invalidField(path: url.path, field: "line \(n + 1)", expected: "an arXiv id, got '\(content)'")
                }
                ids.insert(id.base)
            }
        }
        self.ids = ids
    }

    public func contains(_ id: PaperID) -> Bool { ids.contains(id.base) }

    /// Appends an id (atomically rewriting the file). Returns false when it was already dismissed.
    @discardableResult
    public mutating func add(_ id: PaperID, reason: String?) throws -> Bool {
        if ids.contains(id.base) { return false }
        var text = (try? String(contentsOf: url, encoding: .utf8)) ?? "# Papers dismissed from discovery; `glassbox papers discover` never proposes them again.\n"
        if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
        let note = reason.map { collapseWhitespace($0) }.flatMap { $0.isEmpty ? nil : $0 }
        text += id.base + (note.map { "  # \($0)" } ?? "") + "\n"
        try writeAtomically(text, to: url)
        ids.insert(id.base)
        return true
    }
}

/// One proposed paper.
public struct DiscoveryCandidate: Sendable, Equatable, Codable {
    public var id: String
    public var title: String
    public var announceType: String
    public var matched: [String]
}

/// The outcome of `papers discover`.
public struct DiscoveryReport: Sendable, Equatable, Codable {
    /// Entries in the feed (after removing duplicates).
    public var examined: Int
    /// New candidates added to the catalog.
    public var proposed: [DiscoveryCandidate]
    /// Matching entries skipped because they were dismissed before.
    public var dismissed: [String]
    /// Matching entries skipped because the catalog already has them.
    public var known: [String]
}

public enum Discovery {
    /// Reads the daily feed, keeps matching entries of the wanted announce types that are neither
    /// in the catalog nor dismissed, resolves them with one batched `id_list` query and adds them
    /// as candidates.
    public static func discover(directory: URL, client: ArxivClient, feeds: [String]? = nil, rules: DiscoveryRules,
                                feedData: Data? = nil, dryRun: Bool = false) throws -> DiscoveryReport {
        let feed: AnnouncementFeed
        if let feedData {
            feed = try AnnouncementFeed.parse(feedData, source: "feed file")
        } else {
            feed = try client.announcements(categories: feeds ?? rules.feeds)
        }
        let catalog = try Catalog(directory: directory)
        let dismissedList = try DismissedList(url: catalog.dismissedFile)
        var seen = Set<String>()
        var wanted: [(Announcement, [String])] = []
        var dismissed: [String] = []
        var known: [String] = []
        var examined = 0
        for entry in feed.entries where seen.insert(entry.id.base).inserted {
            examined += 1
            guard rules.announceTypes.contains(entry.announceType) else { continue }
            let hits = rules.matches(title: entry.title, abstract: entry.abstract)
            if hits.isEmpty { continue }
            if dismissedList.contains(entry.id) { dismissed.append(entry.id.base); continue }
            if catalog.file(for: entry.id.base) != nil || FileManager.default.fileExists(atPath: catalog.url(for: entry.id).path) {
                known.append(entry.id.base); continue
            }
            wanted.append((entry, hits))
        }
        var proposed: [DiscoveryCandidate] = []
        if !wanted.isEmpty {
            let resolved = try client.fetch(ids: wanted.map { $0.0.id.unversioned })
            _ = try CatalogSync.apply(entries: resolved, to: catalog, status: "candidate", dryRun: dryRun)
            proposed = wanted.map { DiscoveryCandidate(id: $0.0.id.base, title: $0.0.title, announceType: $0.0.announceType.rawValue, matched: $0.1) }
        }
        return DiscoveryReport(examined: examined, proposed: proposed, dismissed: dismissed, known: known)
    }

    /// Dismisses a paper: remembers its id and removes its file if it is an unannotated candidate.
    /// Returns whether a candidate file was removed.
    @discardableResult
    public static func dismiss(_ rawID: String, directory: URL, reason: String? = nil) throws -> Bool {
        let id = try PaperID(rawID)
        let catalog = try Catalog(directory: directory)
        var list = try DismissedList(url: catalog.dismissedFile)
        var removed = false
        if let file = catalog.file(for: id.base) {
            guard file.paper.isCandidate else {
                throw PapersError.malformedPaperFile(path: file.path, message: "is annotated (no 'status: candidate'); remove it by hand if it should go")
            }
            do { try FileManager.default.removeItem(atPath: file.path) } catch {
                throw PapersError.io(path: file.path, message: "cannot remove the candidate file")
            }
            removed = true
        }
        try list.add(id, reason: reason)
        return removed
    }
}
