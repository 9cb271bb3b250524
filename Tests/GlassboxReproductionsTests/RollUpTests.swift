import Foundation
import Testing
@testable import GlassboxReproductions

/// Writes `outcomes` with the roll-up listing every fixture manifest and checking the fixture papers.
private func writeWithCatalog(_ outcomes: [Runner.Outcome], to reports: URL) throws {
    try ReportWriter(reportsDirectory: reports, catalog: try fixtureManifests(), papersDirectory: fixture("papers")).write(outcomes)
}

private func readme(_ reports: URL) throws -> String {
    try String(contentsOf: reports.appendingPathComponent("README.md"), encoding: .utf8)
}

@Test func unrunManifestsAreListedAsNotRun() async throws {
    let reports = try temporaryDirectory()
    let leibniz = try fixtureManifests().filter { $0.id == "leibniz-pi" }
    try writeWithCatalog(await runner().run(leibniz), to: reports)
    let text = try readme(reports)
    // The counts cover every manifest, not only those with results.
    #expect(text.contains("**1 of 3 targets run, 1 passed** (fast tier 1 of 2 run, full tier 0 of 1 run)."))
    #expect(text.contains("![reproduced: 1/3](https://img.shields.io/badge/reproduced-1%2F3-yellow)"))
    #expect(text.contains("![not run: 2](https://img.shields.io/badge/not_run-2-lightgrey)"))
    // The run target links its report; the others link their manifest, say "not run" and give the command.
    #expect(text.contains("| [leibniz-pi](leibniz-pi.md) |"))
    let geometric = try #require(text.split(separator: "\n").first { $0.hasPrefix("| [geometric-half]") })
    #expect(geometric.hasPrefix("| [geometric-half](../reproductions/geometric-half.yaml) | [0000.00002](../papers/0000.00002.md) | A geometric series with ratio 1/2 sums to 2. |"))
    #expect(geometric.contains("| full | —/2 | ![geometric-half: not run](https://img.shields.io/badge/geometric--half-not_run-lightgrey) run: `glassbox reproduce geometric-half` |"))
    let needsModel = try #require(text.split(separator: "\n").first { $0.hasPrefix("| [needs-model]") })
    #expect(needsModel.contains("| fast | —/1 |") && needsModel.contains("`glassbox reproduce needs-model`"))
    // By paper: every manifest, the run ones linked to their reports.
    #expect(text.contains("- [0000.00001](../papers/0000.00001.md): [leibniz-pi](leibniz-pi.md), needs-model (not run)"))
    #expect(text.contains("- [0000.00002](../papers/0000.00002.md): geometric-half (not run)"))
    // The fixture paper 0000.00002 has no file in papers/: the check says so.
    #expect(text.contains("`reproductions/geometric-half.yaml` names paper `0000.00002`, which has no file in `papers/`."))
    #expect(!text.contains("names exactly the targets above"))
}

@Test func everyRunTargetMakesTheCountsComplete() async throws {
    let reports = try temporaryDirectory()
    try writeWithCatalog(await runner().run(try fixtureManifests()), to: reports)
    let text = try readme(reports)
    // needs-model is skipped here (its model is unavailable): run, but not passed.
    #expect(text.contains("**3 of 3 targets run, 2 passed**, 1 skipped (not passed) (fast tier 2 of 2 run, full tier 1 of 1 run)."))
    #expect(!text.contains("(not run)") && !text.contains("-not_run-lightgrey"))
}

@Test func aFastTierRunKeepsTheFullTierResults() async throws {
    let reports = try temporaryDirectory()
    let all = try fixtureManifests()
    try writeWithCatalog(await runner().run(all), to: reports)
    let results = reports.appendingPathComponent("results.json")
    let before = try ResultsFile.load(from: results)
    #expect(before.targets["geometric-half"]?.tier == .full)
    let fullReport = try Data(contentsOf: reports.appendingPathComponent("geometric-half.md"))

    // `glassbox reproduce --tier fast`: only the fast manifests run, with a changed recipe so
    // their entries visibly change; the full-tier entry and report must stay as they were.
    let fast = try TargetSelection(tier: .fast).apply(to: all)
    #expect(fast.map(\.id) == ["leibniz-pi", "needs-model"])
    let outcomes = await runner(brokenRegistry).run(fast)
    try writeWithCatalog(outcomes, to: reports)
    let after = try ResultsFile.load(from: results)
    #expect(after.targets["geometric-half"] == before.targets["geometric-half"], "byte-for-byte the same entry, duration included")
    #expect(after.targets["leibniz-pi"]?.status == .failed)
    #expect(try Data(contentsOf: reports.appendingPathComponent("geometric-half.md")) == fullReport)
    let text = try readme(reports)
    #expect(text.contains("[![geometric-half: pass 2/2](https://img.shields.io/badge/geometric--half-pass_2%2F2-brightgreen)](geometric-half.md)"))
    #expect(text.contains("**3 of 3 targets run, 1 passed**, 1 failed, 1 skipped (not passed)"))
}

@Test func resultsWithoutAManifestAreNamed() async throws {
    let reports = try temporaryDirectory()
    try writeWithCatalog(await runner().run(try fixtureManifests()), to: reports)
    // The catalog shrinks (a manifest was removed): its stored result is not listed as a target.
    let catalog = try fixtureManifests().filter { $0.id != "geometric-half" }
    let text = ReportWriter.rollUp(try ResultsFile.load(from: reports.appendingPathComponent("results.json")), catalog: catalog)
    #expect(text.contains("**2 of 2 targets run, 1 passed**"))
    #expect(!text.contains("| [geometric-half]"))
    #expect(text.contains("`results.json` also holds results of targets with no manifest in `reproductions/` (not listed above): `geometric-half`."))
}

@Test func paperListsAndManifestsAreCheckedBothWays() throws {
    let manifests = try fixtureManifests()
    let entries = manifests.map { ReportWriter.RollUpEntry(id: $0.id, paper: $0.paper, claim: $0.claim, tier: $0.tier, expectations: $0.expect.count, result: nil) }
    // Agreeing lists: nothing to report.
    #expect(ReportWriter.catalogMismatches(entries, paperLists: ["0000.00001": ["leibniz-pi", "needs-model"], "0000.00002": ["geometric-half"]]).isEmpty)
    // A paper that forgets a target, and one that claims another paper's target and an unknown one.
    let problems = ReportWriter.catalogMismatches(entries, paperLists: ["0000.00001": ["leibniz-pi"], "0000.00002": ["geometric-half", "needs-model", "gone"]])
    #expect(problems == [
        "[0000.00001](../papers/0000.00001.md) does not list `needs-model`, whose manifest names it.",
        "[0000.00002](../papers/0000.00002.md) lists `needs-model`, whose manifest names paper `0000.00001`.",
        "[0000.00002](../papers/0000.00002.md) lists `gone`, which has no manifest in `reproductions/`.",
    ])
}

@Test func theRepositoryPapersAndManifestsAgree() throws {
    // The real catalog: every manifest's paper lists it, and every paper's list names manifests of that paper.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let manifests = try loadManifests(directory: root.appendingPathComponent("reproductions"), registry: nil)
    #expect(manifests.count >= 26)
    let lists = PaperFamilies(papersDirectory: root.appendingPathComponent("papers")).allReproductions()
    let entries = manifests.map { ReportWriter.RollUpEntry(id: $0.id, paper: $0.paper, claim: $0.claim, tier: $0.tier, expectations: $0.expect.count, result: nil) }
    #expect(ReportWriter.catalogMismatches(entries, paperLists: lists) == [])
    let text = ReportWriter.rollUp(ResultsFile(), catalog: manifests, paperLists: lists)
    #expect(text.contains("**0 of \(manifests.count) targets run, 0 passed**"))
    for m in manifests { #expect(text.contains("`glassbox reproduce \(m.id)`"), "\(m.id)") }
    #expect(text.contains("Each paper's `reproductions:` list in `papers/` names exactly the targets above whose manifests name that paper."))
}
