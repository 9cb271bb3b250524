import Foundation
import GlassboxReports

/// The regression gate: a fresh run against its expectations and against a baseline.
public struct CheckReport: Sendable, Codable, Equatable {
    /// One thing worth showing: a failure, a drift, a skip, or a change of note.
    public struct Row: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable, Equatable {
            /// An expectation does not hold. Fails the gate.
            case expectationFailed = "expectation failed"
            /// The recipe threw. Fails the gate.
            case recipeError = "recipe error"
            /// |measured − baseline| beyond the target's drift tolerance. Fails the gate.
            case drift
            /// The baseline has this metric but the fresh run did not produce it. Fails the gate.
            case missingMetric = "missing metric"
            /// The target was skipped (not passed). Fails the gate only in strict mode.
            case skipped
            /// Within tolerance of the baseline but not identical (informational).
            case changedWithinTolerance = "changed within tolerance"
            /// Not in the baseline yet (informational).
            case new
        }
        public var target: String
        public var metric: String?
        public var kind: Kind
        public var baseline: Double?
        public var measured: Double?
        public var tolerance: Double?
        public var detail: String

        public init(target: String, metric: String?, kind: Kind, baseline: Double? = nil, measured: Double? = nil,
                    tolerance: Double? = nil, detail: String) {
            self.target = target
            self.metric = metric
            self.kind = kind
            self.baseline = baseline
            self.measured = measured
            self.tolerance = tolerance
            self.detail = detail
        }

        public var failsGate: Bool { [.expectationFailed, .recipeError, .drift, .missingMetric].contains(kind) }
    }

    public var rows: [Row]
    public var targets: Int
    public var passed: Int
    public var failed: Int
    public var skipped: Int
    /// Whether skipped targets fail the gate.
    public var strict: Bool
    public var baselineUsed: Bool

    /// The gate fails on any failed expectation, recipe error, drift or missing metric,
    /// and in strict mode on any skip.
    public var fails: Bool { rows.contains { $0.failsGate || (strict && $0.kind == .skipped) } }
}

public enum RegressionCheck {
    /// Compares `results` (a fresh run) with their expectations and with `baseline`.
    /// `drift` gives each target's tolerance (from its manifest).
    public static func compare(_ results: [TargetResult], drift: [String: DriftTolerance], baseline: ResultsFile?,
                               strict: Bool = false) -> CheckReport {
        var rows: [CheckReport.Row] = []
        for r in results.sorted(by: { $0.id < $1.id }) {
            switch r.status {
            case .skipped:
                rows.append(.init(target: r.id, metric: nil, kind: .skipped, detail: r.reason ?? "skipped"))
                continue
            case .error:
                rows.append(.init(target: r.id, metric: nil, kind: .recipeError, detail: r.reason ?? "the recipe failed"))
                continue
            case .passed, .failed:
                break
            }
            for e in r.expectations where e.verdict == .fail {
                rows.append(.init(target: r.id, metric: e.metric, kind: .expectationFailed, baseline: nil, measured: e.measured,
                                  detail: e.reason ?? "expected \(e.check)"))
            }
            guard let base = baseline?.targets[r.id] else {
                if baseline != nil { rows.append(.init(target: r.id, metric: nil, kind: .new, detail: "not in the baseline")) }
                continue
            }
            let tolerance = drift[r.id] ?? DriftTolerance()
            // A baseline that was itself skipped or errored has nothing to compare.
            guard base.status == .passed || base.status == .failed else { continue }
            for metric in Set(base.metrics.keys).union(r.metrics.keys).sorted() {
                let old = base.metrics[metric], new = r.metrics[metric]
                switch (old, new) {
                case let (o?, n?):
                    let tol = tolerance.tolerance(for: metric, baseline: o)
                    let same = o == n || (o.isNaN && n.isNaN)
                    if same { continue }
                    let delta = abs(n - o)
                    let row = CheckReport.Row(target: r.id, metric: metric, kind: delta <= tol ? .changedWithinTolerance : .drift,
                                              baseline: o, measured: n, tolerance: tol,
                                              detail: "Δ = \(formatMetric(n - o)) (tolerance \(formatMetric(tol)))")
                    rows.append(row)
                case let (o?, nil):
                    rows.append(.init(target: r.id, metric: metric, kind: .missingMetric, baseline: o, measured: nil,
                                      detail: "in the baseline but not produced by this run"))
                case let (nil, n?):
                    rows.append(.init(target: r.id, metric: metric, kind: .new, baseline: nil, measured: n, detail: "not in the baseline"))
                case (nil, nil):
                    break
                }
            }
        }
        return CheckReport(
            rows: rows, targets: results.count,
            passed: results.filter { $0.status == .passed }.count,
            failed: results.filter { $0.status == .failed || $0.status == .error }.count,
            skipped: results.filter { $0.status == .skipped }.count,
            strict: strict, baselineUsed: baseline != nil)
    }
}

extension CheckReport {
    /// A plain-text table of the rows (what changed), for the terminal.
    public func table() -> String {
        guard !rows.isEmpty else { return "" }
        let headers = ["target", "metric", "status", "baseline", "measured", "detail"]
        let cells = rows.map { r in
            [r.target, r.metric ?? "—", r.kind.rawValue, r.baseline.map(formatMetric) ?? "—", r.measured.map(formatMetric) ?? "—", r.detail]
        }
        var widths = headers.map(\.count)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ c: [String]) -> String {
            c.enumerated().map { i, s in i == c.count - 1 ? s : s.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        return ([line(headers), line(widths.map { String(repeating: "-", count: $0) })] + cells.map(line)).joined(separator: "\n")
    }

    /// One line: counts and the gate's verdict.
    public var summary: String {
        let gate = fails ? "FAIL" : "OK"
        let drifts = rows.filter { $0.kind == .drift }.count
        return "\(gate): \(targets) target\(targets == 1 ? "" : "s"): \(passed) passed, \(failed) failed, \(skipped) skipped (not passed)"
            + (baselineUsed ? ", \(drifts) drifted from the baseline" : ", no baseline")
    }

    public func json() throws -> String {
        String(decoding: try ResultsFile.encoder().encode(self), as: UTF8.self)
    }

    /// JUnit XML: one test suite, one test case per expectation plus one per target for
    /// the baseline comparison; skipped targets are `<skipped/>`, never passes.
    public func junit(results: [TargetResult]) -> String {
        var cases: [String] = []
        var failures = 0, skips = 0, errors = 0
        for r in results.sorted(by: { $0.id < $1.id }) {
            let time = NumberFormat.fixed(r.durationSeconds / Double(max(1, r.expectations.count + 1)), decimals: 3)
            for e in r.expectations {
                var body = ""
                switch e.verdict {
                case .pass: break
                case .skipped:
                    skips += 1
                    body = "<skipped message=\"\(xmlEscape(e.reason ?? "skipped"))\"/>"
                case .fail:
                    if r.status == .error {
                        errors += 1
                        body = "<error message=\"\(xmlEscape(e.reason ?? "recipe failed"))\"/>"
                    } else {
                        failures += 1
                        body = "<failure message=\"\(xmlEscape(e.reason ?? "expectation failed"))\">published \(xmlEscape(e.published.description)), measured \(xmlEscape(e.measured.map(formatMetric) ?? "nothing")), expected \(xmlEscape(e.check)); source: \(xmlEscape(e.source))</failure>"
                    }
                }
                cases.append(testCase(classname: r.id, name: "\(e.metric) \(e.check)", time: time, body: body))
            }
            let driftRows = rows.filter { $0.target == r.id && ($0.kind == .drift || $0.kind == .missingMetric) }
            var body = ""
            if r.status == .skipped {
                skips += 1
                body = "<skipped message=\"\(xmlEscape(r.reason ?? "skipped"))\"/>"
            } else if !driftRows.isEmpty {
                failures += 1
                let text = driftRows.map { "\($0.metric ?? "?"): baseline \($0.baseline.map(formatMetric) ?? "—"), measured \($0.measured.map(formatMetric) ?? "—"); \($0.detail)" }
                body = "<failure message=\"drift from the baseline\">\(xmlEscape(text.joined(separator: "\n")))</failure>"
            }
            cases.append(testCase(classname: r.id, name: "baseline", time: time, body: body))
        }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites>\n"
        out += "  <testsuite name=\"glassbox check\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skips)\">\n"
        out += cases.joined()
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    private func testCase(classname: String, name: String, time: String, body: String) -> String {
        let open = "    <testcase classname=\"\(xmlEscape(classname))\" name=\"\(xmlEscape(name))\" time=\"\(time)\""
        return body.isEmpty ? open + "/>\n" : open + ">\n      " + body + "\n    </testcase>\n"
    }
}
