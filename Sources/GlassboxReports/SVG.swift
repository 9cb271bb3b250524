// GlassboxReports — Markdown documents, tables and SVG figures (Foundation only, no numerics).
import Foundation

/// Something that renders itself as a standalone SVG document.
///
/// Every chart in this module is a plain value; rendering is a pure function of it,
/// so the same value always gives byte-identical SVG.
public protocol SVGRenderable: Sendable {
    /// The complete SVG document (with XML declaration-free `<svg>` root).
    func svg() -> String
}

/// Escapes text for XML character data and attribute values.
public func xmlEscape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default:
            // Control characters other than tab/newline are not allowed in XML 1.0.
            if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r" {
                out += " "
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Locale-independent, deterministic number formatting.
public enum NumberFormat {
    /// `value` with at most `decimals` decimals, trailing zeros trimmed, never `-0`.
    public static func fixed(_ value: Double, decimals: Int = 2) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "∞" : "-∞") }
        let decimals = max(0, min(decimals, 12))
        var p: Double = 1
        for _ in 0..<decimals { p *= 10 }
        let scaled = (value * p).rounded()
        if scaled == 0 { return "0" }
        if abs(scaled) >= 9.0e15 { return String(describing: value) }
        let negative = scaled < 0
        let magnitude = UInt64(abs(scaled))
        let pInt = UInt64(p)
        let whole = magnitude / pInt
        var frac = magnitude % pInt
        var text = String(whole)
        if decimals > 0 && frac > 0 {
            var digits = String(frac)
            digits = String(repeating: "0", count: decimals - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
            frac = 0
        }
        return negative ? "-" + text : text
    }

    /// `value` with about `digits` significant digits (plain notation between 1e-4 and 1e6).
    public static func significant(_ value: Double, digits: Int = 3) -> String {
        guard value.isFinite else { return fixed(value) }
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e6 || magnitude < 1e-4 { return scientific(value, digits: digits) }
        let exponent = Int(floor(log10(magnitude)))
        let decimals = max(0, digits - 1 - exponent)
        return fixed(value, decimals: decimals)
    }

    /// Scientific notation such as `1.5e-5`.
    public static func scientific(_ value: Double, digits: Int = 3) -> String {
        guard value.isFinite, value != 0 else { return fixed(value) }
        var exponent = Int(floor(log10(abs(value))))
        var mantissa = value / pow(10, Double(exponent))
        // Rounding can carry the mantissa to 10.
        if abs((mantissa * pow(10, Double(digits - 1))).rounded()) >= pow(10, Double(digits)) {
            exponent += 1
            mantissa = value / pow(10, Double(exponent))
        }
        return fixed(mantissa, decimals: max(0, digits - 1)) + "e" + String(exponent)
    }
}

/// Builds SVG markup element by element. Attribute values are escaped; numbers are
/// written with two decimals at most, so output is stable across platforms.
public struct SVGWriter: Sendable {
    public private(set) var width: Double
    public private(set) var height: Double
    private var lines: [String] = []
    private var depth = 1

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// An attribute value: text is escaped, numbers are formatted deterministically.
    public enum Value: Sendable, ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
        case text(String)
        case number(Double)
        public init(stringLiteral value: String) { self = .text(value) }
        public init(floatLiteral value: Double) { self = .number(value) }
        public init(integerLiteral value: Int) { self = .number(Double(value)) }
        var rendered: String {
            switch self {
            case .text(let s): return xmlEscape(s)
            case .number(let x): return NumberFormat.fixed(x, decimals: 2)
            }
        }
    }

    private static func attributes(_ attrs: [(String, Value)]) -> String {
        attrs.map { " \($0.0)=\"\($0.1.rendered)\"" }.joined()
    }

    private mutating func append(_ line: String) {
        lines.append(String(repeating: "  ", count: depth) + line)
    }

    /// A self-closing element, or one with escaped text content.
    public mutating func element(_ name: String, _ attrs: [(String, Value)], text: String? = nil) {
        if let text {
            append("<\(name)\(Self.attributes(attrs))>\(xmlEscape(text))</\(name)>")
        } else {
            append("<\(name)\(Self.attributes(attrs))/>")
        }
    }

    /// Opens a container element (`g`, …); pair with `close`.
    public mutating func open(_ name: String, _ attrs: [(String, Value)] = []) {
        append("<\(name)\(Self.attributes(attrs))>")
        depth += 1
    }

    public mutating func close(_ name: String) {
        depth -= 1
        append("</\(name)>")
    }

    /// Text with the shared font settings. `anchor` is start | middle | end.
    public mutating func text(
        _ content: String, x: Double, y: Double, size: Double = 11, anchor: String = "start",
        weight: String? = nil, fill: String = "#222", rotate: Double? = nil, baseline: String? = nil
    ) {
        var attrs: [(String, Value)] = [("x", .number(x)), ("y", .number(y)), ("font-size", .number(size))]
        if anchor != "start" { attrs.append(("text-anchor", .text(anchor))) }
        if let weight { attrs.append(("font-weight", .text(weight))) }
        if fill != "#222" { attrs.append(("fill", .text(fill))) }
        if let baseline { attrs.append(("dominant-baseline", .text(baseline))) }
        if let rotate {
            attrs.append(("transform", .text("rotate(\(NumberFormat.fixed(rotate)) \(NumberFormat.fixed(x)) \(NumberFormat.fixed(y)))")))
        }
        element("text", attrs, text: content)
    }

    /// Small grey text with a white outline, readable over lines (reference-line labels).
    public mutating func haloText(_ content: String, x: Double, y: Double, size: Double, anchor: String = "start", fill: String) {
        var attrs: [(String, Value)] = [("x", .number(x)), ("y", .number(y)), ("font-size", .number(size))]
        if anchor != "start" { attrs.append(("text-anchor", .text(anchor))) }
        attrs += [("fill", .text(fill)), ("stroke", "#ffffff"), ("stroke-width", 3), ("paint-order", "stroke")]
        element("text", attrs, text: content)
    }

    /// Closes the document: white background (readable in GitHub's dark mode), shared font.
    public func render(title: String?) -> String {
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(NumberFormat.fixed(width))\" height=\"\(NumberFormat.fixed(height))\" viewBox=\"0 0 \(NumberFormat.fixed(width)) \(NumberFormat.fixed(height))\" font-family=\"\(xmlEscape(SVGStyle.fontFamily))\">\n"
        if let title { out += "  <title>\(xmlEscape(title))</title>\n" }
        out += "  <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
        out += lines.joined(separator: "\n")
        if !lines.isEmpty { out += "\n" }
        out += "</svg>\n"
        return out
    }
}

/// Shared visual constants.
public enum SVGStyle {
    public static let fontFamily = "-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
    public static let titleSize: Double = 14
    public static let labelSize: Double = 12
    public static let tickSize: Double = 10.5
    public static let gridColor = "#e6e6e6"
    public static let axisColor = "#555555"
    /// Qualitative palette for series (Tableau 10 hues).
    public static let palette = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
        "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    ]
    public static func seriesColor(_ index: Int) -> String { palette[index % palette.count] }

    /// Rough width of `text` at `size` (average glyph ≈ 0.58 em) for layout.
    public static func textWidth(_ text: String, size: Double) -> Double {
        Double(text.count) * size * 0.58
    }
}
