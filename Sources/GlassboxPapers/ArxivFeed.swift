import Foundation

/// One article of an arXiv API response.
public struct ArxivEntry: Sendable, Equatable, Codable {
    public struct Author: Sendable, Equatable, Codable {
        public var name: String
        public var affiliations: [String]
    }
    public struct Link: Sendable, Equatable, Codable {
        public var href: String
        public var rel: String?
        public var type: String?
        public var title: String?
    }
    /// The id as arXiv printed it (with the version when arXiv gave one).
    public var id: PaperID
    public var title: String
    public var summary: String
    public var authors: [Author]
    public var published: String
    public var updated: String
    public var primaryCategory: String?
    public var categories: [String]
    public var comment: String?
    public var journalRef: String?
    public var doi: String?
    public var links: [Link]

    /// The version: from the id, else from the abstract link (`…v1`).
    public var version: Int? {
        if let v = id.version { return v }
        for link in links where link.rel == "alternate" || link.title == "pdf" {
            if let parsed = try? PaperID(link.href), parsed.base == id.base, let v = parsed.version { return v }
        }
        return nil
    }

    /// The catalog's sync fields for this entry.
    public var syncFields: SyncFields {
        SyncFields(id: id.base, version: version, title: title, authors: authors.map(\.name), published: published,
                   updated: updated, primaryCategory: primaryCategory, categories: categories, abstract: summary,
                   doi: doi, journalRef: journalRef, comment: comment)
    }
}

extension PaperID: Codable {
    public init(from decoder: Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(versioned)
    }
}

/// An arXiv API response page.
public struct ArxivFeed: Sendable, Equatable {
    public var title: String
    public var selfLink: String?
    public var updated: String?
    public var totalResults: Int
    public var startIndex: Int
    public var itemsPerPage: Int
    public var entries: [ArxivEntry]

    /// Parses an Atom response of the query API. The API's error entry (a single entry titled
    /// `Error`, id under `…/api/errors`, served with HTTP 200) becomes `PapersError.arxivError`.
    public static func parse(_ data: Data, source: String) throws -> ArxivFeed {
        let root = try XMLTreeNode.parse(data, source: source)
        let A = XMLNamespace.atom, O = XMLNamespace.opensearch, X = XMLNamespace.arxiv
        guard root.namespace == A, root.name == "feed" else {
            throw PapersError.unexpectedFeed(source: source, message: "expected an Atom <feed> from the arXiv API, found <\(root.name)>")
        }
        func integer(_ name: String) throws -> Int? {
            guard let t = root.childText(O, name) else { return nil }
            guard let v = Int(t), v >= 0 else {
                throw PapersError.unexpectedFeed(source: source, message: "opensearch:\(name) should be a whole number, got '\(t)'")
            }
            return v
        }
        let rawEntries = root.children(A, "entry")
        // The error entry.
        for e in rawEntries {
            let idText = e.childText(A, "id") ?? ""
            if e.childText(A, "title") == "Error" || idText.contains("arxiv.org/api/errors") {
                let query = root.childText(A, "title") ?? source
                throw PapersError.arxivError(query: query, message: e.childText(A, "summary") ?? "unspecified error")
            }
        }
        var entries: [ArxivEntry] = []
        for (i, e) in rawEntries.enumerated() {
            guard let idText = e.childText(A, "id"), !idText.isEmpty else {
                throw PapersError.unexpectedFeed(source: source, message: "entry \(i + 1) has no <id>")
            }
            let id: PaperID
            do { id = try PaperID(idText) } catch {
                throw PapersError.unexpectedFeed(source: source, message: "entry \(i + 1): <id> '\(idText)' is not an arXiv abstract address")
            }
            guard let title = e.childText(A, "title"), !title.isEmpty else {
                throw PapersError.unexpectedFeed(source: source, message: "entry \(id) has no <title>")
            }
            let authors = e.children(A, "author").map { a in
                ArxivEntry.Author(name: a.childText(A, "name") ?? "",
                                  affiliations: a.children(X, "affiliation").map { collapseWhitespace($0.text) })
            }
            let categories = e.children(A, "category").compactMap { $0.attributes["term"] }
            let links = e.children(A, "link").compactMap { l -> ArxivEntry.Link? in
                guard let href = l.attributes["href"] else { return nil }
                return ArxivEntry.Link(href: href, rel: l.attributes["rel"], type: l.attributes["type"], title: l.attributes["title"])
            }
            entries.append(ArxivEntry(
                id: id, title: title, summary: e.childText(A, "summary") ?? "", authors: authors,
                published: e.childText(A, "published") ?? "", updated: e.childText(A, "updated") ?? "",
                primaryCategory: e.child(X, "primary_category")?.attributes["term"], categories: categories,
                comment: e.childText(X, "comment").flatMap { $0.isEmpty ? nil : $0 },
                journalRef: e.childText(X, "journal_ref").flatMap { $0.isEmpty ? nil : $0 },
                doi: e.childText(X, "doi").flatMap { $0.isEmpty ? nil : $0 }, links: links))
        }
        let selfLink = root.children(A, "link").first { $0.attributes["rel"] == "self" }?.attributes["href"]
        return ArxivFeed(title: root.childText(A, "title") ?? "", selfLink: selfLink, updated: root.childText(A, "updated"),
                         totalResults: try integer("totalResults") ?? entries.count, startIndex: try integer("startIndex") ?? 0,
                         itemsPerPage: try integer("itemsPerPage") ?? entries.count, entries: entries)
    }
}
