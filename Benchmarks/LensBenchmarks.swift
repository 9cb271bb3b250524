import Foundation
import GlassboxMethods
import GlassboxModels

/// Logit lens over every residual index and attention analysis on SmolLM2 (skipped when the
/// model is not in the cache).
func lensBenchmarks(_ h: BenchHarness) {
    guard h.wants("lens") || h.wants("attention") else { return }
    guard let loaded = try? ModelLoader.load("smollm2-135m-instruct", fetch: false) else {
        print("lens / attention: smollm2-135m-instruct is not in the cache (run `glassbox models fetch smollm2-135m-instruct`); skipped")
        return
    }
    let model = loaded.model
    let prompt = "The Eiffel Tower is in the city of Paris, and the Colosseum is in"
    guard var ids = try? loaded.encode(prompt) else { return }
    ids = Array((ids + ids).prefix(12))   // exactly 12 tokens
    let layers = model.dimensions.layers
    h.measure("lens logit 31 residuals x 12 tokens", runs: 5,
              note: "forward + \(layers + 1)×12 unembeddings, KL and top-5") {
        _ = try? LogitLens(topK: 5).apply(model, ids: ids, positions: Array(ids.indices))
    }
    h.measure("lens logit 31 residuals, last position", runs: 5, note: "forward + \(layers + 1) unembeddings") {
        _ = try? LogitLens(topK: 5).apply(model, ids: ids)
    }
    h.measure("attention analysis 12 tokens", runs: 5, note: "forward with patterns, 270 heads' statistics, rollout") {
        if let a = try? AttentionAnalysis.analyse(model, ids: ids) { _ = a.rollout() }
    }
    if let seqs = try? RepeatedTokens.generate(count: 4, length: 20, range: 1000..<40000, prefix: [0], seed: 0) {
        h.measure("attention head scores 4x41 repeated tokens", runs: 3, note: "induction / previous / duplicate / sink") {
            _ = try? HeadScores.measure(model, on: seqs)
        }
    }
}
