import Foundation
import GlassboxMethods
import GlassboxModels
import GlassboxReports
import GlassboxTensor

/// Recipes training sparse autoencoders on real model activations.
enum SAERecipes {
    static let all: [any Recipe.Type] = [
        SAEOnModelActivationsRecipe.self,
    ]
}

/// TopK and ReLU SAEs on residual-stream activations of a language model (arXiv 2406.04093,
/// which compares TopK with ReLU + L1, arXiv 2309.08600): caches the residual stream at one
/// index over a text file cut into fixed windows, holds out the last windows, trains both
/// SAEs from the seed and reports fraction of variance explained and L0 on the held-out
/// tokens and the dead-latent fraction over all cached tokens.
enum SAEOnModelActivationsRecipe: Recipe {
    static let name = "sae.smollm2-activations"
    static let summary = "TopK and ReLU SAEs on a model's residual stream: held-out FVE and L0, dead-latent fraction."
    static let parameters = [
        RecipeParameter("text", .string, default: .string("sae/sentences.txt"), "text file under data/ whose tokens are cached"),
        RecipeParameter("resid_index", .int, default: .int(15), "residual stream index r (0 = embeddings, r = output of block r − 1)"),
        RecipeParameter("window", .int, default: .int(64), "tokens per sequence; the first position of each is left out (attention sink)"),
        RecipeParameter("eval_fraction", .number, default: .double(0.2), "fraction of the windows (the last ones) held out for FVE and L0"),
        RecipeParameter("expansion", .int, default: .int(4), "latents = expansion × d_model"),
        RecipeParameter("k", .int, default: .int(32), "TopK: active latents per token"),
        RecipeParameter("aux_k", .int, default: .int(256), "TopK: dead latents in the auxiliary loss"),
        RecipeParameter("l1", .number, default: .double(0.01), "ReLU: L1 coefficient on Σ f (activations scaled to mean ‖x‖² = 1)"),
        RecipeParameter("steps", .int, default: .int(800), "training steps of each SAE"),
        RecipeParameter("batch", .int, default: .int(128), "tokens per step"),
        RecipeParameter("learning_rate", .number, default: .double(1e-3), "Adam learning rate"),
    ]
    static let metrics = [
        RecipeMetric("tokens", "cached activations (train + held out)"),
        RecipeMetric("topk_fve", "TopK: fraction of variance explained on held-out tokens"),
        RecipeMetric("topk_l0", "TopK: mean active latents per held-out token"),
        RecipeMetric("topk_dead_fraction", "TopK: latents that fire on no cached token"),
        RecipeMetric("relu_fve", "ReLU: fraction of variance explained on held-out tokens"),
        RecipeMetric("relu_l0", "ReLU: mean active latents per held-out token"),
        RecipeMetric("relu_dead_fraction", "ReLU: latents that fire on no cached token"),
        RecipeMetric("topk_minus_relu_fve", "TopK FVE − ReLU FVE on held-out tokens"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let (residIndex, window, expansion) = (try p.int("resid_index"), try p.int("window"), try p.int("expansion"))
        let (k, auxK, steps, batch) = (try p.int("k"), try p.int("aux_k"), try p.int("steps"), try p.int("batch"))
        let (evalFraction, l1, lr) = (try p.double("eval_fraction"), try p.double("l1"), try p.double("learning_rate"))
        func bad(_ name: String, _ value: Any, _ expected: String) -> ReproductionError {
            .parameter(recipe: Self.name, name: name, problem: "\(value): expected \(expected)")
        }
        if window < 2 { throw bad("window", window, "at least 2") }
        if !(evalFraction > 0 && evalFraction < 1) { throw bad("eval_fraction", evalFraction, "a value in (0, 1)") }
        if expansion < 1 { throw bad("expansion", expansion, "at least 1") }

        let loaded = try context.loadModel()
        let dims = loaded.model.dimensions
        if residIndex < 0 || residIndex > dims.layers { throw bad("resid_index", residIndex, "0…\(dims.layers)") }
        let textURL = try context.dataFile(try p.string("text"))
        let text = try String(contentsOf: textURL, encoding: .utf8)
        let ids = try loaded.encode(text)
        let windows = ids.count / window
        let evalWindows = Int((Double(windows) * evalFraction).rounded())
        if windows < 2 || evalWindows < 1 || evalWindows >= windows {
            throw bad("window", window, "a length giving at least 2 windows of the \(ids.count) tokens of \(textURL.lastPathComponent)")
        }

        // Cache the residual stream, positions 1..<window of every window.
        let hook = HookName.resid(residIndex), d = dims.dModel
        var rows: [Float] = []
        rows.reserveCapacity(windows * (window - 1) * d)
        let perCall = 8
        for start in stride(from: 0, to: windows, by: perCall) {
            let group = (start..<min(windows, start + perCall)).map { Array(ids[($0 * window)..<(($0 + 1) * window)]) }
            let (_, cache) = try loaded.model.runWithCache(TokenBatch(sequences: group), names: [hook])
            guard let acts = cache[hook]?.contiguous().scalars else {
                throw ReproductionError.parameter(recipe: Self.name, name: "resid_index", problem: "the model produced no activation at \(hook)")
            }
            for b in 0..<group.count {
                let base = b * window * d
                rows += acts[(base + d)..<(base + window * d)]
            }
            context.progress(0.3 * Double(min(windows, start + perCall)) / Double(windows), "cached \(min(windows, start + perCall))/\(windows) windows")
        }
        let perWindow = window - 1, n = windows * perWindow
        let all = Tensor(shape: [n, d], scalars: rows)
        // One scale for all tokens (mean ‖x‖² = 1), so the L1 coefficient does not depend on the model's norm.
        let meanSquare = all.squared().sum(axes: [1]).mean().item
        let scaled = (all / meanSquare.squareRoot()).contiguous()
        let trainRows = (windows - evalWindows) * perWindow
        let train = scaled.slice(axis: 0, 0..<trainRows).contiguous()
        let heldOut = scaled.slice(axis: 0, trainRows..<n).contiguous()

        let latents = expansion * d
        var results: [(name: String, metrics: SparseAutoencoderMetrics, firing: [Float])] = []
        let kinds: [(String, SparseAutoencoder.Kind)] = [
            ("TopK", .topK(k: k, auxK: min(auxK, latents), auxCoefficient: 1.0 / 32, deadAfterSteps: max(1, steps / 10))),
            ("ReLU", .relu(l1: Float(l1))),
        ]
        for (i, (label, kind)) in kinds.enumerated() {
            var sae = try SparseAutoencoder(.init(inputDimension: d, latents: latents, kind: kind, steps: steps, batchSize: batch,
                                                  learningRate: Float(lr), seed: context.seed &+ UInt64(i), logEvery: max(1, steps / 20)))
            _ = try sae.train(on: train) { pr in
                context.progress(0.3 + 0.35 * (Double(i) + Double(pr.step) / Double(pr.totalSteps)), "\(label) SAE step \(pr.step)/\(pr.totalSteps)")
            }
            let heldOutMetrics = try sae.metrics(on: heldOut)
            // Firing frequency of every latent over all cached tokens.
            let firing = try sae.encode(scaled).stepMask { $0 .!= 0 }.mean(axes: [0]).scalars
            var m = heldOutMetrics
            m.deadFraction = Float(firing.filter { $0 == 0 }.count) / Float(latents)
            results.append((label, m, firing))
        }
        let (topK, relu) = (results[0].metrics, results[1].metrics)

        try context.addFigure("fve-l0", caption: "Held-out fraction of variance explained and L0 of the TopK (k = \(k)) and ReLU (L1 \(l1)) SAEs, \(latents) latents, resid \(residIndex) of \(loaded.name)",
                              chart: BarChart(labels: ["TopK FVE", "ReLU FVE", "TopK L0 / k", "ReLU L0 / k"],
                                              values: [Double(topK.fractionOfVarianceExplained), Double(relu.fractionOfVarianceExplained),
                                                       Double(topK.l0) / Double(k), Double(relu.l0) / Double(k)],
                                              title: "SAEs on \(loaded.name) resid \(residIndex)", valueLabel: "value"))
        // Histogram of log10 firing frequency (dead latents in the leftmost bin).
        let edges = stride(from: -4.0, through: 0.0, by: 0.25).map { $0 }
        let series = results.map { r -> Series in
            var counts = [Double](repeating: 0, count: edges.count)
            for f in r.firing {
                let lf = f > 0 ? log10(Double(f)) : -4
                let bin = min(edges.count - 1, max(0, Int(((lf + 4) / 0.25).rounded(.down))))
                counts[bin] += 1
            }
            return Series(name: r.name, x: edges, y: counts.map { $0 / Double(latents) })
        }
        try context.addFigure("latent-frequency", caption: "Fraction of latents by log10 firing frequency over all \(n) cached tokens (dead latents at −4)",
                              chart: LineChart(series: series, title: "Latent firing frequency", xLabel: "log10 firing frequency", yLabel: "fraction of latents"))
        context.progress(1, "done")
        let notes = [
            "\(n) tokens (\(windows) windows of \(window), first position left out) at `\(hook)`; \(trainRows) train, \(n - trainRows) held out; activations scaled to mean ‖x‖² = 1.",
            String(format: "TopK: FVE %.3f, L0 %.1f, dead %.3f. ReLU (L1 %g): FVE %.3f, L0 %.1f, dead %.3f.",
                   topK.fractionOfVarianceExplained, topK.l0, topK.deadFraction, l1,
                   relu.fractionOfVarianceExplained, relu.l0, relu.deadFraction),
        ]
        return RecipeOutput(metrics: [
            "tokens": Double(n),
            "topk_fve": Double(topK.fractionOfVarianceExplained), "topk_l0": Double(topK.l0), "topk_dead_fraction": Double(topK.deadFraction),
            "relu_fve": Double(relu.fractionOfVarianceExplained), "relu_l0": Double(relu.l0), "relu_dead_fraction": Double(relu.deadFraction),
            "topk_minus_relu_fve": Double(topK.fractionOfVarianceExplained - relu.fractionOfVarianceExplained),
        ], notes: notes)
    }
}
