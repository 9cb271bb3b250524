import Foundation
import GlassboxMethods
import GlassboxModels

/// The 30-layer × 14-position resid_pre activation-patching sweep on the IOI prompt pair
/// (Tests/Fixtures/models/prompt_ioi_*.json) on SmolLM2: batched (the default, about 512
/// tokens per forward), one layer per batch (14 copies, like the Python baseline's batched
/// loop), and attribution patching (two forwards and one backward). The Python baseline is
/// Benchmarks/pytorch/models.py (Hugging Face transformers, the same sweeps); docs/patching.md
/// has both measured on one machine.
func patchingBenchmarks(_ h: BenchHarness) {
    guard h.wants("patching") else { return }
    guard let loaded = try? ModelLoader.load("smollm2-135m-instruct", fetch: false) else {
        print("patching: smollm2 is not in the cache; skipped")
        return
    }
    let clean = [2427, 5099, 284, 2322, 3514, 288, 260, 4249, 28, 2322, 4502, 253, 5968, 288]
    let corrupt = [2427, 5099, 284, 2322, 3514, 288, 260, 4249, 28, 5099, 4502, 253, 5968, 288]
    let metric = PatchMetric.logitDifference(answer: 5099, wrong: 2322)
    func loadAverage() -> String {
        let avg = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        return "load avg \(avg)"
    }
    // Two timed runs each, no warm-up (the weights are loaded and dequantized already): a sweep takes seconds.
    func time(_ name: String, _ body: () -> Void) {
        guard h.wants(name) else { return }
        var seconds: [Double] = [], notes: [String] = []
        for _ in 0..<2 {
            notes.append(loadAverage())
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        h.record(name, seconds: seconds, note: notes.joined(separator: "; "))
        print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + seconds.map { String(format: " %8.2f s", $0) }.joined() + "  " + notes.joined(separator: "; "))
    }
    for (label, batch) in [("batched", nil), ("one layer per batch", 14)] as [(String, Int?)] {
        guard let p = try? ActivationPatching(model: loaded.model, clean: clean, corrupt: corrupt, metric: metric, batchSize: batch) else { return }
        time("patching resid_pre 30x14 \(label)") { _ = try? p.run(site: .residPre) }
    }
    guard let a = try? AttributionPatching(model: loaded.model, clean: clean, corrupt: corrupt, metric: metric) else { return }
    time("attribution patching resid_pre 30x14") { _ = try? a.run(site: .residPre) }
}
