import Foundation
import Yams

/// A paper file on disk: YAML front matter between `---` lines, then Markdown.
///
/// The file keeps its original text. Sync rewrites only the top-level blocks of the
/// sync fields (`SyncFields.keys`) whose value changed; every other byte — hand-written
/// fields, comments, the body — stays identical.
public struct PaperFile: Sendable {
    /// Where the file came from (for messages).
    public let path: String
    /// The file's complete text.
    public let text: String
    /// The parsed paper.
    public let paper: Paper
    /// Top-level keys present in the front matter.
    public let keys: Set<String>
    /// Front-matter lines, grouped into top-level blocks.
    let segments: [FrontMatterSegment]
    /// Text before the front matter's first line (the opening `---` line) and after its last (closing line + body).
    let opening: String
    let closing: String

    /// Parses a paper file's text.
    public init(text: String, path: String) throws {
        self.path = path
        self.text = text
        let (opening, front, closing, body) = try Self.split(text, path: path)
        self.opening = opening
        self.closing = closing
        self.segments = FrontMatterSegment.segment(front)
        let node: Node?
        do {
            node = try Yams.compose(yaml: front)
        } catch {
            throw PapersError.malformedPaperFile(path: path, message: "front matter is not valid YAML: \(error)")
        }
        guard let mapping = node?.mapping else {
            throw PapersError.malformedPaperFile(path: path, message: "front matter must be a YAML mapping of fields")
        }
        var fields: [String: Node] = [:]
        for (k, v) in mapping {
            guard let key = k.string else {
                throw PapersError.malformedPaperFile(path: path, message: "front matter keys must be plain strings")
            }
            fields[key] = v
        }
        self.keys = Set(fields.keys)
        let reader = FieldReader(path: path, fields: fields)
        let rawID = try reader.string("id") ?? ""
        var id = rawID
        var version = try reader.int("version")
        if let parsed = try? PaperID(rawID) {
            id = parsed.base
            if version == nil { version = parsed.version }
        }
        self.paper = Paper(
            id: id, version: version, title: collapseWhitespace(try reader.string("title") ?? ""),
            authors: try reader.list("authors").map(collapseWhitespace), published: try reader.string("published"),
            updated: try reader.string("updated"), primaryCategory: try reader.string("primary_category"),
            categories: try reader.list("categories"), abstract: collapseWhitespace(try reader.string("abstract") ?? ""),
            doi: try reader.string("doi"), journalRef: try reader.string("journal_ref").map(collapseWhitespace),
            comment: try reader.string("comment").map(collapseWhitespace), url: try reader.string("url"),
            families: try reader.list("families"), methods: try reader.list("methods"), tags: try reader.list("tags"),
            reproductions: try reader.list("reproductions"), status: try reader.string("status"), body: body)
    }

    /// Reads and parses a file.
    public init(contentsOf url: URL) throws {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PapersError.io(path: url.path, message: "cannot read as UTF-8 text (\(error.localizedDescription))")
        }
        try self.init(text: text, path: url.path)
    }

    /// Splits into (opening `---` line, front matter, closing line + rest, body).
    private static func split(_ text: String, path: String) throws -> (String, String, String, String) {
        // Line starts, found on UTF-8 bytes so that "\r\n" (one Character) also ends a line.
        let all = text
        let offsets = lineStarts(all)
        func line(_ i: Int) -> Substring { all[offsets[i]..<(i + 1 < offsets.count ? offsets[i + 1] : all.endIndex)] }
        func isMarker(_ line: Substring, _ markers: [String]) -> Bool {
            var t = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.hasPrefix("\u{FEFF}") { t.removeFirst() }
            return markers.contains(t)
        }
        guard !offsets.isEmpty, isMarker(line(0), ["---"]) else {
            throw PapersError.malformedPaperFile(path: path, message: "expected the file to start with a '---' line opening the YAML front matter")
        }
        guard offsets.count > 1, let end = (1..<offsets.count).first(where: { isMarker(line($0), ["---", "..."]) }) else {
            throw PapersError.malformedPaperFile(path: path, message: "front matter is not closed by a '---' line")
        }
        let opening = String(all[offsets[0]..<offsets[1]])
        let front = String(all[offsets[1]..<offsets[end]])
        let closing = String(all[offsets[end]...])
        let bodyStart = end + 1 < offsets.count ? offsets[end + 1] : all.endIndex
        let body = String(all[bodyStart...])
        return (opening, front, closing, body)
    }

    /// The file text with the sync fields replaced by `new`. Blocks whose value did not change are kept
    /// byte for byte; so are all other fields and the body.
    public func rewriting(syncFields new: SyncFields) -> String {
        let old = paper.syncFields
        let changed = Set(new.changedKeys(from: old))
        if changed.isEmpty { return text }
        var segs = segments
        for key in SyncFields.keys where changed.contains(key) {
            let rendered = SyncFieldWriter.render(key: key, of: new)
            if let i = segs.firstIndex(where: { $0.key == key }) {
                if let r = rendered { segs[i].text = r } else { segs.remove(at: i) }
            } else if let r = rendered {
                // Insert after the closest preceding sync key that is present, else before the first sync key.
                let order = SyncFields.keys
                let myRank = order.firstIndex(of: key)!
                var insertAt = 0
                if let prev = segs.lastIndex(where: { s in
                    guard let k = s.key, let rank = order.firstIndex(of: k) else { return false }
                    return rank < myRank
                }) {
                    insertAt = prev + 1
                } else if let next = segs.firstIndex(where: { s in s.key.map(order.contains) ?? false }) {
                    insertAt = next
                }
                segs.insert(FrontMatterSegment(key: key, text: r), at: insertAt)
            }
        }
        var front = segs.map(\.text).joined()
        if !front.isEmpty, !front.hasSuffix("\n") { front += "\n" }
        return opening + front + closing
    }

    /// The text of a new, unannotated paper file (status `candidate`).
    public static func newFile(syncFields f: SyncFields, status: String = "candidate") -> String {
        var out = "---\n"
        for key in SyncFields.keys {
            if let r = SyncFieldWriter.render(key: key, of: f) { out += r }
        }
        out += "status: \(status)\nfamilies: []\nmethods: []\ntags: []\nreproductions: []\n---\n"
        out += "\n## Summary\n\n## Key claims\n\n## Method\n\n## Reproduction notes\n"
        return out
    }
}

/// One top-level block of the front matter: a key line with its continuation lines, or
/// other lines (comments, blank lines) kept as they are.
struct FrontMatterSegment: Sendable {
    var key: String?
    var text: String

    static func segment(_ front: String) -> [FrontMatterSegment] {
        var result: [FrontMatterSegment] = []
        var pendingOther = ""
        let starts = lineStarts(front)
        let lines = starts.indices.map { i in front[starts[i]..<(i + 1 < starts.count ? starts[i + 1] : front.endIndex)] }
        for line in lines {
            let content = line.trimmingCharacters(in: .newlines)
            if let key = topLevelKey(content) {
                if !pendingOther.isEmpty { result.append(FrontMatterSegment(key: nil, text: pendingOther)); pendingOther = "" }
                result.append(FrontMatterSegment(key: key, text: String(line)))
            } else if content.trimmingCharacters(in: .whitespaces).isEmpty || content.hasPrefix("#") {
                pendingOther += line
            } else if !result.isEmpty, result[result.count - 1].key != nil {
                // Indented continuation or a `- item` at column 0: belongs to the open block.
                result[result.count - 1].text += pendingOther + line
                pendingOther = ""
            } else {
                pendingOther += line
            }
        }
        if !pendingOther.isEmpty { result.append(FrontMatterSegment(key: nil, text: pendingOther)) }
        return result
    }

    /// `key:` at column 0 (plain or quoted key), else nil.
    static func topLevelKey(_ line: String) -> String? {
        guard let first = line.first, !first.isWhitespace, first != "#", first != "-" else { return nil }
        var key: String
        var rest: Substring
        if first == "\"" || first == "'" {
            guard let close = line.dropFirst().firstIndex(of: first) else { return nil }
            key = String(line[line.index(after: line.startIndex)..<close])
            rest = line[line.index(after: close)...]
        } else {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            key = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            rest = line[colon...]
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else { return nil }
        }
        rest = rest.drop(while: { $0 == " " })
        guard rest.first == ":" else { return nil }
        let after = rest.dropFirst()
        guard after.isEmpty || after.first == " " || after.first == "\t" else { return nil }
        key = key.trimmingCharacters(in: .whitespaces)
        return key.isEmpty ? nil : key
    }
}

/// Writes sync fields in one stable format: quoted strings, block lists of authors, flow
/// lists of categories, and the abstract as a folded block wrapped at 100 columns.
enum SyncFieldWriter {
    static func render(key: String, of f: SyncFields) -> String? {
        switch key {
        case "id": return "id: \(quote(f.id))\n"
        case "version": return f.version.map { "version: \($0)\n" }
        case "title": return "title: \(quote(f.title))\n"
        case "authors":
            if f.authors.isEmpty { return "authors: []\n" }
            return "authors:\n" + f.authors.map { "  - \(quote($0))\n" }.joined()
        case "published": return f.published.map { "published: \(quote($0))\n" }
        case "updated": return f.updated.map { "updated: \(quote($0))\n" }
        case "primary_category": return f.primaryCategory.map { "primary_category: \(quote($0))\n" }
        case "categories": return "categories: [" + f.categories.map(quote).joined(separator: ", ") + "]\n"
        case "abstract": return "abstract: " + folded(f.abstract)
        case "doi": return f.doi.map { "doi: \(quote($0))\n" }
        case "journal_ref": return f.journalRef.map { "journal_ref: \(quote($0))\n" }
        case "comment": return f.comment.map { "comment: \(quote($0))\n" }
        default: return nil
        }
    }

    /// A YAML double-quoted scalar.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F || u.value == 0x85 || u.value == 0x2028 || u.value == 0x2029
                    || u.value == 0xFEFF {
                    out += String(format: "\\u%04X", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// `>-` folded block of whitespace-collapsed text, wrapped at spaces, two-space indent.
    /// Falls back to a quoted scalar for text that folding cannot carry exactly.
    static func folded(_ text: String) -> String {
        let t = collapseWhitespace(text)
        guard !t.isEmpty, t == text, !t.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0xFEFF }) else {
            return quote(text) + "\n"
        }
        var lines: [String] = []
        var current = ""
        for word in t.split(separator: " ") {
            if current.isEmpty { current = String(word) }
            else if current.count + 1 + word.count > 98 { lines.append(current); current = String(word) }
            else { current += " " + word }
        }
        if !current.isEmpty { lines.append(current) }
        return ">-\n" + lines.map { "  " + $0 + "\n" }.joined()
    }
}

/// Lenient typed access to front-matter fields.
struct FieldReader {
    let path: String
    let fields: [String: Node]

    private func isNull(_ n: Node) -> Bool {
        if n.null != nil { return true }
        if let s = n.scalar, s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) { return true }
        return false
    }

    func string(_ key: String) throws -> String? {
        guard let n = fields[key], !isNull(n) else { return nil }
        guard let s = n.scalar?.string else { throw PapersError.invalidField(path: path, field: key, expected: "a text value") }
        return s
    }

    func int(_ key: String) throws -> Int? {
        guard let s = try string(key) else { return nil }
        let digits = s.hasPrefix("v") ? String(s.dropFirst()) : s
        guard let v = Int(digits), v >= 1 else {
            throw PapersError.invalidField(path: path, field: key, expected: "a positive whole number, got '\(s)'")
        }
        return v
    }

    func list(_ key: String) throws -> [String] {
        guard let n = fields[key], !isNull(n) else { return [] }
        if let seq = n.sequence {
            return try seq.map { item in
                guard let s = item.scalar?.string else {
                    throw PapersError.invalidField(path: path, field: key, expected: "a list of text values")
                }
                return s
            }
        }
        if let s = n.scalar?.string { return [s] }
        throw PapersError.invalidField(path: path, field: key, expected: "a list of text values")
    }
}

/// The start index of every line of `text` (split after each "\n" byte); empty text has none.
func lineStarts(_ text: String) -> [String.Index] {
    guard !text.isEmpty else { return [] }
    var starts = [text.startIndex]
    let utf8 = text.utf8
    var i = utf8.startIndex
    while let nl = utf8[i...].firstIndex(of: 0x0A) {
        i = utf8.index(after: nl)
        if i == utf8.endIndex { break }
        starts.append(i)
    }
    return starts
}
