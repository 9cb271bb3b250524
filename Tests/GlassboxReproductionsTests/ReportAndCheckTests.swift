import Foundation
import Testing
@testable import GlassboxReproductions

/// Runs the fixture targets (or `registry`'s version of them) into `reports`.
func runAndWrite(_ reports: URL, registry: RecipeRegistry = testRegistry, only: [String]? = nil) async throws -> [Runner.Outcome] {
    var manifests = try fixtureManifests()
    if let only { manifests = manifests.filter { only.contains($0.id) } }
    let outcomes = await runner(registry).run(manifests, jobs: 2)
    try ReportWriter(reportsDirectory: reports).write(outcomes)
    return outcomes
}

func driftTable() throws -> [String: DriftTolerance] {
    Dictionary(uniqueKeysWithValues: try fixtureManifests().map { ($0.id, $0.drift) })
}

/// results.json with every duration set to 0 (the only field allowed to differ between runs).
func normalisedResults(_ url: URL) throws -> ResultsFile {
    var r = try ResultsFile.load(from: url)
    for key in r.targets.keys { r.targets[key]!.durationSeconds = 0 }
    return r
}

@Test func writesReportsFiguresResultsAndRollUp() async throws {
    let reports = try temporaryDirectory()
    _ = try await runAndWrite(reports)
    let fm = FileManager.default
    for name in ["results.json", "README.md", "leibniz-pi.md", "geometric-half.md", "needs-model.md", "figures/leibniz-pi-partial-sums.svg"] {
        #expect(fm.fileExists(atPath: reports.appendingPathComponent(name).path), "\(name)")
    }
    let report = try String(contentsOf: reports.appendingPathComponent("leibniz-pi.md"), encoding: .utf8)
    #expect(report.contains("| `pi_estimate` | exact | 3.14159265 | 3.14059 | 3.14159265 ± 0.002 | ✅ pass | Leibniz (1682); error bound from the alternating series test |"))
    #expect(report.contains("![4 × partial sum against the number of terms](figures/leibniz-pi-partial-sums.svg)"))
    #expect(report.contains("[0000.00001](../papers/0000.00001.md)"))
    #expect(report.contains("None; the series is computed in Double."))
    #expect(report.contains("(directional): the bound shrinks like 1/N. Directional because the bound is an inequality, not a number the source prints."))
    #expect(report.contains("| Parameter `terms` | `1000` |"))
    let skipped = try String(contentsOf: reports.appendingPathComponent("needs-model.md"), encoding: .utf8)
    #expect(skipped.contains("**Skipped** (not a pass): model 'smollm2-135m-instruct' is not available."))
    #expect(skipped.contains("| — |"))
    let readme = try String(contentsOf: reports.appendingPathComponent("README.md"), encoding: .utf8)
    #expect(readme.contains("[leibniz-pi](leibniz-pi.md)"))
    #expect(readme.contains("(https://img.shields.io/badge/leibniz--pi-pass_2%2F2-brightgreen)](leibniz-pi.md)"))
    #expect(readme.contains("needs--model-skipped-lightgrey"))
    #expect(readme.contains("- [0000.00001](../papers/0000.00001.md): [leibniz-pi](leibniz-pi.md), [needs-model](needs-model.md)"))
    let results = try ResultsFile.load(from: reports.appendingPathComponent("results.json"))
    #expect(results.targets.keys.sorted() == ["geometric-half", "leibniz-pi", "needs-model"])
    #expect(results.targets["geometric-half"]!.metrics == ["partial_sum": 1.998046875, "limit": 2])
}

@Test func rerunIsIdenticalApartFromDurations() async throws {
    let a = try temporaryDirectory(), b = try temporaryDirectory()
    _ = try await runAndWrite(a)
    _ = try await runAndWrite(b)
    #expect(try normalisedResults(a.appendingPathComponent("results.json")) == normalisedResults(b.appendingPathComponent("results.json")))
    for name in ["README.md", "figures/leibniz-pi-partial-sums.svg"] {
        #expect(try Data(contentsOf: a.appendingPathComponent(name)) == Data(contentsOf: b.appendingPathComponent(name)), "\(name)")
    }
    // Reports differ only in the run line (duration).
    let ra = try String(contentsOf: a.appendingPathComponent("leibniz-pi.md"), encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("Run on commit") }
    let rb = try String(contentsOf: b.appendingPathComponent("leibniz-pi.md"), encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("Run on commit") }
    #expect(ra == rb)
    // The JSON is sorted and pretty.
    let text = try String(contentsOf: a.appendingPathComponent("results.json"), encoding: .utf8)
    #expect(text.hasPrefix("{\n  \"targets\" : {\n    \"geometric-half\" : {"))
    #expect(text.hasSuffix("\"version\" : 1\n}\n"))
}

@Test func partialRunMergesIntoExistingResults() async throws {
    let reports = try temporaryDirectory()
    _ = try await runAndWrite(reports)
    let before = try normalisedResults(reports.appendingPathComponent("results.json"))
    // A broken rerun of one target replaces only that target.
    _ = try await runAndWrite(reports, registry: brokenRegistry, only: ["leibniz-pi"])
    let after = try normalisedResults(reports.appendingPathComponent("results.json"))
    #expect(after.targets["geometric-half"] == before.targets["geometric-half"])
    #expect(after.targets["needs-model"] == before.targets["needs-model"])
    #expect(after.targets["leibniz-pi"]!.status == .failed)
    let readme = try String(contentsOf: reports.appendingPathComponent("README.md"), encoding: .utf8)
    #expect(readme.contains("leibniz--pi-fail_1%2F2-red"))
    #expect(readme.contains("geometric--half-pass_2%2F2-brightgreen"))
}

@Test func identicalRerunPassesTheGate() async throws {
    let reports = try temporaryDirectory()
    _ = try await runAndWrite(reports)
    let baseline = try ResultsFile.load(from: reports.appendingPathComponent("results.json"))
    let fresh = await runner().run(try fixtureManifests()).map(\.result)
    let report = RegressionCheck.compare(fresh, drift: try driftTable(), baseline: baseline)
    #expect(!report.fails)
    #expect(report.passed == 2 && report.skipped == 1 && report.failed == 0)
    #expect(report.rows.map(\.kind) == [.skipped])
    #expect(report.summary == "OK: 3 targets: 2 passed, 0 failed, 1 skipped (not passed), 0 drifted from the baseline")
    // Strict mode: a skip fails the gate.
    #expect(RegressionCheck.compare(fresh, drift: try driftTable(), baseline: baseline, strict: true).fails)
}

@Test func flippedSignFailsTheGate() async throws {
    let reports = try temporaryDirectory()
    _ = try await runAndWrite(reports)
    let baseline = try ResultsFile.load(from: reports.appendingPathComponent("results.json"))
    let fresh = await runner(brokenRegistry).run(try fixtureManifests()).map(\.result)
    let report = RegressionCheck.compare(fresh, drift: try driftTable(), baseline: baseline)
    #expect(report.fails)
    let failed = report.rows.filter(\.failsGate)
    #expect(failed.map(\.kind) == [.expectationFailed, .drift])
    #expect(failed.allSatisfy { $0.target == "leibniz-pi" && $0.metric == "pi_estimate" })
    #expect(failed[1].baseline.map { abs($0 - 3.140592653839794) < 1e-12 } == true)
    #expect(failed[1].tolerance == 0.000001)
    let table = report.table()
    #expect(table.contains("leibniz-pi"))
    #expect(table.contains("drift"))
    #expect(table.contains("expectation failed"))
}

@Test func editedBaselineFailsTheGate() async throws {
    let reports = try temporaryDirectory()
    _ = try await runAndWrite(reports)
    let url = reports.appendingPathComponent("results.json")
    var text = try String(contentsOf: url, encoding: .utf8)
    // Edit the stored partial sum of the geometric target (its drift tolerance is the 1e-6 default).
    #expect(text.contains("\"partial_sum\" : 1.998046875"))
    text = text.replacingOccurrences(of: "\"partial_sum\" : 1.998046875", with: "\"partial_sum\" : 1.9981")
    try text.write(to: url, atomically: true, encoding: .utf8)
    let baseline = try ResultsFile.load(from: url)
    let fresh = await runner().run(try fixtureManifests()).map(\.result)
    let report = RegressionCheck.compare(fresh, drift: try driftTable(), baseline: baseline)
    #expect(report.fails)
    let drift = report.rows.filter { $0.kind == .drift }
    #expect(drift.count == 1)
    #expect(drift.first?.target == "geometric-half")
    #expect(drift.first?.baseline == 1.9981)
    #expect(drift.first?.measured == 1.998046875)
    // Within a looser tolerance the same change is only reported.
    var loose = try driftTable()
    loose["geometric-half"] = DriftTolerance(fallback: 0.001)
    let relaxed = RegressionCheck.compare(fresh, drift: loose, baseline: baseline)
    #expect(!relaxed.fails)
    #expect(relaxed.rows.contains { $0.kind == .changedWithinTolerance && $0.metric == "partial_sum" })
}

@Test func missingMetricAndRecipeErrorsFailTheGate() throws {
    var base = TargetResult(id: "t", paper: "p", claim: "c", recipe: "r", model: "toy", tier: .fast, seed: 0, parameters: [:],
                            status: .passed, reason: nil, metrics: ["a": 1, "b": 2], expectations: [], figures: [], notes: [],
                            durationSeconds: 1, commit: nil, machine: "m")
    var fresh = base
    fresh.metrics = ["a": 1]
    let baseline = ResultsFile(targets: ["t": base])
    let report = RegressionCheck.compare([fresh], drift: [:], baseline: baseline)
    #expect(report.fails)
    #expect(report.rows.map(\.kind) == [.missingMetric])
    base.status = .error
    base.reason = "boom"
    #expect(RegressionCheck.compare([base], drift: [:], baseline: nil).rows.map(\.kind) == [.recipeError])
}

@Test func junitMarksSkipsAndFailures() async throws {
    let fresh = await runner(brokenRegistry).run(try fixtureManifests()).map(\.result)
    let report = RegressionCheck.compare(fresh, drift: try driftTable(), baseline: nil)
    let xml = report.junit(results: fresh)
    #expect(xml.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>"))
    // 2 + 2 + 1 expectations and 3 baseline cases; 1 failed expectation; the skipped
    // target's expectation and its baseline case are skipped.
    #expect(xml.contains("<testsuite name=\"glassbox check\" tests=\"8\" failures=\"1\" errors=\"0\" skipped=\"2\">"))
    #expect(xml.contains("<testcase classname=\"leibniz-pi\" name=\"pi_estimate 3.14159265 ± 0.002\""))
    #expect(xml.contains("<skipped message=\"model &apos;smollm2-135m-instruct&apos; is not available\"/>"))
    #expect(count(of: "<failure", in: xml) == 1)
}

func count(of needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

@Test func resultsFileRejectsForeignJSON() throws {
    let dir = try temporaryDirectory()
    let url = dir.appendingPathComponent("results.json")
    try Data("{\"version\": 7, \"targets\": {}}".utf8).write(to: url)
    #expect(throws: ReproductionError.invalidResults(path: url.path, reason: "version 7, expected 1")) { try ResultsFile.load(from: url) }
    try Data("[1, 2]".utf8).write(to: url)
    #expect(throws: ReproductionError.self) { try ResultsFile.load(from: url) }
    #expect(try ResultsFile.load(from: dir.appendingPathComponent("none.json")) == ResultsFile())
    #expect(throws: ReproductionError.self) { try ResultsFile.load(from: dir.appendingPathComponent("none.json"), missingIsEmpty: false) }
}

@Test func nonFiniteMetricsRoundTrip() throws {
    let r = TargetResult(id: "t", paper: "p", claim: "c", recipe: "r", model: "toy", tier: .fast, seed: 0, parameters: [:],
                         status: .failed, reason: nil, metrics: ["kl": .infinity], expectations: [], figures: [], notes: [],
                         durationSeconds: 1, commit: nil, machine: "m")
    let dir = try temporaryDirectory()
    let url = dir.appendingPathComponent("results.json")
    try ResultsFile(targets: ["t": r]).write(to: url)
    #expect(try ResultsFile.load(from: url).targets["t"]?.metrics["kl"] == .infinity)
}

@Test func figuresOfAnEarlierRunAreRemovedWhenNoLongerDrawn() async throws {
    let reports = try temporaryDirectory()
    _ = try await runAndWrite(reports, only: ["leibniz-pi"])
    let figure = reports.appendingPathComponent("figures/leibniz-pi-partial-sums.svg")
    #expect(FileManager.default.fileExists(atPath: figure.path))
    // Rerun where even toy models are unavailable: skipped, no figure.
    let manifest = try fixtureManifests().first { $0.id == "leibniz-pi" }!
    let outcome = runner(resolver: StaticModelResolver([:])).runOne(manifest)
    #expect(outcome.result.status == .skipped)
    try ReportWriter(reportsDirectory: reports).write([outcome])
    #expect(!FileManager.default.fileExists(atPath: figure.path))
    let report = try String(contentsOf: reports.appendingPathComponent("leibniz-pi.md"), encoding: .utf8)
    #expect(!report.contains("## Figures"))
    #expect(try ResultsFile.load(from: reports.appendingPathComponent("results.json")).targets["leibniz-pi"]?.status == .skipped)
}
