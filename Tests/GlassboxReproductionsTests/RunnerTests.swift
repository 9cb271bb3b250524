import Foundation
import Testing
@testable import GlassboxReproductions
import GlassboxModels

/// Collects events from the runner's callbacks.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [RunEvent] = []
    func append(_ e: RunEvent) { lock.lock(); items.append(e); lock.unlock() }
    var events: [RunEvent] { lock.lock(); defer { lock.unlock() }; return items }
}

@Test func leibnizTargetPassesWithHandCheckedValues() throws {
    let manifest = try fixtureManifests().first { $0.id == "leibniz-pi" }!
    let outcome = runner().runOne(manifest)
    let r = outcome.result
    #expect(r.status == .passed)
    // 4 Σ_{k<1000} (−1)^k/(2k+1) = 3.140592653839794 (π − 0.000999999750…).
    #expect(abs(r.metrics["pi_estimate"]! - 3.140592653839794) < 1e-12)
    #expect(r.metrics["error_bound"]! == 4.0 / 2001)
    #expect(r.expectations.map(\.verdict) == [.pass, .pass])
    #expect(r.expectations[0].source == manifest.source)
    #expect(r.expectations[1].source == "alternating series test")
    #expect(r.figures == ["leibniz-pi-partial-sums.svg"])
    #expect(outcome.figures[0].svg.contains("<path"))
    #expect(outcome.figures[0].svg.contains(">published</text>"))  // drawn from the manifest's published value
    #expect(r.commit == fixedEnvironment.commit)
    #expect(r.parameters == ["terms": .int(1000)])
}

@Test func flippedSignFailsWithReason() throws {
    let manifest = try fixtureManifests().first { $0.id == "leibniz-pi" }!
    let r = runner(brokenRegistry).runOne(manifest).result
    #expect(r.status == .failed)
    #expect(r.expectations[0].verdict == .fail)
    // Σ 1/(2k+1) for k < 1000, times 4: ≈ 2·(ln 2000 + γ) + 4 ln 2 … well above π.
    #expect(r.metrics["pi_estimate"]! > 9)
    #expect(r.expectations[0].reason!.contains("expected 3.14159265 ± 0.002"))
    #expect(r.expectations[1].verdict == .pass)
}

@Test func unavailableModelIsSkippedNeverPassed() throws {
    let manifest = try fixtureManifests().first { $0.id == "needs-model" }!
    let r = runner().runOne(manifest).result
    #expect(r.status == .skipped)
    #expect(r.reason == "model 'smollm2-135m-instruct' is not available")
    #expect(r.expectations.allSatisfy { $0.verdict == .skipped })
    #expect(r.passedCount == 0)
    #expect(r.metrics.isEmpty)
    // With the model present it runs.
    let withModel = StaticModelResolver(["smollm2-135m-instruct": .available(URL(fileURLWithPath: "model.gguf"))])
    #expect(runner(resolver: withModel).runOne(manifest).result.status == .passed)
}

@Test func throwingRecipeFailsEveryExpectation() throws {
    let m = Manifest(id: "boom", paper: "1", claim: "c", source: "s", recipe: "test.throws", model: "toy", tier: .fast, seed: 0,
                     expect: [Expectation(metric: "x", published: .number(1), check: .equals(1), kind: .exact)])
    let r = runner().runOne(m).result
    #expect(r.status == .error)
    #expect(r.reason == "matrix is singular")
    #expect(r.expectations[0].verdict == .fail)
    #expect(r.expectations[0].reason == "recipe failed: matrix is singular")
}

@Test func defaultResolverSkipsUnknownModelsAndAcceptsToysAndFiles() throws {
    let dir = try temporaryDirectory()
    try Data([1]).write(to: dir.appendingPathComponent("m.gguf"))
    // An empty cache: registry models are unavailable whatever this machine has fetched.
    let emptyCache = ModelCache(root: dir.appendingPathComponent("cache").path)
    let resolver = DefaultModelResolver(baseDirectory: dir, registryLookup: { DefaultModelResolver.registry($0, cache: emptyCache) })
    #expect(resolver.resolve("toy") == .available(nil))
    #expect(resolver.resolve("m.gguf") == .available(dir.appendingPathComponent("m.gguf")))
    guard case .unavailable(let reason) = resolver.resolve("smollm2-135m-instruct") else { Issue.record("resolved"); return }
    #expect(reason.contains("glassbox models fetch smollm2-135m-instruct"))
    guard case .unavailable = resolver.resolve("missing.gguf") else { Issue.record("resolved"); return }
}

@Test(arguments: [1, 2, 3])
func parallelRunKeepsOrderAndReportsProgress(jobs: Int) async throws {
    let manifests = try fixtureManifests()
    let log = EventLog()
    let outcomes = await runner().run(manifests, jobs: jobs) { log.append($0) }
    #expect(outcomes.map(\.result.id) == ["geometric-half", "leibniz-pi", "needs-model"])
    #expect(outcomes.map(\.result.status) == [.passed, .passed, .skipped])
    let events = log.events
    let started = events.filter { if case .started = $0 { return true } else { return false } }.count
    let finished = events.filter { if case .finished = $0 { return true } else { return false } }.count
    let progress = events.compactMap { e -> Double? in
        if case .progress(let id, let f, _) = e, id == "leibniz-pi" { return f } else { return nil }
    }
    #expect(started == 3 && finished == 3)
    #expect(progress.count == 20 && progress.last == 1)
    // The exact partial sum is a closed form: 1 − 1/2 + … over 10 terms of ratio 1/2.
    #expect(outcomes[0].result.metrics["partial_sum"] == 1.998046875)
}

@Test func selectionFilters() throws {
    let all = try fixtureManifests()
    let families = PaperFamilies(papersDirectory: fixture("papers"))
    #expect(families.families(of: "0000.00001") == ["series", "calculus"])
    #expect(families.families(of: "9999.99999") == [])
    func ids(_ s: TargetSelection) throws -> [String] { try s.apply(to: all, families: families.families(of:)).map(\.id) }
    #expect(try ids(TargetSelection()) == ["geometric-half", "leibniz-pi", "needs-model"])
    #expect(try ids(TargetSelection(tier: .fast)) == ["leibniz-pi", "needs-model"])
    #expect(try ids(TargetSelection(tier: .full)) == ["geometric-half", "leibniz-pi", "needs-model"])
    #expect(try ids(TargetSelection(paper: "0000.00002")) == ["geometric-half"])
    #expect(try ids(TargetSelection(family: "series")) == ["leibniz-pi", "needs-model"])
    #expect(try ids(TargetSelection(slugs: ["needs-model"])) == ["needs-model"])
    #expect(try ids(TargetSelection(shard: .init(index: 1, count: 2))) == ["geometric-half", "needs-model"])
    #expect(try ids(TargetSelection(shard: .init(index: 2, count: 2))) == ["leibniz-pi"])
    #expect(throws: ReproductionError.selection("no target named 'nope' in reproductions/")) { try ids(TargetSelection(slugs: ["nope"])) }
    #expect(throws: ReproductionError.self) { try TargetSelection.Shard(parsing: "3/2") }
    #expect(try TargetSelection.Shard(parsing: "2/5") == .init(index: 2, count: 5))
}

@Test func manifestRunSummaryJSON() throws {
    let manifest = try fixtureManifests().first { $0.id == "needs-model" }!
    let json = try ManifestRunSummary(runner().runOne(manifest).result).json()
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
    #expect(object["id"] as? String == "needs-model")
    let items = object["expectations"] as! [[String: Any]]
    #expect(items.count == 1)
    #expect(items[0]["measured"] is NSNull)
    #expect(items[0]["verdict"] as? String == "skipped")
    #expect(Set(items[0].keys) == ["metric", "published", "measured", "verdict"])
}
