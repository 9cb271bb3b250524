import Foundation
import GlassboxMethods
import GlassboxReports

/// Grokking modular addition and its Fourier circuit — Nanda et al. 2023, arXiv 2301.05217.
/// Trains `ModularAdditionTransformer` full-batch and reports accuracy, the key frequencies of
/// the embedding and the restricted / excluded losses.
enum GrokkingRecipe: Recipe {
    static let name = "grokking.modular-addition"
    static let summary = "Grokking (arXiv 2301.05217): 1-layer transformer on (a + b) mod p; accuracy, key Fourier frequencies, restricted and excluded loss."
    static let parameters = [
        RecipeParameter("p", .int, default: .int(113), "the modulus (an odd prime)"),
        RecipeParameter("train_fraction", .number, default: .double(0.3), "share of the p² pairs used for training"),
        RecipeParameter("d_model", .int, default: .int(128), "residual width"),
        RecipeParameter("heads", .int, default: .int(4), "attention heads"),
        RecipeParameter("d_head", .int, default: .int(32), "width per head"),
        RecipeParameter("d_mlp", .int, default: .int(512), "MLP neurons"),
        RecipeParameter("learning_rate", .number, default: .double(1e-3), "AdamW peak learning rate (10-step linear warm-up)"),
        RecipeParameter("weight_decay", .number, default: .double(1), "AdamW weight decay"),
        RecipeParameter("epochs", .int, default: .int(20_000), "full-batch epochs (at most)"),
        RecipeParameter("eval_every", .int, default: .int(100), "epochs between evaluations of the test set"),
        RecipeParameter("stop_at_test_accuracy", .number, default: .double(0), "stop once test accuracy reaches this (0: run every epoch)"),
    ]
    static let metrics = [
        RecipeMetric("test_accuracy", "accuracy on the held-out pairs at the end"),
        RecipeMetric("train_accuracy", "accuracy on the training pairs at the end"),
        RecipeMetric("test_loss", "cross-entropy on the held-out pairs at the end"),
        RecipeMetric("train_loss", "cross-entropy on the training pairs at the last evaluation"),
        RecipeMetric("key_frequency_count", "frequencies holding ≥ 2× the uniform share of W_E's non-constant Fourier energy"),
        RecipeMetric("key_frequency_share", "share of W_E's non-constant Fourier energy on the key frequencies"),
        RecipeMetric("restricted_loss", "loss over all p² inputs with the logits restricted to the key frequencies' cos/sin(w(a+b−c)) terms"),
        RecipeMetric("restricted_to_test_loss_ratio", "restricted_loss / test_loss (below 1: the key-frequency terms alone beat the full model)"),
        RecipeMetric("excluded_loss", "training loss with those terms removed from the logits"),
        RecipeMetric("excluded_to_train_loss_ratio", "excluded_loss / train_loss"),
        RecipeMetric("fraction_neurons_explained", "live MLP neurons whose variance one frequency explains > 0.85"),
        RecipeMetric("epochs_run", "epochs trained (fewer than `epochs` when stopped early)"),
        RecipeMetric("epoch_memorised", "first evaluation with train accuracy ≥ 99%"),
        RecipeMetric("epoch_generalised", "first evaluation with test accuracy ≥ 99%"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let q = context.parameters
        let stop = try q.double("stop_at_test_accuracy")
        let config = ModularAdditionTransformer.Configuration(
            p: try q.int("p"), trainFraction: try q.double("train_fraction"), dModel: try q.int("d_model"),
            heads: try q.int("heads"), dHead: try q.int("d_head"), dMLP: try q.int("d_mlp"),
            learningRate: Float(try q.double("learning_rate")), weightDecay: Float(try q.double("weight_decay")),
            epochs: try q.int("epochs"), seed: context.seed, evalEvery: try q.int("eval_every"),
            stopAtTestAccuracy: stop > 0 ? stop : nil)
        let result: ModularAdditionResult
        do {
            var model = try ModularAdditionTransformer(config)
            result = model.train { p in
                context.progress(Double(p.step) / Double(max(p.totalSteps, 1)),
                                 "epoch \(p.step)/\(p.totalSteps), train loss \(String(format: "%.3g", p.loss)), test accuracy \(fixed(Double(p.metrics["test_accuracy"] ?? .nan), 3))")
            }
        } catch let error as ToyModelError {
            throw ReproductionError.parameter(recipe: name, name: "parameters", problem: error.description)
        }
        let a = result.analysis, last = result.curve.last!
        var metrics: [String: Double] = [
            "test_accuracy": Double(last.testAccuracy),
            "train_accuracy": Double(last.trainAccuracy),
            "test_loss": Double(a.testLoss),
            "train_loss": Double(last.trainLoss),
            "key_frequency_count": Double(a.keyFrequencies.count),
            "key_frequency_share": Double(a.keyFrequencyShare),
            "restricted_loss": Double(a.restrictedLoss),
            "restricted_to_test_loss_ratio": Double(a.restrictedLoss) / Double(a.testLoss),
            "excluded_loss": Double(a.excludedLoss),
            "excluded_to_train_loss_ratio": Double(a.excludedLoss) / Double(last.trainLoss),
            "fraction_neurons_explained": Double(a.fractionOfNeuronsExplained),
            "epochs_run": Double(result.epochs),
        ]
        let memorised = result.curve.first { $0.trainAccuracy >= 0.99 }?.epoch
        let generalised = result.curve.first { $0.testAccuracy >= 0.99 }?.epoch
        if let memorised { metrics["epoch_memorised"] = Double(memorised) }
        if let generalised { metrics["epoch_generalised"] = Double(generalised) }

        let epochs = result.curve.map { Double($0.epoch) }
        try context.addFigure("curves", caption: "Train and test loss (log scale) every \(config.evalEvery) epochs, p = \(config.p): memorisation first, generalisation later",
                              chart: LineChart(series: [Series(name: "train loss", x: epochs, y: result.curve.map { Double($0.trainLoss) }, color: "#4e79a7"),
                                                        Series(name: "test loss", x: epochs, y: result.curve.map { Double($0.testLoss) }, color: "#e15759")],
                                               title: "Grokking modular addition, p = \(config.p)", xLabel: "epoch", yLabel: "cross-entropy", logY: true))
        let key = Set(a.keyFrequencies)
        let bars = a.embeddingFrequencyNorms.enumerated().map { i, norm in
            BarChart.Bar(label: String(i + 1), value: Double(norm), color: key.contains(i + 1) ? "#e15759" : "#9d9d9d")
        }
        try context.addFigure("fourier", caption: "Norm of the embedding W_E along each Fourier frequency k (cos and sin together); red = key frequencies \(a.keyFrequencies.sorted().map(String.init).joined(separator: ", "))",
                              chart: BarChart(bars: bars, title: "W_E in the Fourier basis, p = \(config.p)", categoryLabel: "frequency k",
                                              valueLabel: "‖W_E projected on k‖", showValues: false))
        var notes = [
            "Key frequencies (largest first): \(a.keyFrequencies.map(String.init).joined(separator: ", ")), carrying \(fixed(100 * Double(a.keyFrequencyShare), 1))% of the embedding's non-constant Fourier energy.",
            "Restricted loss \(String(format: "%.3g", a.restrictedLoss)) vs test loss \(String(format: "%.3g", a.testLoss)); excluded loss \(String(format: "%.3g", a.excludedLoss)) vs train loss \(String(format: "%.3g", last.trainLoss)).",
        ]
        if let memorised, let generalised {
            notes.append("Train accuracy reached 99% at epoch \(memorised), test accuracy at epoch \(generalised) (evaluated every \(config.evalEvery) epochs).")
        }
        return RecipeOutput(metrics: metrics, notes: notes)
    }
}
