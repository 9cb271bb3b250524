import Foundation
import Yams

/// Which suite a target belongs to: `fast` runs in `check` and CI, `full` is paper-scale.
public enum Tier: String, Sendable, Codable, CaseIterable, Equatable {
    case fast, full
}

/// How a measured value is compared with the paper.
public enum ExpectationCheck: Sendable, Equatable, Codable, CustomStringConvertible {
    case equals(Double)
    case atLeast(Double)
    case atMost(Double)
    case between(Double, Double)
    case close(value: Double, tolerance: Double)

    /// Whether `measured` satisfies the check. `equals` allows only rounding noise
    /// (1e-9 relative), NaN never holds.
    public func holds(_ measured: Double) -> Bool {
        guard !measured.isNaN else { return false }
        switch self {
        case .equals(let v): return abs(measured - v) <= 1e-9 * max(1, abs(v))
        case .atLeast(let v): return measured >= v
        case .atMost(let v): return measured <= v
        case .between(let lo, let hi): return measured >= lo && measured <= hi
        case .close(let v, let tol): return abs(measured - v) <= tol
        }
    }

    /// Human-readable criterion: `= 5`, `≥ 0.9`, `≤ 0.1`, `in [0.2, 0.4]`, `0.5 ± 0.05`.
    public var description: String {
        switch self {
        case .equals(let v): return "= \(formatGiven(v))"
        case .atLeast(let v): return "≥ \(formatGiven(v))"
        case .atMost(let v): return "≤ \(formatGiven(v))"
        case .between(let lo, let hi): return "in [\(formatGiven(lo)), \(formatGiven(hi))]"
        case .close(let v, let tol): return "\(formatGiven(v)) ± \(formatGiven(tol))"
        }
    }

    private enum Key: String, CodingKey { case equals, at_least, at_most, between, close, value, tolerance }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let v = try c.decodeIfPresent(Double.self, forKey: .equals) { self = .equals(v); return }
        if let v = try c.decodeIfPresent(Double.self, forKey: .at_least) { self = .atLeast(v); return }
        if let v = try c.decodeIfPresent(Double.self, forKey: .at_most) { self = .atMost(v); return }
        if let v = try c.decodeIfPresent([Double].self, forKey: .between), v.count == 2 { self = .between(v[0], v[1]); return }
        let close = try c.nestedContainer(keyedBy: Key.self, forKey: .close)
        self = .close(value: try close.decode(Double.self, forKey: .value), tolerance: try close.decode(Double.self, forKey: .tolerance))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .equals(let v): try c.encode(v, forKey: .equals)
        case .atLeast(let v): try c.encode(v, forKey: .at_least)
        case .atMost(let v): try c.encode(v, forKey: .at_most)
        case .between(let lo, let hi): try c.encode([lo, hi], forKey: .between)
        case .close(let v, let tol):
            var n = c.nestedContainer(keyedBy: Key.self, forKey: .close)
            try n.encode(v, forKey: .value)
            try n.encode(tol, forKey: .tolerance)
        }
    }
}

/// `exact`: the paper's own number on the paper's own setup; `directional`: a sign or an
/// ordering that should transfer to our (different) model.
public enum ExpectationKind: String, Sendable, Codable, Equatable {
    case exact, directional
}

/// The published figure: a number, or a phrase when the paper states a shape
/// ("monotone decreasing") rather than a value.
public enum PublishedValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case number(Double)
    case text(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .text(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let d): try c.encode(d)
        case .text(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .number(let d): return formatGiven(d)
        case .text(let s): return s
        }
    }
}

/// One checkable number of a target.
public struct Expectation: Sendable, Equatable {
    public var metric: String
    public var published: PublishedValue
    public var check: ExpectationCheck
    public var kind: ExpectationKind
    /// Why this check is the right reading of the paper.
    public var why: String?
    /// For directional expectations: why the paper's exact number cannot transfer.
    public var whyDirectional: String?
    /// Where the published number is printed; defaults to the manifest's `source`.
    public var source: String?

    public init(metric: String, published: PublishedValue, check: ExpectationCheck, kind: ExpectationKind,
                why: String? = nil, whyDirectional: String? = nil, source: String? = nil) {
        self.metric = metric
        self.published = published
        self.check = check
        self.kind = kind
        self.why = why
        self.whyDirectional = whyDirectional
        self.source = source
    }
}

/// How far a metric may move from the committed baseline before `check` calls it a
/// regression. Absolute tolerances; metrics without one use `fallback`.
public struct DriftTolerance: Sendable, Equatable {
    public var fallback: Double?
    public var perMetric: [String: Double]

    /// Used when a manifest gives no drift at all: rounding noise only (1e-6, relative
    /// to the baseline's magnitude when it exceeds 1).
    public static let defaultRelative = 1e-6

    public init(fallback: Double? = nil, perMetric: [String: Double] = [:]) {
        self.fallback = fallback
        self.perMetric = perMetric
    }

    /// The allowed |measured − baseline| for `metric` around `baseline`.
    public func tolerance(for metric: String, baseline: Double) -> Double {
        if let t = perMetric[metric] { return t }
        if let t = fallback { return t }
        return Self.defaultRelative * max(1, abs(baseline))
    }
}

/// A reproduction target: one checkable claim of one paper (`reproductions/<slug>.yaml`).
public struct Manifest: Sendable, Equatable {
    public var id: String
    public var paper: String
    public var claim: String
    public var source: String
    public var recipe: String
    public var model: String
    public var tier: Tier
    public var seed: UInt64
    public var parameters: [String: ParameterValue]
    public var expect: [Expectation]
    public var drift: DriftTolerance
    /// How our setup differs from the paper's.
    public var deviations: String?
    /// What the result means, for the report's last section.
    public var notes: String?
    /// Families this target belongs to, in addition to its paper's.
    public var families: [String]
    /// The file it came from (for messages), relative when loaded from a directory.
    public var file: String

    public init(id: String, paper: String, claim: String, source: String, recipe: String, model: String,
                tier: Tier, seed: UInt64, parameters: [String: ParameterValue] = [:], expect: [Expectation],
                drift: DriftTolerance = DriftTolerance(), deviations: String? = nil, notes: String? = nil,
                families: [String] = [], file: String = "<memory>") {
        self.id = id
        self.paper = paper
        self.claim = claim
        self.source = source
        self.recipe = recipe
        self.model = model
        self.tier = tier
        self.seed = seed
        self.parameters = parameters
        self.expect = expect
        self.drift = drift
        self.deviations = deviations
        self.notes = notes
        self.families = families
        self.file = file
    }
}

// MARK: - Reading manifests

extension Manifest {
    static let knownKeys: Set<String> = [
        "id", "paper", "claim", "source", "recipe", "model", "tier", "seed", "parameters", "expect",
        "drift", "deviations", "notes", "families",
    ]
    static let expectationKeys: Set<String> = ["metric", "published", "check", "kind", "why", "why_directional", "source"]

    /// Reads and validates one manifest file. `file` is the name used in messages.
    public static func load(contentsOf url: URL, displayName: String? = nil) throws -> Manifest {
        let name = displayName ?? url.path
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ReproductionError.io(path: name, reason: "cannot read the manifest: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: name)
    }

    /// Parses and validates manifest YAML.
    public static func parse(yaml: String, file: String) throws -> Manifest {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ReproductionError.unreadableManifest(file: file, reason: "\(error)")
        }
        guard let root, case .mapping(let mapping) = root else {
            throw ReproductionError.invalidManifest(file: file, field: "(top level)", problem: "expected a mapping of fields (id, paper, claim, …)")
        }
        let fields = try YAMLFields(mapping, file: file, path: "", allowed: knownKeys)

        let id = try fields.string("id")
        guard isSlug(id) else {
            throw ReproductionError.invalidManifest(file: file, field: "id", problem: "expected a slug of lower-case letters, digits and '-' (got '\(id)')")
        }
        let tierText = try fields.string("tier")
        guard let tier = Tier(rawValue: tierText) else {
            throw ReproductionError.invalidManifest(file: file, field: "tier", problem: "expected fast or full (got '\(tierText)')")
        }
        let seedNode = try fields.required("seed")
        guard let seedInt = seedNode.int, seedNode.tag == Tag(.int), seedInt >= 0 else {
            throw ReproductionError.invalidManifest(file: file, field: "seed", problem: "expected a non-negative integer (got '\(seedNode.string ?? "?")')")
        }
        var parameters: [String: ParameterValue] = [:]
        if let node = fields.optional("parameters") {
            guard case .mapping(let m) = node else {
                throw ReproductionError.invalidManifest(file: file, field: "parameters", problem: "expected a mapping of parameter names to values")
            }
            for (k, v) in m {
                guard let key = k.string else { continue }
                parameters[key] = try parameterValue(v, file: file, field: "parameters.\(key)")
            }
        }
        let expectNode = try fields.required("expect")
        guard case .sequence(let seq) = expectNode, !seq.isEmpty else {
            throw ReproductionError.invalidManifest(file: file, field: "expect", problem: "expected a non-empty list of expectations")
        }
        var expectations: [Expectation] = []
        for (i, node) in seq.enumerated() {
            expectations.append(try expectation(node, file: file, field: "expect[\(i)]"))
        }
        var seen: Set<String> = []
        for (i, e) in expectations.enumerated() where !seen.insert(e.metric + "|" + e.check.description).inserted {
            throw ReproductionError.invalidManifest(file: file, field: "expect[\(i)]", problem: "repeats the check '\(e.check)' on metric '\(e.metric)'")
        }
        var families: [String] = []
        if let node = fields.optional("families") {
            guard case .sequence(let s) = node else {
                throw ReproductionError.invalidManifest(file: file, field: "families", problem: "expected a list of family names")
            }
            families = s.compactMap(\.string)
        }
        let manifest = Manifest(
            id: id, paper: try fields.string("paper"), claim: try fields.string("claim"),
            source: try fields.string("source"), recipe: try fields.string("recipe"), model: try fields.string("model"),
            tier: tier, seed: UInt64(seedInt), parameters: parameters, expect: expectations,
            drift: try drift(fields.optional("drift"), file: file),
            deviations: try fields.optionalString("deviations"), notes: try fields.optionalString("notes"),
            families: families, file: file)
        return manifest
    }

    static func isSlug(_ s: String) -> Bool {
        !s.isEmpty && !s.hasPrefix("-") && s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." || $0 == "_" }
    }

    static func expectation(_ node: Node, file: String, field: String) throws -> Expectation {
        guard case .mapping(let m) = node else {
            throw ReproductionError.invalidManifest(file: file, field: field, problem: "expected a mapping with metric, published, check, kind, why")
        }
        let f = try YAMLFields(m, file: file, path: field, allowed: expectationKeys)
        let metric = try f.string("metric")
        let publishedNode = try f.required("published")
        let published: PublishedValue
        if let d = number(publishedNode) {
            published = .number(d)
        } else if let s = publishedNode.string, case .scalar = publishedNode, !s.isEmpty {
            published = .text(s)
        } else {
            throw ReproductionError.invalidManifest(file: file, field: "\(field).published", problem: "expected the published number (or a short phrase)")
        }
        let check = try checkValue(try f.required("check"), file: file, field: "\(field).check")
        let kindText = try f.string("kind")
        guard let kind = ExpectationKind(rawValue: kindText) else {
            throw ReproductionError.invalidManifest(file: file, field: "\(field).kind", problem: "expected exact or directional (got '\(kindText)')")
        }
        let why = try f.optionalString("why")
        let whyDirectional = try f.optionalString("why_directional")
        if kind == .directional && (whyDirectional ?? why ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ReproductionError.invalidManifest(file: file, field: "\(field).why_directional",
                problem: "a directional expectation must say why the paper's exact number cannot transfer (why_directional, or why)")
        }
        return Expectation(metric: metric, published: published, check: check, kind: kind, why: why,
                           whyDirectional: whyDirectional, source: try f.optionalString("source"))
    }

    static func checkValue(_ node: Node, file: String, field: String) throws -> ExpectationCheck {
        let expected = "expected one of {equals: x}, {at_least: x}, {at_most: x}, {between: [lo, hi]}, {close: {value: x, tolerance: t}}"
        guard case .mapping(let m) = node, m.count == 1, let (k, v) = m.first, let key = k.string else {
            throw ReproductionError.invalidManifest(file: file, field: field, problem: expected)
        }
        func num(_ n: Node, _ sub: String) throws -> Double {
            guard let d = number(n) else {
                throw ReproductionError.invalidManifest(file: file, field: "\(field).\(sub)", problem: "expected a number (got '\(n.string ?? "a collection")')")
            }
            return d
        }
        switch key {
        case "equals": return .equals(try num(v, key))
        case "at_least": return .atLeast(try num(v, key))
        case "at_most": return .atMost(try num(v, key))
        case "between":
            guard case .sequence(let s) = v, s.count == 2 else {
                throw ReproductionError.invalidManifest(file: file, field: "\(field).between", problem: "expected [lo, hi]")
            }
            let lo = try num(s[0], "between[0]"), hi = try num(s[1], "between[1]")
            guard lo <= hi else {
                throw ReproductionError.invalidManifest(file: file, field: "\(field).between", problem: "expected lo ≤ hi (got [\(formatMetric(lo)), \(formatMetric(hi))])")
            }
            return .between(lo, hi)
        case "close":
            guard case .mapping(let cm) = v else {
                throw ReproductionError.invalidManifest(file: file, field: "\(field).close", problem: "expected {value: x, tolerance: t}")
            }
            let cf = try YAMLFields(cm, file: file, path: "\(field).close", allowed: ["value", "tolerance"])
            let value = try num(try cf.required("value"), "close.value")
            let tolerance = try num(try cf.required("tolerance"), "close.tolerance")
            guard tolerance >= 0 else {
                throw ReproductionError.invalidManifest(file: file, field: "\(field).close.tolerance", problem: "expected a tolerance ≥ 0")
            }
            return .close(value: value, tolerance: tolerance)
        default:
            throw ReproductionError.invalidManifest(file: file, field: "\(field).\(key)", problem: expected)
        }
    }

    static func drift(_ node: Node?, file: String) throws -> DriftTolerance {
        guard let node else { return DriftTolerance() }
        if let d = number(node) {
            guard d >= 0 else { throw ReproductionError.invalidManifest(file: file, field: "drift", problem: "expected a tolerance ≥ 0") }
            return DriftTolerance(fallback: d)
        }
        guard case .mapping(let m) = node else {
            throw ReproductionError.invalidManifest(file: file, field: "drift", problem: "expected a number (every metric) or a mapping metric → tolerance (key 'default' for the rest)")
        }
        var result = DriftTolerance()
        for (k, v) in m {
            let key = k.string ?? "?"
            guard let d = number(v), d >= 0 else {
                throw ReproductionError.invalidManifest(file: file, field: "drift.\(key)", problem: "expected a tolerance ≥ 0")
            }
            if key == "default" { result.fallback = d } else { result.perMetric[key] = d }
        }
        return result
    }

    /// A YAML int or float scalar as a Double.
    static func number(_ node: Node) -> Double? {
        guard case .scalar = node else { return nil }
        if node.tag == Tag(.int), let i = node.int { return Double(i) }
        if node.tag == Tag(.float), let d = node.float { return d }
        return nil
    }

    static func parameterValue(_ node: Node, file: String, field: String) throws -> ParameterValue {
        switch node {
        case .scalar:
            if node.tag == Tag(.bool), let b = node.bool { return .bool(b) }
            if node.tag == Tag(.int), let i = node.int { return .int(i) }
            if node.tag == Tag(.float), let d = node.float { return .double(d) }
            if node.tag == Tag(.null) {
                throw ReproductionError.invalidManifest(file: file, field: field, problem: "expected a value (got null)")
            }
            return .string(node.string ?? "")
        case .sequence(let s):
            return .list(try s.enumerated().map { try parameterValue($1, file: file, field: "\(field)[\($0)]") })
        case .mapping(let m):
            var out: [String: ParameterValue] = [:]
            for (k, v) in m {
                let key = k.string ?? "?"
                out[key] = try parameterValue(v, file: file, field: "\(field).\(key)")
            }
            return .map(out)
        case .alias:
            throw ReproductionError.invalidManifest(file: file, field: field, problem: "YAML aliases are not supported")
        }
    }
}

/// Field access on a YAML mapping with errors that name the file and the field path.
struct YAMLFields {
    let file: String
    let path: String
    var values: [String: Node] = [:]

    init(_ mapping: Node.Mapping, file: String, path: String, allowed: Set<String>) throws {
        self.file = file
        self.path = path
        for (k, v) in mapping {
            guard let key = k.string else { continue }
            guard allowed.contains(key) else {
                throw ReproductionError.invalidManifest(file: file, field: name(key),
                    problem: "unknown field (expected one of: \(allowed.sorted().joined(separator: ", ")))")
            }
            values[key] = v
        }
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func optional(_ key: String) -> Node? {
        guard let node = values[key], node.tag != Tag(.null) else { return nil }
        return node
    }

    func required(_ key: String) throws -> Node {
        guard let node = optional(key) else {
            throw ReproductionError.invalidManifest(file: file, field: name(key), problem: "missing (required)")
        }
        return node
    }

    /// A scalar as its literal text (so `paper: 2209.10652` stays "2209.10652").
    func string(_ key: String) throws -> String {
        let node = try required(key)
        guard case .scalar(let s) = node, !s.string.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ReproductionError.invalidManifest(file: file, field: name(key), problem: "expected non-empty text")
        }
        return s.string
    }

    func optionalString(_ key: String) throws -> String? {
        guard optional(key) != nil else { return nil }
        return try string(key)
    }
}
