import Foundation
import GlassboxMethods
import GlassboxReports
import GlassboxTensor

/// Induction heads in attention-only transformers — Olsson et al. 2022, arXiv 2209.11895.
/// Trains a 2-layer and a 1-layer `AttentionOnlyTransformer` on [noise][segment][segment]
/// sequences and compares their induction scores and second-copy losses.
enum InductionToyRecipe: Recipe {
    static let name = "induction.attention-only"
    static let summary = "Induction heads (arXiv 2209.11895): 2-layer vs 1-layer attention-only transformer on repeated random segments."
    static let parameters = [
        RecipeParameter("vocabulary", .int, default: .int(32), "token vocabulary"),
        RecipeParameter("sequence_length", .int, default: .int(24), "tokens per sequence"),
        RecipeParameter("min_segment", .int, default: .int(4), "shortest repeated segment"),
        RecipeParameter("max_segment", .int, default: .int(10), "longest repeated segment"),
        RecipeParameter("heads", .int, default: .int(2), "heads per layer"),
        RecipeParameter("d_model", .int, default: .int(32), "residual width"),
        RecipeParameter("d_head", .int, default: .int(16), "width per head"),
        RecipeParameter("steps", .int, default: .int(2000), "AdamW steps, for each model"),
        RecipeParameter("batch_size", .int, default: .int(64), "sequences per step"),
        RecipeParameter("learning_rate", .number, default: .double(1e-2), "AdamW learning rate"),
        RecipeParameter("eval_every", .int, default: .int(100), "steps between measurements on the fixed evaluation batch"),
    ]
    static let metrics = [
        RecipeMetric("two_layer_max_induction_score", "2 layers: best head's mean attention from a second-copy token to the token after its earlier occurrence"),
        RecipeMetric("two_layer_second_copy_loss", "2 layers: mean loss (nats) on second-copy tokens the first copy predicts"),
        RecipeMetric("two_layer_first_copy_loss", "2 layers: mean loss (nats) on first-copy tokens (random: about ln vocabulary)"),
        RecipeMetric("two_layer_second_to_first_copy_loss_ratio", "2 layers: second-copy loss / first-copy loss"),
        RecipeMetric("two_layer_previous_token_score", "2 layers: best layer-0 head's mean attention to the previous token"),
        RecipeMetric("two_layer_top_ablation_gap_share", "2 layers: rise in second-copy loss when the most important head is zeroed, as a share of first − second copy loss"),
        RecipeMetric("two_layer_formation_step", "2 layers: first measured step with an induction score > 0.5"),
        RecipeMetric("two_layer_drop_duration_share", "2 layers: steps over which the second-copy loss falls from 10% to 90% of its total drop, as a share of training"),
        RecipeMetric("one_layer_max_induction_score", "1 layer: best head's induction score"),
        RecipeMetric("one_layer_second_copy_loss", "1 layer: mean loss (nats) on second-copy tokens"),
        RecipeMetric("one_layer_second_to_first_copy_loss_ratio", "1 layer: second-copy loss / first-copy loss"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let q = context.parameters
        func config(layers: Int) throws -> AttentionOnlyTransformer.Configuration {
            AttentionOnlyTransformer.Configuration(
                vocabulary: try q.int("vocabulary"), sequenceLength: try q.int("sequence_length"),
                minSegment: try q.int("min_segment"), maxSegment: try q.int("max_segment"), layers: layers,
                heads: try q.int("heads"), dModel: try q.int("d_model"), dHead: try q.int("d_head"), steps: try q.int("steps"),
                batchSize: try q.int("batch_size"), learningRate: Float(try q.double("learning_rate")),
                seed: context.seed, evalEvery: try q.int("eval_every"))
        }
        let two: AttentionOnlyResult, one: AttentionOnlyResult
        do {
            var m2 = try AttentionOnlyTransformer(try config(layers: 2))
            two = m2.train(progress: context.toyProgress("2 layers", from: 0, to: 0.65))
            var m1 = try AttentionOnlyTransformer(try config(layers: 1))
            one = m1.train(progress: context.toyProgress("1 layer", from: 0.65, to: 1))
        } catch let error as ToyModelError {
            throw ReproductionError.parameter(recipe: name, name: "parameters", problem: error.description)
        }
        let f2 = two.final, f1 = one.final
        let steps = two.model.configuration.steps
        let gap = f2.firstCopyLoss - f2.secondCopyLoss
        let bestAblation = two.headAblations.max { $0.increase < $1.increase }!
        var metrics: [String: Double] = [
            "two_layer_max_induction_score": Double(f2.maxInductionScore),
            "two_layer_second_copy_loss": Double(f2.secondCopyLoss),
            "two_layer_first_copy_loss": Double(f2.firstCopyLoss),
            "two_layer_second_to_first_copy_loss_ratio": Double(f2.secondCopyLoss / f2.firstCopyLoss),
            "two_layer_previous_token_score": Double(f2.previousTokenScores[0].max()!),
            "two_layer_top_ablation_gap_share": gap > 0 ? Double(bestAblation.increase / gap) : 0,
            "one_layer_max_induction_score": Double(f1.maxInductionScore),
            "one_layer_second_copy_loss": Double(f1.secondCopyLoss),
            "one_layer_second_to_first_copy_loss_ratio": Double(f1.secondCopyLoss / f1.firstCopyLoss),
        ]
        if let formed = two.curve.first(where: { $0.measurement.maxInductionScore > 0.5 }) {
            metrics["two_layer_formation_step"] = Double(formed.step)
        }
        // Abruptness: the steps between 10% and 90% of the second-copy loss's total drop.
        let losses = two.curve.map { Double($0.measurement.secondCopyLoss) }
        if let start = losses.first, let end = losses.last, start > end {
            let drop = start - end
            let at10 = two.curve.first { start - Double($0.measurement.secondCopyLoss) >= 0.1 * drop }!.step
            let at90 = two.curve.first { start - Double($0.measurement.secondCopyLoss) >= 0.9 * drop }!.step
            metrics["two_layer_drop_duration_share"] = Double(at90 - at10) / Double(steps)
        }

        // Figures: per-head scores, the best head's pattern, the scores during training.
        let rows = [("2L layer 0", f2.inductionScores[0]), ("2L layer 1", f2.inductionScores[1]), ("1L layer 0", f1.inductionScores[0])]
        try context.addFigure("induction-scores", caption: "Induction score of every head after training (2-layer model: rows 1–2; 1-layer model: row 3)",
                              chart: Heatmap(values: rows.map { $0.1.map(Double.init) }, rowLabels: rows.map(\.0),
                                             columnLabels: (0..<f2.inductionScores[0].count).map { "head \($0)" },
                                             title: "Induction score per head", xLabel: "head", yLabel: "model, layer",
                                             scale: .sequential(lower: 0, upper: 1), showValues: true, colorBarLabel: "induction score"))
        var (bestLayer, bestHead) = (0, 0)
        for (l, scores) in f2.inductionScores.enumerated() {
            for (h, s) in scores.enumerated() where s > f2.inductionScores[bestLayer][bestHead] { (bestLayer, bestHead) = (l, h) }
        }
        var rng = SeededGenerator(seed: context.derivedSeed(7))
        let example = AttentionOnlyTransformer.sampleBatch(two.model.configuration, size: 1, using: &rng)
        let t = two.model.configuration.sequenceLength, segment = example.segmentLengths[0]
        let pattern = two.model.attentionPatterns(example.tokens)[bestLayer].contiguous().scalars   // [1, H, T, T]
        let base = bestHead * t * t
        let labels = example.tokens[0].enumerated().map { "\($0.offset):\($0.element)" }
        try context.addFigure("pattern", caption: "Attention of the 2-layer model's best induction head (layer \(bestLayer), head \(bestHead)) on one sequence whose last \(segment) tokens repeat the \(segment) before them: the off-diagonal stripe in the second copy attends to the token after the earlier occurrence",
                              chart: Heatmap(values: (0..<t).map { qi in (0..<t).map { Double(pattern[base + qi * t + $0]) } },
                                             rowLabels: labels, columnLabels: labels,
                                             title: "Layer \(bestLayer) head \(bestHead) attention (position:token)", xLabel: "key", yLabel: "query",
                                             scale: .sequential(lower: 0, upper: 1), colorBarLabel: "attention"))
        let stepsAxis = two.curve.map { Double($0.step) }
        try context.addFigure("training", caption: "Best induction score during training: the 2-layer model forms an induction head abruptly, the 1-layer model never does",
                              chart: LineChart(series: [Series(name: "2 layers", x: stepsAxis, y: two.curve.map { Double($0.measurement.maxInductionScore) }, color: "#e15759"),
                                                        Series(name: "1 layer", x: one.curve.map { Double($0.step) }, y: one.curve.map { Double($0.measurement.maxInductionScore) }, color: "#4e79a7")],
                                               title: "Induction score during training", xLabel: "step", yLabel: "max induction score",
                                               yRange: 0...1))
        let notes = [
            "2 layers: induction scores per layer " + f2.inductionScores.map { $0.map { fixed(Double($0), 2) }.joined(separator: "/") }.joined(separator: " | ")
                + ", previous-token scores " + f2.previousTokenScores.map { $0.map { fixed(Double($0), 2) }.joined(separator: "/") }.joined(separator: " | "),
            "2 layers: second-copy loss \(fixed(Double(f2.secondCopyLoss))) vs first-copy \(fixed(Double(f2.firstCopyLoss))) nats (in-context-learning score, second − first: \(fixed(Double(f2.inContextLearningScore))))",
            "Largest ablation effect: layer \(bestAblation.layer) head \(bestAblation.head) (+\(fixed(Double(bestAblation.increase))) nats on the second copy)",
            "1 layer: induction scores " + f1.inductionScores[0].map { fixed(Double($0), 2) }.joined(separator: "/") + ", second-copy loss \(fixed(Double(f1.secondCopyLoss)))",
        ]
        return RecipeOutput(metrics: metrics, notes: notes)
    }
}
