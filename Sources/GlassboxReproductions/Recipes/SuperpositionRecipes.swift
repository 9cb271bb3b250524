import Foundation
import GlassboxMethods
import GlassboxReports
import GlassboxTensor

// Recipes on the toy models of superposition — Elhage et al. 2022, arXiv 2209.10652.

/// Common training parameters of the superposition recipes (the paper's notebook defaults).
private let trainingParameters: [RecipeParameter] = [
    RecipeParameter("steps", .int, default: .int(10_000), "AdamW steps"),
    RecipeParameter("batch_size", .int, default: .int(1024), "samples per step"),
    RecipeParameter("learning_rate", .number, default: .double(1e-3), "AdamW learning rate"),
]

extension RecipeContext {
    /// Trains a `SuperpositionModel` with the context's training parameters and seed.
    fileprivate func trainSuperposition(features: Int, hidden: Int, importance: [Float], sparsities: [Float],
                                        activation: SuperpositionModel.Activation, seedIndex: UInt64,
                                        label: String, from start: Double, to end: Double) throws -> SuperpositionTrainingResult {
        let steps = try checked("steps", parameters.int("steps"), "a positive integer") { $0 > 0 }
        let config = SuperpositionModel.Configuration(
            features: features, hidden: hidden, importance: importance, sparsities: sparsities, activation: activation,
            steps: steps, batchSize: try parameters.int("batch_size"),
            learningRate: Float(try parameters.double("learning_rate")), seed: derivedSeed(seedIndex),
            logEvery: max(1, steps / 100))
        do {
            var model = try SuperpositionModel(config)
            return model.train(progress: toyProgress(label, from: start, to: end))
        } catch let error as ToyModelError {
            throw ReproductionError.parameter(recipe: recipe, name: "parameters", problem: error.description)
        }
    }

    fileprivate func geometricImportance(features: Int) throws -> [Float] {
        let decay = try checked("importance_decay", parameters.double("importance_decay"), "a number in (0, 1]") { $0 > 0 && $0 <= 1 }
        return SuperpositionModel.Configuration.geometricImportance(features: features, decay: Float(decay))
    }
}

/// WᵀW of one instance as a heatmap (diverging around 0, fixed to ±1 so instances compare).
private func gramHeatmap(_ a: SuperpositionAnalysis, title: String) -> Heatmap {
    let n = a.featureNorms.count, g = a.gram.scalars
    let rows = (0..<n).map { r in (0..<n).map { Double(g[r * n + $0]) } }
    return Heatmap(values: rows, title: title, xLabel: "feature j", yLabel: "feature i",
                   scale: .diverging(radius: 1), colorBarLabel: "Wᵢ·Wⱼ")
}

/// ‖Wᵢ‖ per feature, coloured by whether the feature shares its direction with others.
private func normBars(_ a: SuperpositionAnalysis, title: String) -> BarChart {
    let bars = a.featureNorms.enumerated().map { i, norm in
        BarChart.Bar(label: String(i), value: Double(norm),
                     color: a.interference[i] > 0.05 ? "#f28e2b" : "#222222")
    }
    return BarChart(bars: bars, title: title, categoryLabel: "feature (most important first)",
                    valueLabel: "‖Wᵢ‖", showValues: false,
                    referenceLines: [ReferenceLine(value: 0.5, label: "represented")])
}

/// n = 20, m = 5, Iᵢ = 0.7ⁱ: the ReLU and the linear model over a sparsity sweep.
enum SuperpositionBasicRecipe: Recipe {
    static let name = "superposition.basic"
    static let summary = "Toy model of superposition (arXiv 2209.10652): ReLU vs linear model over a sparsity sweep; represented features and interference."
    static let parameters = [
        RecipeParameter("features", .int, default: .int(20), "n, input features"),
        RecipeParameter("hidden", .int, default: .int(5), "m, hidden dimensions"),
        RecipeParameter("importance_decay", .number, default: .double(0.7), "importance Iᵢ = decayⁱ"),
        RecipeParameter("sparsities", .numberList, default: .list([.double(0), .double(0.9), .double(0.99), .double(0.999)]),
                        "S per instance; the first is the dense reference"),
    ] + trainingParameters
    static let metrics = [
        RecipeMetric("represented_features_at_dense", "ReLU model, first sparsity: features with ‖Wᵢ‖ > 0.5"),
        RecipeMetric("max_off_diagonal_at_dense", "ReLU model, first sparsity: largest |WᵀW| entry off the diagonal"),
        RecipeMetric("min_represented_features_sparse", "ReLU model: fewest represented features among instances with 1 − S ≤ 0.01"),
        RecipeMetric("represented_features_sparsest", "ReLU model, sparsest instance: represented features"),
        RecipeMetric("max_interference_sparsest", "ReLU model, sparsest instance: largest Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)²"),
        RecipeMetric("linear_min_represented_features", "linear model: fewest represented features over all sparsities"),
        RecipeMetric("linear_max_represented_features", "linear model: most represented features over all sparsities"),
        RecipeMetric("dimensions_per_feature_dense", "ReLU model, first sparsity: m / ‖W‖²_F"),
        RecipeMetric("dimensions_per_feature_sparsest", "ReLU model, sparsest instance: m / ‖W‖²_F"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let n = try context.checked("features", p.int("features"), "a positive integer") { $0 > 0 }
        let m = try context.checked("hidden", p.int("hidden"), "an integer in 1..<features") { $0 > 0 && $0 < n }
        let sparsities = try context.checked("sparsities", p.doubles("sparsities"), "a non-empty list of values in [0, 1)") {
            !$0.isEmpty && $0.allSatisfy { $0 >= 0 && $0 < 1 }
        }.map { Float($0) }
        let importance = try context.geometricImportance(features: n)

        let relu = try context.trainSuperposition(features: n, hidden: m, importance: importance, sparsities: sparsities,
                                                  activation: .relu, seedIndex: 0, label: "ReLU", from: 0, to: 0.5)
        let linear = try context.trainSuperposition(features: n, hidden: m, importance: importance, sparsities: sparsities,
                                                    activation: .linear, seedIndex: 1, label: "linear", from: 0.5, to: 1)
        let dense = relu.analyses[0]
        let sparsestIndex = sparsities.indices.max { sparsities[$0] < sparsities[$1] }!
        let sparsest = relu.analyses[sparsestIndex]
        let sparse = relu.analyses.filter { 1 - Double($0.sparsity) <= 0.01 + 1e-9 }
        let linearCounts = linear.analyses.map(\.representedFeatures)

        var metrics: [String: Double] = [
            "represented_features_at_dense": Double(dense.representedFeatures),
            "max_off_diagonal_at_dense": Double(dense.maxOffDiagonal),
            "represented_features_sparsest": Double(sparsest.representedFeatures),
            "max_interference_sparsest": Double(sparsest.interference.max() ?? 0),
            "linear_min_represented_features": Double(linearCounts.min()!),
            "linear_max_represented_features": Double(linearCounts.max()!),
            "dimensions_per_feature_dense": Double(dense.dimensionsPerFeature),
            "dimensions_per_feature_sparsest": Double(sparsest.dimensionsPerFeature),
        ]
        if let fewest = sparse.map(\.representedFeatures).min() {
            metrics["min_represented_features_sparse"] = Double(fewest)
        }

        for a in relu.analyses {
            let s = sparsityText(a.sparsity)
            try context.addFigure("wtw-\(sparsityTag(a.sparsity))", caption: "WᵀW of the ReLU model at S = \(s) (\(a.representedFeatures) features represented; diagonal = ‖Wᵢ‖²)",
                                  chart: gramHeatmap(a, title: "ReLU model, S = \(s): WᵀW"))
        }
        try context.addFigure("wtw-linear-dense", caption: "WᵀW of the linear model at S = \(sparsityText(linear.analyses[0].sparsity)) (the same at every S: the top m features, orthogonal)",
                              chart: gramHeatmap(linear.analyses[0], title: "Linear model, S = \(sparsityText(linear.analyses[0].sparsity)): WᵀW"))
        for a in relu.analyses {
            let s = sparsityText(a.sparsity)
            try context.addFigure("norms-\(sparsityTag(a.sparsity))", caption: "‖Wᵢ‖ per feature, ReLU model at S = \(s); orange = in superposition (Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)² > 0.05), black = its own direction",
                                  chart: normBars(a, title: "ReLU model, S = \(s): feature norms"))
        }

        let perInstance = zip(relu.analyses, linear.analyses).map { r, l in
            "S = \(sparsityText(r.sparsity)): ReLU represents \(r.representedFeatures) (max off-diagonal \(fixed(Double(r.maxOffDiagonal))), m/‖W‖²_F = \(fixed(Double(r.dimensionsPerFeature)))); linear represents \(l.representedFeatures)"
        }
        return RecipeOutput(metrics: metrics, notes: perInstance)
    }
}

/// Angles of the columns of a [2, n] weight, in degrees, sorted, and the gaps between neighbours.
func adjacentAngleGaps(_ w: [Float], features n: Int) -> [Double] {
    let angles = (0..<n).map { atan2(Double(w[n + $0]), Double(w[$0])) * 180 / .pi }.sorted()
    return (0..<n).map { $0 == n - 1 ? angles[0] + 360 - angles[n - 1] : angles[$0 + 1] - angles[$0] }
}

/// n = 5, m = 2, Iᵢ = 0.9ⁱ over the notebook's density sweep: the sparsest instance is a pentagon.
enum SuperpositionPentagonRecipe: Recipe {
    static let name = "superposition.pentagon"
    static let summary = "Toy model of superposition (arXiv 2209.10652), 5 features in 2 dimensions: dense keeps 2, sparse forms a pentagon."
    static let parameters = [
        RecipeParameter("features", .int, default: .int(5), "n, input features"),
        RecipeParameter("importance_decay", .number, default: .double(0.9), "importance Iᵢ = decayⁱ"),
        RecipeParameter("instances", .int, default: .int(10), "sparsity instances, 1 − S = 20^(−t) for t = linspace(0, 1)"),
    ] + trainingParameters
    static let metrics = [
        RecipeMetric("represented_features_at_dense", "densest instance (S = 0): features with ‖Wᵢ‖ > 0.5"),
        RecipeMetric("represented_features_sparsest", "sparsest instance: features with ‖Wᵢ‖ > 0.5"),
        RecipeMetric("min_norm_sparsest", "sparsest instance: smallest ‖Wᵢ‖"),
        RecipeMetric("max_angle_deviation_sparsest", "sparsest instance: largest |gap − 360°/n| between adjacent feature directions, degrees"),
        RecipeMetric("mean_dimensionality_sparsest", "sparsest instance: mean Dᵢ (2/5 for a regular pentagon)"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let n = try context.checked("features", p.int("features"), "an integer ≥ 3") { $0 >= 3 }
        let count = try context.checked("instances", p.int("instances"), "an integer ≥ 2") { $0 >= 2 }
        let sparsities = SuperpositionModel.Configuration.densitySweep(count: count)
        let importance = try context.geometricImportance(features: n)
        let result = try context.trainSuperposition(features: n, hidden: 2, importance: importance,
                                                    sparsities: sparsities, activation: .relu, seedIndex: 0,
                                                    label: "ReLU", from: 0, to: 1)
        let dense = result.analyses[0], sparsest = result.analyses[count - 1]
        let w = result.model.weight.select(axis: 0, count - 1).contiguous().scalars   // [2, n]
        let gaps = adjacentAngleGaps(w, features: n)
        let ideal = 360 / Double(n)
        let metrics: [String: Double] = [
            "represented_features_at_dense": Double(dense.representedFeatures),
            "represented_features_sparsest": Double(sparsest.representedFeatures),
            "min_norm_sparsest": Double(sparsest.featureNorms.min()!),
            "max_angle_deviation_sparsest": gaps.map { abs($0 - ideal) }.max()!,
            "mean_dimensionality_sparsest": Double(sparsest.dimensionality.reduce(0, +)) / Double(n),
        ]
        for (index, label) in [(count - 1, "sparsest"), (0, "dense")] {
            let a = result.analyses[index]
            let wi = result.model.weight.select(axis: 0, index).contiguous().scalars
            let series = (0..<n).map { f in
                Series(name: "feature \(f) (I = \(fixed(Double(importance[f]), 2)))",
                       points: [Series.Point(x: Double(wi[f]), y: Double(wi[n + f]), label: String(f))])
            }
            try context.addFigure("geometry-\(label)", caption: "Columns Wᵢ of the 2-D hidden space, S = \(sparsityText(a.sparsity)) (1 − S = \(fixed(1 - Double(a.sparsity), 3))): \(a.representedFeatures) features represented",
                                  chart: ScatterPlot(series: series, title: "Feature directions at S = \(sparsityText(a.sparsity))",
                                                     xLabel: "hidden 0", yLabel: "hidden 1", equalAspect: true, vectorsFromOrigin: true))
        }
        let notes = [
            "Sparsest instance S = \(sparsityText(sparsest.sparsity)): norms " + sparsest.featureNorms.map { fixed(Double($0), 2) }.joined(separator: ", ")
                + "; adjacent angles " + gaps.map { fixed($0, 1) + "°" }.joined(separator: ", "),
            "Represented features per instance (dense → sparse): " + result.analyses.map { String($0.representedFeatures) }.joined(separator: ", "),
        ]
        return RecipeOutput(metrics: metrics, notes: notes)
    }
}

/// n features (uniform importance) in m dimensions over a wide sparsity sweep: dimensions per
/// feature D* = m / ‖W‖²_F and each feature's dimensionality Dᵢ against 1/(1 − S).
enum SuperpositionDimensionalityRecipe: Recipe {
    static let name = "superposition.dimensionality"
    static let summary = "Feature dimensionality (arXiv 2209.10652, 'The Geometry of Superposition'): D* and per-feature Dᵢ over a sparsity sweep."
    /// The fractions the paper finds Dᵢ "sticks" to: dedicated dimension, tetrahedron, triangle,
    /// antipodal pair, pentagon, square antiprism.
    static let stickyFractions: [Double] = [1, 3.0 / 4, 2.0 / 3, 1.0 / 2, 2.0 / 5, 3.0 / 8]

    static let parameters = [
        RecipeParameter("features", .int, default: .int(400), "n, input features (importance 1 each)"),
        RecipeParameter("hidden", .int, default: .int(30), "m, hidden dimensions"),
        RecipeParameter("instances", .int, default: .int(20), "sparsity instances, 1/(1 − S) log-spaced from 1 to max_inverse_density"),
        RecipeParameter("max_inverse_density", .number, default: .double(100), "1/(1 − S) of the sparsest instance"),
        RecipeParameter("sticky_window", .number, default: .double(0.03), "|Dᵢ − fraction| counted as 'at' a sticky fraction"),
    ] + trainingParameters
    static let metrics = [
        RecipeMetric("dstar_dense", "D* = m / ‖W‖²_F of the densest instance"),
        RecipeMetric("dstar_sparsest", "D* of the sparsest instance"),
        RecipeMetric("dstar_min", "smallest D* over the sweep"),
        RecipeMetric("dstar_half_plateau_instances", "instances with |D* − 1/2| ≤ 0.05"),
        RecipeMetric("dstar_decrease_violations", "instances whose D* exceeds the previous (denser) one's by more than 0.02"),
        RecipeMetric("sticky_share", "share of represented features (‖Wᵢ‖ > 0.5, in instances with S > 0) whose Dᵢ is within sticky_window of 1, 3/4, 2/3, 1/2, 2/5 or 3/8"),
        RecipeMetric("sticky_share_uniform", "the share sticky_share would be if those Dᵢ were spread uniformly over their observed range"),
        RecipeMetric("sticky_share_excess", "sticky_share / sticky_share_uniform (1 = no clustering at the fractions)"),
        RecipeMetric("sticky_fractions_with_mode", "sticky fractions with a local maximum of the Dᵢ histogram (bins of 0.02) within sticky_window"),
        RecipeMetric("half_share", "share of those features with |Dᵢ − 1/2| ≤ sticky_window"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let n = try context.checked("features", p.int("features"), "a positive integer") { $0 > 0 }
        let m = try context.checked("hidden", p.int("hidden"), "an integer in 1..<features") { $0 > 0 && $0 < n }
        let count = try context.checked("instances", p.int("instances"), "an integer ≥ 2") { $0 >= 2 }
        let maxInverse = try context.checked("max_inverse_density", p.double("max_inverse_density"), "a number > 1") { $0 > 1 }
        let window = try context.checked("sticky_window", p.double("sticky_window"), "a number in (0, 0.1]") { $0 > 0 && $0 <= 0.1 }
        // 1/(1 − S) = maxInverse^t, t = linspace(0, 1, count)
        let sparsities = (0..<count).map { i in Float(1 - pow(maxInverse, -Double(i) / Double(count - 1))) }
        let result = try context.trainSuperposition(features: n, hidden: m, importance: [Float](repeating: 1, count: n),
                                                    sparsities: sparsities, activation: .relu, seedIndex: 0,
                                                    label: "ReLU", from: 0, to: 1)
        let a = result.analyses
        let dstar = a.map { Double($0.dimensionsPerFeature) }
        let inverse = sparsities.map { 1 / (1 - Double($0)) }

        // Dᵢ of the represented features of the sparse instances.
        var dims: [Double] = []
        for x in a where x.sparsity > 0 {
            for (norm, d) in zip(x.featureNorms, x.dimensionality) where norm > 0.5 { dims.append(Double(d)) }
        }
        let near = { (d: Double) in stickyFractions.contains { abs(d - $0) <= window } }
        let share = dims.isEmpty ? 0 : Double(dims.filter(near).count) / Double(dims.count)
        // The same window measured on a uniform spread over [min Dᵢ, max Dᵢ].
        var uniformShare = 0.0
        if let lo = dims.min(), let hi = dims.max(), hi > lo {
            let grid = 10_000
            let hits = (0..<grid).filter { near(lo + (hi - lo) * (Double($0) + 0.5) / Double(grid)) }.count
            uniformShare = Double(hits) / Double(grid)
        }
        // Histogram modes: bins of 0.02 over [0, 1.02]; a mode is a bin above both neighbours.
        let binWidth = 0.02, bins = 52
        var histogram = [Int](repeating: 0, count: bins)
        for d in dims { histogram[min(bins - 1, max(0, Int(d / binWidth)))] += 1 }
        let modes = (0..<bins).filter { b in
            histogram[b] > 0 && (b == 0 || histogram[b] > histogram[b - 1]) && (b == bins - 1 || histogram[b] >= histogram[b + 1])
        }.map { (Double($0) + 0.5) * binWidth }
        let fractionsWithMode = stickyFractions.filter { f in modes.contains { abs($0 - f) <= window } }
        var violations = 0
        for i in 1..<count where dstar[i] > dstar[i - 1] + 0.02 { violations += 1 }

        let metrics: [String: Double] = [
            "dstar_dense": dstar[0],
            "dstar_sparsest": dstar[count - 1],
            "dstar_min": dstar.min()!,
            "dstar_half_plateau_instances": Double(dstar.filter { abs($0 - 0.5) <= 0.05 }.count),
            "dstar_decrease_violations": Double(violations),
            "sticky_share": share,
            "sticky_share_uniform": uniformShare,
            "sticky_share_excess": uniformShare > 0 ? share / uniformShare : 0,
            "sticky_fractions_with_mode": Double(fractionsWithMode.count),
            "half_share": dims.isEmpty ? 0 : Double(dims.filter { abs($0 - 0.5) <= window }.count) / Double(dims.count),
        ]

        // Figure: every represented feature's Dᵢ against log₁₀ 1/(1 − S), with D* as a second series.
        var featurePoints: [Series.Point] = []
        for (x, inv) in zip(a, inverse) {
            for (norm, d) in zip(x.featureNorms, x.dimensionality) where norm > 0.5 {
                featurePoints.append(Series.Point(x: log10(inv), y: Double(d)))
            }
        }
        let dstarPoints = zip(inverse, dstar).map { Series.Point(x: log10($0), y: $1) }
        try context.addFigure("dimensionality", caption: "Per-feature dimensionality Dᵢ (dots, represented features) and dimensions per feature D* = m/‖W‖²_F (crosses) against log₁₀ 1/(1 − S); the paper's sticky fractions are 1, 3/4, 2/3, 1/2, 2/5, 3/8",
                              chart: ScatterPlot(series: [Series(name: "Dᵢ per feature", points: featurePoints, color: "#4e79a7"),
                                                          Series(name: "D* = m/‖W‖²_F", points: dstarPoints, color: "#e15759")],
                                                 title: "Feature dimensionality, n = \(n), m = \(m)",
                                                 xLabel: "log₁₀ 1/(1 − S)", yLabel: "dimensionality"))
        let histogramBars = (0..<bins).map { b in
            BarChart.Bar(label: fixed((Double(b) + 0.5) * binWidth, 2), value: Double(histogram[b]),
                         color: stickyFractions.contains { abs((Double(b) + 0.5) * binWidth - $0) <= binWidth / 2 } ? "#e15759" : nil)
        }
        try context.addFigure("histogram", caption: "Histogram of Dᵢ over the represented features of every sparse instance (bins of 0.02; red bins contain a sticky fraction)",
                              chart: BarChart(bars: histogramBars, title: "Dᵢ histogram", categoryLabel: "Dᵢ", valueLabel: "features", showValues: false))
        let notes = [
            "D* per instance (1/(1 − S): D*): " + zip(inverse, dstar).map { "\(fixed($0, 1)): \(fixed($1))" }.joined(separator: ", "),
            "\(dims.count) represented features in sparse instances; \(fixed(100 * share, 1))% lie within ±\(window) of a sticky fraction, against \(fixed(100 * uniformShare, 1))% for a uniform spread; histogram modes at " + modes.map { fixed($0, 2) }.joined(separator: ", "),
        ]
        return RecipeOutput(metrics: metrics, notes: notes)
    }
}
