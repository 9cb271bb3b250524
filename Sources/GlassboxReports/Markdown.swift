import Foundation

/// Column alignment in a Markdown table.
public enum ColumnAlignment: String, Sendable, Equatable {
    case left, center, right

    var delimiter: String {
        switch self {
        case .left: return ":---"
        case .center: return ":---:"
        case .right: return "---:"
        }
    }
}

/// A GitHub-flavoured Markdown table. Cells are escaped (`|`, newlines) when rendered.
public struct MarkdownTable: Sendable, Equatable {
    public var headers: [String]
    public var alignments: [ColumnAlignment]
    public var rows: [[String]]

    public init(headers: [String], alignments: [ColumnAlignment]? = nil, rows: [[String]] = []) {
        self.headers = headers
        self.alignments = alignments ?? Array(repeating: .left, count: headers.count)
        self.rows = rows
    }

    public mutating func addRow(_ cells: [String]) { rows.append(cells) }

    public func render() -> String {
        let n = headers.count
        func line(_ cells: [String]) -> String {
            let padded = (0..<n).map { $0 < cells.count ? Markdown.escapeTableCell(cells[$0]) : "" }
            return "| " + padded.joined(separator: " | ") + " |"
        }
        var out = [line(headers)]
        out.append("|" + (0..<n).map { " " + ($0 < alignments.count ? alignments[$0] : .left).delimiter + " " }.joined(separator: "|") + "|")
        out += rows.map(line)
        return out.joined(separator: "\n")
    }
}

/// Inline Markdown helpers: escaping, links, images, badges.
public enum Markdown {
    /// Escapes characters that Markdown would interpret in running text.
    public static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "\\", "`", "*", "_", "[", "]", "<", ">", "#", "|":
                out.append("\\")
                out.append(ch)
            default:
                out.append(ch)
            }
        }
        return out
    }

    /// A table cell: pipes escaped, line breaks become `<br>`.
    public static func escapeTableCell(_ text: String) -> String {
        text.replacingOccurrences(of: "\\|", with: "|")
            .replacingOccurrences(of: "|", with: "\\|")
            .replacingOccurrences(of: "\r\n", with: "<br>")
            .replacingOccurrences(of: "\n", with: "<br>")
    }

    /// Inline code that survives backticks in its content.
    public static func code(_ text: String) -> String {
        var fence = "`"
        while text.contains(fence) { fence += "`" }
        let pad = text.hasPrefix("`") || text.hasSuffix("`") ? " " : ""
        return fence + pad + text + pad + fence
    }

    /// `[text](url)`; spaces and parentheses in the URL are percent-encoded.
    public static func link(_ text: String, to url: String) -> String {
        "[\(escapeLinkText(text))](\(encodeURL(url)))"
    }

    /// `![alt](url)`.
    public static func image(_ alt: String, source url: String) -> String {
        "![\(escapeLinkText(alt))](\(encodeURL(url)))"
    }

    /// A shields.io static badge, e.g. `badge("reproduced", "3/3", color: "brightgreen")`,
    /// optionally linking somewhere.
    public static func badge(label: String, message: String, color: String, link: String? = nil) -> String {
        func part(_ s: String) -> String {
            // shields.io: '-' → '--', '_' → '__', space → '_'; the rest percent-encoded.
            let doubled = s.replacingOccurrences(of: "-", with: "--").replacingOccurrences(of: "_", with: "__")
                .replacingOccurrences(of: " ", with: "_")
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-_.~")
            return doubled.addingPercentEncoding(withAllowedCharacters: allowed) ?? doubled
        }
        let url = "https://img.shields.io/badge/\(part(label))-\(part(message))-\(part(color))"
        let img = "![\(escapeLinkText("\(label): \(message)"))](\(url))"
        guard let link else { return img }
        return "[\(img)](\(encodeURL(link)))"
    }

    static func escapeLinkText(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "[", with: "\\[")
            .replacingOccurrences(of: "]", with: "\\]")
    }

    static func encodeURL(_ url: String) -> String {
        url.replacingOccurrences(of: " ", with: "%20")
            .replacingOccurrences(of: "(", with: "%28")
            .replacingOccurrences(of: ")", with: "%29")
    }
}

/// Builds a Markdown document block by block; `render()` joins blocks with blank lines
/// and ends with exactly one newline.
public struct MarkdownDocument: Sendable, Equatable {
    public private(set) var blocks: [String] = []

    public init() {}

    /// Heading at `level` 1…6; the text is taken literally (no Markdown inside).
    public mutating func heading(_ text: String, level: Int = 1) {
        let level = min(6, max(1, level))
        blocks.append(String(repeating: "#", count: level) + " " + text.replacingOccurrences(of: "\n", with: " "))
    }

    /// A paragraph of Markdown text (inline markup allowed; use `Markdown.escape` for literal text).
    public mutating func paragraph(_ markdown: String) {
        let trimmed = markdown.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { blocks.append(trimmed) }
    }

    public mutating func table(_ table: MarkdownTable) { blocks.append(table.render()) }

    public mutating func table(headers: [String], alignments: [ColumnAlignment]? = nil, rows: [[String]]) {
        table(MarkdownTable(headers: headers, alignments: alignments, rows: rows))
    }

    /// A fenced code block; the fence is longer than any backtick run inside.
    public mutating func codeBlock(_ code: String, language: String = "") {
        var fence = "```"
        while code.contains(fence) { fence += "`" }
        let body = code.hasSuffix("\n") ? String(code.dropLast()) : code
        blocks.append(fence + language + "\n" + body + "\n" + fence)
    }

    /// A bulleted list; each item is Markdown.
    public mutating func bulletList(_ items: [String]) {
        guard !items.isEmpty else { return }
        blocks.append(items.map { "- " + $0.replacingOccurrences(of: "\n", with: "\n  ") }.joined(separator: "\n"))
    }

    /// A quotation block.
    public mutating func quote(_ markdown: String) {
        blocks.append(markdown.split(separator: "\n", omittingEmptySubsequences: false).map { "> " + $0 }.joined(separator: "\n"))
    }

    /// An image on its own line, with an optional italic caption below.
    public mutating func figure(_ alt: String, source: String, caption: String? = nil) {
        var block = Markdown.image(alt, source: source)
        if let caption, !caption.isEmpty { block += "\n\n*" + caption + "*" }
        blocks.append(block)
    }

    /// Raw Markdown, appended as is (e.g. an HTML comment).
    public mutating func raw(_ markdown: String) { blocks.append(markdown) }

    public mutating func rule() { blocks.append("---") }

    public func render() -> String {
        blocks.joined(separator: "\n\n") + "\n"
    }
}
