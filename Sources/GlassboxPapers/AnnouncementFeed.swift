import Foundation

/// One listing of arXiv's daily announcement feed (`rss.arxiv.org/atom/cs.LG`, or the RSS 2.0 form).
public struct Announcement: Sendable, Equatable, Codable {
    public enum AnnounceType: String, Sendable, Codable, CaseIterable {
        case new, cross, replace
        case replaceCross = "replace-cross"
    }
    /// The id with the announced version (`oai:arXiv.org:2203.01250v3` → 2203.01250v3).
    public var id: PaperID
    public var title: String
    /// The abstract, without the `arXiv:… Announce Type: … Abstract:` preamble.
    public var abstract: String
    /// Authors from `dc:creator` (one comma-separated string in the feed).
    public var authors: [String]
    public var categories: [String]
    public var announceType: AnnounceType
    public var published: String?
    public var journalReference: String?
    public var doi: String?
}

/// A daily announcement feed (Atom or RSS 2.0). Weekends and holidays give an empty feed.
public struct AnnouncementFeed: Sendable, Equatable {
    public var title: String
    public var entries: [Announcement]

    public static func parse(_ data: Data, source: String) throws -> AnnouncementFeed {
        let root = try XMLTreeNode.parse(data, source: source)
        let A = XMLNamespace.atom, X = XMLNamespace.arxiv, DC = XMLNamespace.dc
        // Atom: <feed><entry>; RSS 2.0: <rss><channel><item> (un-namespaced elements).
        let isAtom = root.namespace == A && root.name == "feed"
        let isRSS = root.namespace == "" && root.name == "rss"
        guard isAtom || isRSS else {
            throw PapersError.unexpectedFeed(source: source, message: "expected an arXiv announcement feed (<feed> or <rss>), found <\(root.name)>")
        }
        let ns = isAtom ? A : ""
        let container = isAtom ? root : (root.child("", "channel") ?? root)
        let items = container.children(ns, isAtom ? "entry" : "item")
        var out: [Announcement] = []
        for (i, item) in items.enumerated() {
            let idText = item.childText(ns, isAtom ? "id" : "guid") ?? item.childText(ns, "link") ?? ""
            let id: PaperID
            do { id = try PaperID(idText) } catch {
                throw PapersError.unexpectedFeed(source: source, message: "item \(i + 1): id '\(idText)' is not an arXiv id")
            }
            let typeText = item.childText(X, "announce_type") ?? Self.preambleType(item.childText(ns, isAtom ? "summary" : "description") ?? "")
            guard let typeText, let type = Announcement.AnnounceType(rawValue: typeText) else {
                throw PapersError.unexpectedFeed(source: source, message: "\(id): announce type '\(typeText ?? "")' is not new, cross, replace or replace-cross")
            }
            let rawSummary = item.childText(ns, isAtom ? "summary" : "description") ?? ""
            let categories: [String] = isAtom
                ? item.children(A, "category").compactMap { $0.attributes["term"] }
                : item.children("", "category").map { collapseWhitespace($0.text) }
            let creators = item.children(DC, "creator").map { collapseWhitespace($0.text) }
            out.append(Announcement(
                id: id, title: item.childText(ns, "title") ?? "", abstract: Self.stripPreamble(rawSummary),
                authors: creators.flatMap(Self.splitAuthors), categories: categories, announceType: type,
                published: item.childText(ns, isAtom ? "published" : "pubDate"),
                journalReference: item.childText(X, "journal_reference"), doi: item.childText(X, "DOI")))
        }
        return AnnouncementFeed(title: container.childText(ns, "title") ?? "", entries: out)
    }

    /// `arXiv:2203.01250v3 Announce Type: replace-cross Abstract: …` → the text after `Abstract:`.
    static func stripPreamble(_ s: String) -> String {
        guard s.hasPrefix("arXiv:"), let r = s.range(of: "Abstract:") else { return s }
        return s[r.upperBound...].trimmingCharacters(in: .whitespaces)
    }

    static func preambleType(_ s: String) -> String? {
        guard let r = s.range(of: "Announce Type:") else { return nil }
        return s[r.upperBound...].split(separator: " ").first.map(String.init)
    }

    /// `A. One, B. Two and C. Three` → three names.
    static func splitAuthors(_ s: String) -> [String] {
        s.components(separatedBy: ",").flatMap { $0.components(separatedBy: " and ") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
