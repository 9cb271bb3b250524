import Foundation
import GlassboxModels
import GlassboxPapers
import GlassboxTensor

/// SmolLM2 load and forward passes (skipped when the model is not in the cache).
func modelBenchmarks(_ h: BenchHarness) {
    guard h.wants("smollm2") else { return }
    let t0 = DispatchTime.now().uptimeNanoseconds
    guard let loaded = try? ModelLoader.load("smollm2-135m-instruct", fetch: false) else {
        print("smollm2: not in the cache (run `glassbox models fetch smollm2-135m-instruct`); skipped")
        return
    }
    let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    print("smollm2 load (first, cold)".padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: " %10.3f ms", loadSeconds * 1e3))
    h.measure("smollm2 load", runs: 3) { _ = try? ModelLoader.load("smollm2-135m-instruct", fetch: false) }
    let model = loaded.model
    var rng = SeededGenerator(seed: 0)
    let flopsPerToken = 2.0 * 134.5e6
    for batch in [1, 8] {
        let seqs = (0..<batch).map { _ in (0..<128).map { _ in 100 + rng.nextInt(below: 40000) } }
        let input = TokenBatch(sequences: seqs)
        let tokens = Double(batch * 128)
        h.measure("smollm2 forward \(batch)x128", runs: batch == 1 ? 5 : 3, flops: flopsPerToken * tokens,
                  note: "") { _ = try? model.runWithHooks(input, hooks: Hooks()) }
        if let r = h.results.last { print(String(format: "  → %.0f tokens/s", tokens / r.m.median_s)) }
    }
}

/// Full-text search over a generated catalog of 10,000 papers (target: < 50 ms a query).
func papersBenchmarks(_ h: BenchHarness) {
    guard h.wants("papers search") else { return }
    let t = PapersBenchmark.measureSearch(count: 10_000, seed: 0, repeats: 5)
    h.record("papers search 10k (median query)", seconds: t.querySeconds,
             note: String(format: "index build %.2f s, worst query %.2f ms", t.indexBuildSeconds, t.maxQuerySeconds * 1e3))
}
