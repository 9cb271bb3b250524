import Foundation

/// A recipe parameter as written in a manifest: any YAML value.
public indirect enum ParameterValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ParameterValue])
    case map([String: ParameterValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let l = try? c.decode([ParameterValue].self) { self = .list(l); return }
        self = .map(try c.decode([String: ParameterValue].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .list(let l): try c.encode(l)
        case .map(let m): try c.encode(m)
        }
    }

    /// Compact YAML-flow-like text: `[0, 0.9]`, `{a: 1}`.
    public var description: String {
        switch self {
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return formatGiven(d)
        case .string(let s): return s
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.keys.sorted().map { "\($0): \(m[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }

    /// Integers convert to doubles.
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    /// Doubles with an integral value convert to integers.
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int(d)
        default: return nil
        }
    }

    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var listValue: [ParameterValue]? { if case .list(let l) = self { return l } else { return nil } }
    public var mapValue: [String: ParameterValue]? { if case .map(let m) = self { return m } else { return nil } }
}

/// A number given by a person (a published value, a bound): shortest text that reads
/// back as the same Double, so `1.998046875` is not shown rounded.
public func formatGiven(_ x: Double) -> String {
    guard x.isFinite else { return formatMetric(x) }
    if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
    return "\(x)"
}

/// A number as printed in reports and tables: up to 6 significant digits, plain notation
/// for ordinary magnitudes, locale-independent.
public func formatMetric(_ x: Double) -> String {
    guard x.isFinite else { return x.isNaN ? "NaN" : (x > 0 ? "inf" : "-inf") }
    if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
    let magnitude = abs(x)
    if magnitude >= 1e6 || magnitude < 1e-4 {
        var s = String(format: "%.5e", x)
        // 1.50000e-05 → 1.5e-05
        if let e = s.firstIndex(of: "e") {
            var mantissa = String(s[..<e])
            while mantissa.hasSuffix("0") { mantissa.removeLast() }
            if mantissa.hasSuffix(".") { mantissa.removeLast() }
            s = mantissa + String(s[e...])
        }
        return s
    }
    let exponent = Int(floor(log10(magnitude)))
    let decimals = max(0, 5 - exponent)
    var s = String(format: "%.\(decimals)f", x)
    if s.contains(".") {
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
    }
    return s == "-0" ? "0" : s
}
