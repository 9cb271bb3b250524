import Foundation

/// One catalog entry: arXiv metadata (written by sync) and the hand-written annotation.
public struct Paper: Sendable, Equatable, Codable {
    // Sync fields (arXiv's own metadata).
    public var id: String
    public var version: Int?
    public var title: String
    public var authors: [String]
    public var published: String?
    public var updated: String?
    public var primaryCategory: String?
    public var categories: [String]
    public var abstract: String
    public var doi: String?
    public var journalRef: String?
    public var comment: String?
    // Hand-written fields.
    public var url: String?
    public var families: [String]
    public var methods: [String]
    public var tags: [String]
    public var reproductions: [String]
    public var status: String?
    /// The Markdown after the front matter, verbatim.
    public var body: String

    public init(id: String, version: Int? = nil, title: String, authors: [String] = [], published: String? = nil,
                updated: String? = nil, primaryCategory: String? = nil, categories: [String] = [], abstract: String = "",
                doi: String? = nil, journalRef: String? = nil, comment: String? = nil, url: String? = nil,
                families: [String] = [], methods: [String] = [], tags: [String] = [], reproductions: [String] = [],
                status: String? = nil, body: String = "") {
        self.id = id; self.version = version; self.title = title; self.authors = authors
        self.published = published; self.updated = updated; self.primaryCategory = primaryCategory
        self.categories = categories; self.abstract = abstract; self.doi = doi; self.journalRef = journalRef
        self.comment = comment; self.url = url; self.families = families; self.methods = methods; self.tags = tags
        self.reproductions = reproductions; self.status = status; self.body = body
    }

    enum CodingKeys: String, CodingKey {
        case id, version, title, authors, published, updated
        case primaryCategory = "primary_category"
        case categories, abstract, doi
        case journalRef = "journal_ref"
        case comment, url, families, methods, tags, reproductions, status, body
    }

    /// True for an unannotated paper proposed by discovery or added by sync.
    public var isCandidate: Bool { status == "candidate" }
    /// The year of first publication (v1), from `published`.
    public var year: Int? {
        guard let p = published, p.count >= 4 else { return nil }
        return Int(p.prefix(4))
    }
    /// The parsed id, when it is well-formed.
    public var paperID: PaperID? { try? PaperID(id) }

    /// The body's `## Heading` sections, keyed by heading text, content trimmed.
    public var sections: [String: String] { MarkdownSections.parse(body) }

    /// The content of the `## name` section, matching the heading case-insensitively.
    public func section(_ name: String) -> String? {
        sections.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// A one-line summary: the first sentence of `## Summary`, else of the abstract.
    public var oneLineSummary: String {
        let summary = section("Summary").map(Self.plainText) ?? ""
        let source = summary.isEmpty ? abstract : summary
        return Self.firstSentence(of: source)
    }

    /// The metadata that sync compares and writes.
    public var syncFields: SyncFields {
        SyncFields(id: id, version: version, title: title, authors: authors, published: published, updated: updated,
                   primaryCategory: primaryCategory, categories: categories, abstract: abstract, doi: doi,
                   journalRef: journalRef, comment: comment)
    }

    static func plainText(_ markdown: String) -> String {
        markdown.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    static func firstSentence(of text: String) -> String {
        let collapsed = collapseWhitespace(text)
        var i = collapsed.startIndex
        while i < collapsed.endIndex {
            let c = collapsed[i]
            let next = collapsed.index(after: i)
            if c == "." || c == "!" || c == "?" {
                // A sentence ends at punctuation followed by a space and an upper-case letter, or at the end.
                if next == collapsed.endIndex { return collapsed }
                if collapsed[next] == " " {
                    let after = collapsed.index(after: next)
                    if after < collapsed.endIndex, collapsed[after].isUppercase {
                        return String(collapsed[...i])
                    }
                }
            }
            i = next
        }
        return collapsed
    }
}

/// The fields arXiv owns. Sync writes exactly these.
public struct SyncFields: Sendable, Equatable, Codable {
    public var id: String
    public var version: Int?
    public var title: String
    public var authors: [String]
    public var published: String?
    public var updated: String?
    public var primaryCategory: String?
    public var categories: [String]
    public var abstract: String
    public var doi: String?
    public var journalRef: String?
    public var comment: String?

    public init(id: String, version: Int?, title: String, authors: [String], published: String?, updated: String?,
                primaryCategory: String?, categories: [String], abstract: String, doi: String?, journalRef: String?,
                comment: String?) {
        self.id = id; self.version = version; self.title = title; self.authors = authors; self.published = published
        self.updated = updated; self.primaryCategory = primaryCategory; self.categories = categories
        self.abstract = abstract; self.doi = doi; self.journalRef = journalRef; self.comment = comment
    }

    /// The YAML keys in the order sync writes them.
    public static let keys = ["id", "version", "title", "authors", "published", "updated", "primary_category",
                              "categories", "abstract", "doi", "journal_ref", "comment"]

    /// The names of the fields that differ between two records, in key order.
    public func changedKeys(from old: SyncFields) -> [String] {
        var changed: [String] = []
        if id != old.id { changed.append("id") }
        if version != old.version { changed.append("version") }
        if title != old.title { changed.append("title") }
        if authors != old.authors { changed.append("authors") }
        if published != old.published { changed.append("published") }
        if updated != old.updated { changed.append("updated") }
        if primaryCategory != old.primaryCategory { changed.append("primary_category") }
        if categories != old.categories { changed.append("categories") }
        if abstract != old.abstract { changed.append("abstract") }
        if doi != old.doi { changed.append("doi") }
        if journalRef != old.journalRef { changed.append("journal_ref") }
        if comment != old.comment { changed.append("comment") }
        return changed
    }
}

/// Collapses runs of whitespace (including newlines) into single spaces and trims the ends.
public func collapseWhitespace(_ s: String) -> String {
    s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
}

enum MarkdownSections {
    /// Splits Markdown at level-2 headings (`## Title`).
    static func parse(_ body: String) -> [String: String] {
        var result: [String: String] = [:]
        var current: String?
        var lines: [Substring] = []
        var inFence = false
        func flush() {
            if let c = current {
                result[c] = lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        for rawLine in body.components(separatedBy: "\n") {
            let line = rawLine.hasSuffix("\r") ? Substring(rawLine.dropLast()) : Substring(rawLine)
            if line.hasPrefix("```") { inFence.toggle() }
            if !inFence, line.hasPrefix("## ") {
                flush()
                current = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
                lines = []
            } else {
                lines.append(line)
            }
        }
        flush()
        return result
    }
}
