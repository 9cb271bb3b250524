import Foundation
import GlassboxMethods
import GlassboxReports
import GlassboxTensor

// Sparse autoencoders on synthetic activations with planted features: recovery of the ground
// truth (Sharkey et al. 2022, "Taking features out of superposition with sparse autoencoders";
// Cunningham et al. 2023, arXiv 2309.08600) and TopK against ReLU + L1 (Gao et al. 2024, arXiv 2406.04093).

/// The planted-feature data and SAE size parameters shared by the SAE recipes.
private func dataParameters(meanActive: Double, steps: Int) -> [RecipeParameter] {
    [
        RecipeParameter("input_dimension", .int, default: .int(32), "d_in of the synthetic activations"),
        RecipeParameter("features", .int, default: .int(64), "planted ground-truth directions"),
        RecipeParameter("mean_active", .number, default: .double(meanActive), "mean planted features active per sample"),
        RecipeParameter("samples", .int, default: .int(8192), "synthetic samples"),
        RecipeParameter("latents", .int, default: .int(128), "SAE dictionary size"),
        RecipeParameter("steps", .int, default: .int(steps), "Adam steps per SAE"),
        RecipeParameter("batch_size", .int, default: .int(256), "samples per step"),
        RecipeParameter("learning_rate", .number, default: .double(1e-3), "Adam learning rate"),
        RecipeParameter("aux_k", .int, default: .int(16), "TopK: dead latents in the auxiliary loss"),
    ]
}

extension RecipeContext {
    fileprivate func plantedData() throws -> PlantedFeatureData {
        let q = parameters
        do {
            return try PlantedFeatureData(inputDimension: try q.int("input_dimension"), features: try q.int("features"),
                                          meanActive: try q.double("mean_active"), samples: try q.int("samples"), seed: derivedSeed(100))
        } catch let error as ToyModelError {
            throw ReproductionError.parameter(recipe: recipe, name: "parameters", problem: error.description)
        }
    }

    fileprivate func topKKind(_ k: Int) throws -> SparseAutoencoder.Kind {
        .topK(k: k, auxK: try parameters.int("aux_k"), auxCoefficient: 1.0 / 32, deadAfterSteps: 50)
    }

    /// Trains one SAE of `kind` on `data` (seed derived from `seedIndex`).
    fileprivate func trainSAE(_ kind: SparseAutoencoder.Kind, on data: PlantedFeatureData, seedIndex: UInt64,
                              label: String, from start: Double, to end: Double) throws -> SparseAutoencoderResult {
        let q = parameters
        do {
            let config = SparseAutoencoder.Configuration(
                inputDimension: try q.int("input_dimension"), latents: try q.int("latents"), kind: kind,
                steps: try q.int("steps"), batchSize: try q.int("batch_size"),
                learningRate: Float(try q.double("learning_rate")), seed: derivedSeed(seedIndex))
            var sae = try SparseAutoencoder(config)
            return try sae.train(on: data.samples, progress: toyProgress(label, from: start, to: end))
        } catch let error as ToyModelError {
            throw ReproductionError.parameter(recipe: recipe, name: "parameters", problem: error.description)
        }
    }
}

/// Per planted feature, the largest cosine similarity with any decoder column, sorted descending.
private func maxCosinePerFeature(_ sae: SparseAutoencoder, truth: Tensor) -> [Double] {
    let t = truth / (truth.squared().sum(axes: [1], keepingDimensions: true).sqrt() + 1e-8)
    let dec = sae.parameters[2]
    let unit = dec / (dec.squared().sum(axes: [0], keepingDimensions: true).sqrt() + 1e-8)
    return t.matmul(unit).max(axis: 1).scalars.map(Double.init).sorted(by: >)   // [features]
}

/// ReLU + L1 and TopK SAEs on planted features: do they find the ground truth?
enum SAEGroundTruthRecipe: Recipe {
    static let name = "sae.ground-truth"
    static let summary = "SAEs (ReLU + L1 and TopK) on synthetic activations with planted features: mean max cosine similarity to the ground truth."
    static let parameters = dataParameters(meanActive: 3, steps: 1500) + [
        RecipeParameter("l1", .number, default: .double(0.3), "ReLU SAE: L1 coefficient on Σ f"),
        RecipeParameter("k", .int, default: .int(4), "TopK SAE: active latents per sample"),
    ]
    static let metrics = [
        RecipeMetric("relu_mmcs", "ReLU + L1: mean over planted features of the max cosine with a decoder column"),
        RecipeMetric("topk_mmcs", "TopK: mean over planted features of the max cosine with a decoder column"),
        RecipeMetric("untrained_mmcs", "the same for the seeded, untrained dictionary (what chance gives)"),
        RecipeMetric("relu_learned_mmcs", "ReLU + L1: mean over decoder columns of the max cosine with a planted feature"),
        RecipeMetric("topk_learned_mmcs", "TopK: mean over decoder columns of the max cosine with a planted feature"),
        RecipeMetric("relu_recovered_share", "ReLU + L1: planted features with a decoder column at cosine ≥ 0.9"),
        RecipeMetric("topk_recovered_share", "TopK: planted features with a decoder column at cosine ≥ 0.9"),
        RecipeMetric("topk_l0", "TopK: mean active latents per sample"),
        RecipeMetric("topk_l0_max_deviation", "TopK: largest |active latents − k| over every sample"),
        RecipeMetric("relu_l0", "ReLU + L1: mean active latents per sample"),
        RecipeMetric("relu_fve", "ReLU + L1: fraction of variance explained"),
        RecipeMetric("topk_fve", "TopK: fraction of variance explained"),
        RecipeMetric("relu_dead_fraction", "ReLU + L1: latents that never fire on the data"),
        RecipeMetric("topk_dead_fraction", "TopK: latents that never fire on the data"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let q = context.parameters
        let data = try context.plantedData()
        let k = try q.int("k")
        let relu = try context.trainSAE(.relu(l1: Float(try q.double("l1"))), on: data, seedIndex: 1, label: "ReLU SAE", from: 0, to: 0.5)
        let topK = try context.trainSAE(try context.topKKind(k), on: data, seedIndex: 2, label: "TopK SAE", from: 0.5, to: 1)
        let untrained = try SparseAutoencoder(relu.model.configuration)   // the same seeded initialisation, before training

        func mmcs(_ sae: SparseAutoencoder) throws -> (truth: Double, learned: Double) {
            let m = try sae.meanMaxCosineSimilarity(to: data.features)
            return (Double(m.truthToLearned), Double(m.learnedToTruth))
        }
        let (r, t, u) = (try mmcs(relu.model), try mmcs(topK.model), try mmcs(untrained))
        let codes = try topK.model.encode(data.samples)
        let perRow = codes.stepMask { $0 .!= 0 }.sum(axes: [1]).scalars
        let deviation = perRow.map { abs(Double($0) - Double(k)) }.max() ?? 0
        let curves = [("untrained", maxCosinePerFeature(untrained, truth: data.features), "#9d9d9d"),
                      ("ReLU + L1", maxCosinePerFeature(relu.model, truth: data.features), "#4e79a7"),
                      ("TopK k = \(k)", maxCosinePerFeature(topK.model, truth: data.features), "#e15759")]
        let metrics: [String: Double] = [
            "relu_mmcs": r.truth, "topk_mmcs": t.truth, "untrained_mmcs": u.truth,
            "relu_learned_mmcs": r.learned, "topk_learned_mmcs": t.learned,
            "relu_recovered_share": Double(curves[1].1.filter { $0 >= 0.9 }.count) / Double(curves[1].1.count),
            "topk_recovered_share": Double(curves[2].1.filter { $0 >= 0.9 }.count) / Double(curves[2].1.count),
            "topk_l0": Double(topK.metrics.l0), "topk_l0_max_deviation": deviation,
            "relu_l0": Double(relu.metrics.l0),
            "relu_fve": Double(relu.metrics.fractionOfVarianceExplained), "topk_fve": Double(topK.metrics.fractionOfVarianceExplained),
            "relu_dead_fraction": Double(relu.metrics.deadFraction), "topk_dead_fraction": Double(topK.metrics.deadFraction),
        ]
        try context.addFigure("max-cosine", caption: "For each planted feature (sorted), the largest cosine similarity with any decoder column; MMCS is the mean of a curve",
                              chart: LineChart(series: curves.map { Series(name: $0.0, y: $0.1, color: $0.2) },
                                               title: "Recovery of \(curves[0].1.count) planted features", xLabel: "planted feature (sorted)",
                                               yLabel: "max cosine with a latent", referenceLines: [ReferenceLine(value: 0.9, label: "0.9")],
                                               yRange: 0...1))
        let notes = [
            "ReLU + L1: MMCS \(fixed(r.truth)) (truth → learned), \(fixed(r.learned)) (learned → truth), L0 \(fixed(Double(relu.metrics.l0), 2)), FVE \(fixed(Double(relu.metrics.fractionOfVarianceExplained))), shrinkage \(fixed(Double(relu.metrics.shrinkage)))",
            "TopK k = \(k): MMCS \(fixed(t.truth)) / \(fixed(t.learned)), L0 \(fixed(Double(topK.metrics.l0), 2)) (every sample within \(Int(deviation)) of k), FVE \(fixed(Double(topK.metrics.fractionOfVarianceExplained)))",
            "Untrained dictionary: MMCS \(fixed(u.truth)); \(data.features.shape[0]) planted features in d_in = \(data.features.shape[1]), \(data.samples.shape[0]) samples",
        ]
        return RecipeOutput(metrics: metrics, notes: notes)
    }
}

/// TopK against ReLU + L1 at equal sparsity: the reconstruction error at L0 = k.
enum SAETopKVersusReLURecipe: Recipe {
    static let name = "sae.topk-vs-relu"
    static let summary = "TopK vs ReLU + L1 SAEs (arXiv 2406.04093) on planted features: reconstruction MSE at equal L0."
    static let parameters = dataParameters(meanActive: 5, steps: 1000) + [
        RecipeParameter("ks", .intList, default: .list([.int(3), .int(5), .int(10)]), "TopK sparsities k to compare at"),
        RecipeParameter("l1_sweep", .numberList, default: .list([.double(0.2), .double(0.5), .double(1), .double(2), .double(4)]),
                        "ReLU L1 coefficients; their (L0, MSE) points are interpolated at L0 = k"),
    ]
    static let metrics = [
        RecipeMetric("topk_better_count", "values of k at which TopK's MSE is below the ReLU frontier's MSE at L0 = k"),
        RecipeMetric("compared_count", "values of k inside the L0 range the ReLU sweep covers"),
        RecipeMetric("max_mse_ratio", "largest TopK MSE / ReLU MSE at L0 = k over the compared k"),
        RecipeMetric("mean_mse_ratio", "mean TopK MSE / ReLU MSE at L0 = k over the compared k"),
    ] + [3, 5, 10].flatMap { k in [
        RecipeMetric("topk_mse_k\(k)", "TopK k = \(k): MSE per element"),
        RecipeMetric("relu_mse_at_l0_\(k)", "ReLU + L1 frontier: MSE per element interpolated at L0 = \(k)"),
        RecipeMetric("mse_ratio_k\(k)", "TopK MSE / ReLU MSE at L0 = \(k)"),
    ] }

    /// Linear interpolation of `points` (x ascending) at x, or nil outside their range.
    static func interpolate(_ points: [(x: Double, y: Double)], at x: Double) -> Double? {
        guard let first = points.first, let last = points.last, x >= first.x, x <= last.x else { return nil }
        for (a, b) in zip(points, points.dropFirst()) where x >= a.x && x <= b.x {
            return b.x == a.x ? a.y : a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x)
        }
        return last.y
    }

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let q = context.parameters
        let ks = try context.checked("ks", q.ints("ks"), "a non-empty list of positive integers") { !$0.isEmpty && $0.allSatisfy { $0 > 0 } }
        let l1s = try context.checked("l1_sweep", q.doubles("l1_sweep"), "at least two positive numbers") { $0.count >= 2 && $0.allSatisfy { $0 > 0 } }
        let data = try context.plantedData()
        let runs = Double(ks.count + l1s.count)
        var relu: [(l1: Double, l0: Double, mse: Double)] = []
        for (i, l1) in l1s.enumerated() {
            let r = try context.trainSAE(.relu(l1: Float(l1)), on: data, seedIndex: 1, label: "ReLU L1 \(l1)",
                                         from: Double(i) / runs, to: Double(i + 1) / runs)
            relu.append((l1, Double(r.metrics.l0), Double(r.metrics.meanSquaredError)))
        }
        var topK: [(k: Int, l0: Double, mse: Double)] = []
        for (i, k) in ks.enumerated() {
            let j = Double(l1s.count + i)
            let r = try context.trainSAE(try context.topKKind(k), on: data, seedIndex: 1, label: "TopK k \(k)",
                                         from: j / runs, to: (j + 1) / runs)
            topK.append((k, Double(r.metrics.l0), Double(r.metrics.meanSquaredError)))
        }
        let frontier = relu.map { (x: $0.l0, y: $0.mse) }.sorted { $0.x < $1.x }
        var metrics: [String: Double] = [:]
        var ratios: [Double] = []
        var notes: [String] = []
        for t in topK {
            if [3, 5, 10].contains(t.k) { metrics["topk_mse_k\(t.k)"] = t.mse }
            guard let reluMSE = interpolate(frontier, at: Double(t.k)) else {
                notes.append("k = \(t.k) is outside the L0 range of the ReLU sweep (\(fixed(frontier.first!.x, 2))…\(fixed(frontier.last!.x, 2))): not compared")
                continue
            }
            let ratio = t.mse / reluMSE
            ratios.append(ratio)
            if [3, 5, 10].contains(t.k) {
                metrics["relu_mse_at_l0_\(t.k)"] = reluMSE
                metrics["mse_ratio_k\(t.k)"] = ratio
            }
            notes.append("k = \(t.k): TopK MSE \(String(format: "%.4g", t.mse)) vs ReLU + L1 \(String(format: "%.4g", reluMSE)) at the same L0 (ratio \(fixed(ratio)))")
        }
        metrics["compared_count"] = Double(ratios.count)
        metrics["topk_better_count"] = Double(ratios.filter { $0 < 1 }.count)
        if !ratios.isEmpty {
            metrics["max_mse_ratio"] = ratios.max()!
            metrics["mean_mse_ratio"] = ratios.reduce(0, +) / Double(ratios.count)
        }
        notes.append("ReLU sweep (L1: L0, MSE): " + relu.map { "\($0.l1): \(fixed($0.l0, 2)), \(String(format: "%.4g", $0.mse))" }.joined(separator: "; "))
        try context.addFigure("frontier", caption: "Reconstruction MSE against L0: the ReLU + L1 sweep (one point per L1 coefficient) and TopK (one point per k); lower is better at equal L0",
                              chart: LineChart(series: [Series(name: "ReLU + L1", x: frontier.map(\.x), y: frontier.map(\.y), color: "#4e79a7"),
                                                        Series(name: "TopK", x: topK.map(\.l0), y: topK.map(\.mse), color: "#e15759")],
                                               title: "Sparsity–reconstruction frontier", xLabel: "L0 (active latents per sample)",
                                               yLabel: "MSE per element", logY: true, markers: true))
        return RecipeOutput(metrics: metrics, notes: notes)
    }
}
