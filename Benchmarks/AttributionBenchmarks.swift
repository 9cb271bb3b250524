import Foundation
import GlassboxMethods
import GlassboxModels
import GlassboxTensor

/// Integrated gradients, 50 Gauss–Legendre steps, over the token embeddings of a 12-token
/// SmolLM2 prompt (Captum: Benchmarks/pytorch/models.py; docs/attribution.md has both measured on
/// one machine). Also shown: the same with the LM head over every position (a custom target reads
/// all logits) and other internal batch sizes.
func attributionBenchmarks(_ h: BenchHarness) {
    guard h.wants("ig") else { return }
    guard let loaded = try? ModelLoader.load("smollm2-135m-instruct", fetch: false),
          let ids = try? loaded.encode("When Mary and John went to the store, John gave a"),
          let logits = try? loaded.model(TokenBatch(ids)).logits else {
        print("ig: smollm2-135m-instruct not in the cache (run `glassbox models fetch smollm2-135m-instruct`); skipped")
        return
    }
    guard ids.count == 12 else { print("ig: the benchmark prompt is \(ids.count) tokens, expected 12; skipped"); return }
    let target = logits.select(axis: 0, 0).select(axis: 0, ids.count - 1).argmax(axis: -1)[0]   // the top next token
    guard let a = try? ModelAttribution(model: loaded.model, ids: ids, target: .logit(target)) else { return }
    for batch in [50, 25, 10] {
        h.measure("ig smollm2 12 tokens 50 steps batch \(batch)", runs: batch == 50 ? 5 : 3, note: batch == 50 ? "Captum: Benchmarks/pytorch/models.py" : "") {
            _ = try? a.integratedGradients(baseline: .zero, steps: 50, rule: .gaussLegendre, internalBatchSize: batch)
        }
    }
    // The LM head at every position (what a forward without logit positions does).
    let allPositions = AttributionTarget.custom { out in
        let logits = out.logits!                                   // [k, 12, vocab]
        return logits.select(axis: 1, logits.shape[1] - 1).gatherLast([Int](repeating: target, count: logits.shape[0]))
    }
    if let full = try? ModelAttribution(model: loaded.model, ids: ids, target: allPositions) {
        h.measure("ig smollm2 12 tokens 50 steps, LM head at all positions", runs: 3, note: "without logit positions") {
            _ = try? full.integratedGradients(baseline: .zero, steps: 50, rule: .gaussLegendre, internalBatchSize: 50)
        }
    }
}
