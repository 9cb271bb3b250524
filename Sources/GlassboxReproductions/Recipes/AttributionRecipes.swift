import Foundation
import GlassboxMethods
import GlassboxModels
import GlassboxReports
import GlassboxTensor

/// Recipes for feature attribution: gradients, integrated gradients, DeepLIFT, occlusion, Shapley values, LIME.
enum AttributionRecipes {
    static let all: [any Recipe.Type] = [
        IGCompletenessToyRecipe.self,
        IGCompletenessModelRecipe.self,
        KernelSHAPExactRecipe.self,
        DeepLIFTSummationRecipe.self,
        SaliencyRandomizationRecipe.self,
    ]

    /// Metric-name form of a rule: gauss_legendre, riemann_right, …
    static func slug(_ rule: IntegrationRule) -> String { rule.rawValue.replacingOccurrences(of: "-", with: "_") }

    static let stepGrid = [20, 50, 100, 200, 300]

    static func rules(_ names: [String], recipe: String) throws -> [IntegrationRule] {
        try names.map { name in
            guard let r = IntegrationRule(rawValue: name) else {
                throw ReproductionError.parameter(recipe: recipe, name: "rules", problem: "'\(name)' is not a rule (expected \(IntegrationRule.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return r
        }
    }

    static func stepCounts(_ context: RecipeContext) throws -> [Int] {
        let steps = try context.parameters.ints("steps")
        guard !steps.isEmpty, steps.allSatisfy({ stepGrid.contains($0) }) else {
            throw ReproductionError.parameter(recipe: context.recipe, name: "steps", problem: "expected a non-empty subset of \(stepGrid) (got \(steps))")
        }
        return steps.sorted()
    }

    static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1"]
}

/// IG completeness on smooth toy networks: relative error |Σ attr − (F(x) − F(x′))| / |F(x) − F(x′)|
/// per rule and step count (arXiv 1703.01365 §3: "between 20 and 300 steps are enough … within 5%").
enum IGCompletenessToyRecipe: Recipe {
    static let name = "attribution.ig-completeness-toy"
    static let summary = "Integrated gradients on seeded smooth toy networks: completeness error per integration rule and step count."
    static let parameters = [
        RecipeParameter("networks", .int, default: .int(8), "number of seeded networks (and inputs)"),
        RecipeParameter("inputs", .int, default: .int(16), "input features"),
        RecipeParameter("hidden", .int, default: .int(32), "hidden tanh units"),
        RecipeParameter("input_std", .number, default: .double(2), "standard deviation of the inputs (baseline: zeros)"),
        RecipeParameter("steps", .intList, default: .list(AttributionRecipes.stepGrid.map { .int($0) }), "step counts, a subset of 20, 50, 100, 200, 300"),
        RecipeParameter("rules", .stringList, default: .list(IntegrationRule.allCases.map { .string($0.rawValue) }), "integration rules"),
    ]
    static let metrics: [RecipeMetric] = {
        var m: [RecipeMetric] = []
        for r in IntegrationRule.allCases {
            let slug = AttributionRecipes.slug(r)
            for s in AttributionRecipes.stepGrid {
                m.append(RecipeMetric("rel_error_\(slug)_\(s)", "worst relative completeness error over the networks, \(r.rawValue), \(s) steps"))
            }
            m.append(RecipeMetric("steps_to_5pct_\(slug)", "fewest steps of the grid at which every network is within 5% (0: none)"))
        }
        m.append(RecipeMetric("max_steps_to_5pct", "largest steps_to_5pct over the rules (0 when a rule never gets there)"))
        m.append(RecipeMetric("error_increases", "number of times a rule's worst error grew from one step count to the next by more than 1e-4 (float32 rounding noise)"))
        return m
    }()

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let networks = try p.int("networks"), n = try p.int("inputs"), hidden = try p.int("hidden")
        let std = Float(try p.double("input_std"))
        let steps = try AttributionRecipes.stepCounts(context)
        let rules = try AttributionRecipes.rules(try p.strings("rules"), recipe: name)
        var metrics: [String: Double] = [:]
        var series: [Series] = []
        var table: [String] = ["| rule | " + steps.map { "\($0) steps" }.joined(separator: " | ") + " |",
                               "|---|" + steps.map { _ in "---:" }.joined(separator: "|") + "|"]
        var increases = 0
        for (ri, rule) in rules.enumerated() {
            var worst: [Double] = []
            for s in steps {
                var w = 0.0
                for k in 0..<networks {
                    let seed = context.seed &+ UInt64(k)
                    let f = AttributionToyModels.smooth(inputs: n, hidden: hidden, seed: seed)
                    let x = AttributionToyModels.vector(n, seed: seed &+ 1000, std: std)
                    w = Swift.max(w, try IntegratedGradients(f, steps: s, rule: rule).attribute(x).relativeError)
                }
                worst.append(w)
                metrics["rel_error_\(AttributionRecipes.slug(rule))_\(s)"] = w
                context.progress(Double(ri * steps.count + worst.count) / Double(rules.count * steps.count), "\(rule.rawValue) \(s) steps")
            }
            // Below ~1e-5 the relative error is float32 rounding noise (Gauss–Legendre reaches it at 20
            // steps), and its wiggles depend on the BLAS kernel the CPU gets: only larger rises count.
            for (a, b) in zip(worst, worst.dropFirst()) where b > a + 1e-4 { increases += 1 }
            let first = zip(steps, worst).first { $0.1 <= 0.05 }?.0 ?? 0
            metrics["steps_to_5pct_\(AttributionRecipes.slug(rule))"] = Double(first)
            series.append(Series(name: rule.rawValue, x: steps.map(Double.init), y: worst.map { Swift.max($0, 1e-9) },
                                 color: AttributionRecipes.palette[ri % AttributionRecipes.palette.count]))
            table.append("| \(rule.rawValue) | " + worst.map { String(format: "%.2e", $0) }.joined(separator: " | ") + " |")
        }
        let firsts = rules.map { metrics["steps_to_5pct_\(AttributionRecipes.slug($0))"]! }
        metrics["max_steps_to_5pct"] = firsts.contains(0) ? 0 : firsts.max() ?? 0
        metrics["error_increases"] = Double(increases)
        try context.addFigure("error-vs-steps", caption: "Worst relative completeness error over \(networks) smooth toy networks (zero baseline) against the number of steps; dashed line: the paper's 5%.",
                              chart: LineChart(series: series, title: "IG completeness error on toy networks", xLabel: "steps", yLabel: "|delta| / |F(x) − F(x′)|",
                                               logX: true, logY: true, markers: true, referenceLines: [ReferenceLine(value: 0.05, label: "5%")]))
        return RecipeOutput(metrics: metrics, notes: ["Worst relative completeness error over \(networks) networks (\(n) inputs, \(hidden) tanh units, zero baseline, inputs N(0, \(std)²)):"] + table)
    }
}

/// The same measurement on SmolLM2's token embeddings: the "within 5%" rule measured, not assumed.
enum IGCompletenessModelRecipe: Recipe {
    static let name = "attribution.ig-completeness-model"
    static let summary = "Integrated gradients over a language model's token embeddings: convergence delta per step count for the zero and a token baseline."
    static let parameters = [
        RecipeParameter("prompt", .string, default: .string("The capital of France is"), "the prompt (target: its top next token)"),
        RecipeParameter("baseline_token", .int, default: .int(0), "token id of the token baseline (0 = <|endoftext|> on SmolLM2)"),
        RecipeParameter("steps", .intList, default: .list(AttributionRecipes.stepGrid.map { .int($0) }), "step counts, a subset of 20, 50, 100, 200, 300"),
        RecipeParameter("rule", .string, default: .string("gauss-legendre"), "integration rule"),
        RecipeParameter("batch_size", .int, default: .int(50), "interpolation points per forward pass"),
    ]
    static let metrics: [RecipeMetric] = {
        var m: [RecipeMetric] = []
        for b in ["zero", "token"] {
            for s in AttributionRecipes.stepGrid {
                m.append(RecipeMetric("rel_error_\(b)_\(s)", "|delta| / |F(x) − F(x′)| with the \(b) baseline at \(s) steps"))
                m.append(RecipeMetric("delta_\(b)_\(s)", "convergence delta with the \(b) baseline at \(s) steps"))
            }
            m.append(RecipeMetric("within_5pct_\(b)", "how many step counts of the grid are within 5% with the \(b) baseline"))
        }
        m.append(RecipeMetric("f_input", "F(x): the target logit"))
        m.append(RecipeMetric("f_zero", "F at the zero embedding"))
        m.append(RecipeMetric("f_token", "F at the token baseline"))
        return m
    }()

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let loaded = try context.loadModel()
        guard let tokenizer = loaded.tokenizer, loaded.model.isCausal else {
            throw ReproductionError.parameter(recipe: name, name: "model", problem: "'\(context.model)' is not a language model with a tokenizer")
        }
        let ids = try loaded.encode(try p.string("prompt"))
        let steps = try AttributionRecipes.stepCounts(context)
        let rule = try AttributionRecipes.rules([try p.string("rule")], recipe: name)[0]
        let batch = try p.int("batch_size")
        let logits = try loaded.model(TokenBatch(ids)).logits!.select(axis: 0, 0).select(axis: 0, ids.count - 1)
        let target = logits.argmax(axis: -1)[0]
        let attribution = try ModelAttribution(model: loaded.model, ids: ids, target: .logit(target))
        var metrics: [String: Double] = [:]
        var series: [Series] = []
        var table = ["| baseline | F(x′) | " + steps.map { "\($0) steps" }.joined(separator: " | ") + " |",
                     "|---|---:|" + steps.map { _ in "---:" }.joined(separator: "|") + "|"]
        let baselines: [(String, EmbeddingBaseline)] = [("zero", .zero), ("token", .token(try p.int("baseline_token")))]
        for (bi, (label, baseline)) in baselines.enumerated() {
            var errors: [Double] = [], fBase = 0.0, fInput = 0.0, deltas: [Double] = []
            for s in steps {
                let r = try attribution.integratedGradients(baseline: baseline, steps: s, rule: rule, internalBatchSize: batch)
                errors.append(r.relativeError)
                deltas.append(r.delta)
                metrics["rel_error_\(label)_\(s)"] = r.relativeError
                metrics["delta_\(label)_\(s)"] = r.delta
                fBase = r.valueAtBaseline
                fInput = r.valueAtInput
                context.progress(Double(bi * steps.count + errors.count) / Double(2 * steps.count), "\(label) baseline, \(s) steps")
            }
            metrics["f_\(label)"] = fBase
            metrics["f_input"] = fInput
            metrics["within_5pct_\(label)"] = Double(errors.filter { $0 <= 0.05 }.count)
            series.append(Series(name: label == "zero" ? "zero embedding" : "token \(try p.int("baseline_token")) embedding", x: steps.map(Double.init), y: errors,
                                 color: AttributionRecipes.palette[bi]))
            table.append("| \(label) | \(String(format: "%.4g", fBase)) | " + zip(errors, deltas).map { String(format: "%.3g (Δ %.4g)", $0, $1) }.joined(separator: " | ") + " |")
        }
        try context.addFigure("error-vs-steps", caption: "Relative completeness error of integrated gradients (\(rule.rawValue)) on \(context.model), target \(tokenizer.decode([target]).debugDescription), against the number of steps; dashed: the paper's 5%.",
                              chart: LineChart(series: series, title: "IG completeness on \(context.model)", xLabel: "steps", yLabel: "|delta| / |F(x) − F(x′)|",
                                               logX: true, logY: true, markers: true, referenceLines: [ReferenceLine(value: 0.05, label: "5%")]))
        let r = try attribution.integratedGradients(baseline: .token(try p.int("baseline_token")), steps: steps.last!, rule: rule, internalBatchSize: batch)
        let perToken = ModelAttribution.perToken(r.attributions)
        try context.addFigure("attributions", caption: "Per-token IG attributions (token baseline, \(steps.last!) steps) for the target \(tokenizer.decode([target]).debugDescription).",
                              chart: BarChart(bars: zip(ids, perToken).map { BarChart.Bar(label: tokenizer.decode([$0.0]), value: $0.1) },
                                              title: "IG attributions per token", valueLabel: "attribution", signed: true))
        return RecipeOutput(metrics: metrics, notes: [
            "Prompt \(try p.string("prompt").debugDescription) (\(ids.count) tokens), target \(tokenizer.decode([target]).debugDescription) (id \(target)), F(x) = \(String(format: "%.4g", metrics["f_input"]!)); relative error (and delta) per step count:",
        ] + table)
    }
}

/// Kernel SHAP over all coalitions equals the exact Shapley values (arXiv 1705.07874, Theorem 2).
enum KernelSHAPExactRecipe: Recipe {
    static let name = "attribution.kernel-shap-exact"
    static let summary = "Kernel SHAP with the Shapley kernel over every coalition vs exact Shapley values on a seeded toy network; sampled Kernel SHAP error per sample count."
    static let parameters = [
        RecipeParameter("features", .int, default: .int(10), "number of features (≤ 14)"),
        RecipeParameter("hidden", .int, default: .int(16), "hidden tanh units of the toy network"),
        RecipeParameter("samples", .intList, default: .list([100, 200, 500, 1000].map { .int($0) }), "sample counts for sampled Kernel SHAP"),
        RecipeParameter("repeats", .int, default: .int(5), "seeds per sample count"),
    ]
    static let metrics = [
        RecipeMetric("max_abs_diff_exhaustive", "max |Kernel SHAP (all coalitions) − exact Shapley|"),
        RecipeMetric("efficiency_gap_exhaustive", "|Σφ − (v(N) − v(∅))| for exhaustive Kernel SHAP"),
        RecipeMetric("efficiency_gap_exact", "|Σφ − (v(N) − v(∅))| for exact Shapley values"),
        RecipeMetric("max_efficiency_gap_sampled", "largest efficiency gap of sampled Kernel SHAP"),
        RecipeMetric("rel_error_sampled_min_samples", "mean relative L2 error of sampled Kernel SHAP at the smallest sample count"),
        RecipeMetric("rel_error_sampled_max_samples", "mean relative L2 error of sampled Kernel SHAP at the largest sample count"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let n = try p.int("features")
        guard (2...14).contains(n) else { throw ReproductionError.parameter(recipe: name, name: "features", problem: "expected 2…14 (got \(n))") }
        let f = AttributionToyModels.smooth(inputs: n, hidden: try p.int("hidden"), seed: context.seed)
        let x = AttributionToyModels.vector(n, seed: context.seed &+ 1, std: 1.5)
        let x0 = AttributionToyModels.vector(n, seed: context.seed &+ 2, std: 0.3)
        let game = try CoalitionGame(function: f, input: x, baseline: x0)
        let exact = try ExactShapley(game).attribute()
        let kernel = try KernelSHAP(game).attribute()
        let diff = zip(kernel.attributions, exact.attributions).map { Swift.abs($0 - $1) }.max() ?? 0
        let norm = exact.attributions.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var errors: [Double] = [], gaps: [Double] = []
        let sampleCounts = try p.ints("samples").sorted()
        let repeats = try p.int("repeats")
        for (i, s) in sampleCounts.enumerated() {
            var e = 0.0
            for r in 0..<repeats {
                let k = try KernelSHAP(game, samples: s, seed: context.seed &+ UInt64(100 * i + r)).attribute()
                e += zip(k.attributions, exact.attributions).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() / norm
                gaps.append(Swift.abs(k.delta))
            }
            errors.append(e / Double(repeats))
            context.progress(Double(i + 1) / Double(sampleCounts.count), "\(s) samples")
        }
        try context.addFigure("shapley-values", caption: "Exact Shapley values of the \(n)-feature toy network (Kernel SHAP over all \((1 << n) - 2) proper coalitions gives the same bars to \(String(format: "%.1e", diff))).",
                              chart: BarChart(bars: exact.attributions.enumerated().map { BarChart.Bar(label: "x\($0.offset)", value: $0.element) },
                                              title: "Shapley values (exact = Kernel SHAP)", categoryLabel: "feature", valueLabel: "φ", signed: true))
        try context.addFigure("sampled-error", caption: "Mean relative L2 error of sampled Kernel SHAP (\(repeats) seeds) against the number of sampled coalitions.",
                              chart: LineChart(series: [Series(name: "sampled Kernel SHAP", x: sampleCounts.map(Double.init), y: errors)],
                                               title: "Sampled Kernel SHAP error", xLabel: "coalitions", yLabel: "‖φ̂ − φ‖ / ‖φ‖", logX: true, logY: true, markers: true))
        return RecipeOutput(metrics: [
            "max_abs_diff_exhaustive": diff,
            "efficiency_gap_exhaustive": Swift.abs(kernel.delta),
            "efficiency_gap_exact": Swift.abs(exact.delta),
            "max_efficiency_gap_sampled": gaps.max() ?? 0,
            "rel_error_sampled_min_samples": errors.first ?? 0,
            "rel_error_sampled_max_samples": errors.last ?? 0,
        ], notes: ["Exact Shapley values: " + exact.attributions.map { String(format: "%.4f", $0) }.joined(separator: ", ") + String(format: " (v(N) − v(∅) = %.4f).", exact.fullValue - exact.baseValue),
                   "Sampled Kernel SHAP relative error per sample count: " + zip(sampleCounts, errors).map { "\($0): \(String(format: "%.3f", $1))" }.joined(separator: ", ") + "."])
    }
}

/// DeepLIFT's summation-to-delta on seeded ReLU networks (arXiv 1704.02685, §3.1 Eq. 1).
enum DeepLIFTSummationRecipe: Recipe {
    static let name = "attribution.deeplift-summation"
    static let summary = "DeepLIFT (Rescale) on seeded ReLU networks: Σ contributions − Δy, and agreement with gradient×input / IG."
    static let parameters = [
        RecipeParameter("networks", .int, default: .int(20), "seeded networks"),
        RecipeParameter("sizes", .intList, default: .list([20, 64, 64, 32, 4].map { .int($0) }), "layer widths, input first"),
        RecipeParameter("ig_steps", .int, default: .int(300), "steps of the integrated-gradients comparison"),
    ]
    static let metrics = [
        RecipeMetric("max_summation_error", "max over networks and outputs of |Σ C − Δy|"),
        RecipeMetric("max_relative_summation_error", "max of |Σ C − Δy| / |Δy|"),
        RecipeMetric("mean_rank_corr_ig", "mean Spearman correlation of DeepLIFT and integrated-gradients attributions"),
        RecipeMetric("max_ig_relative_error", "largest relative completeness error of IG at ig_steps (for comparison)"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let sizes = try p.ints("sizes"), networks = try p.int("networks"), igSteps = try p.int("ig_steps")
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else { throw ReproductionError.parameter(recipe: name, name: "sizes", problem: "expected ≥ 2 positive widths") }
        var maxErr = 0.0, maxRel = 0.0, corr = 0.0, corrCount = 0, igErr = 0.0
        var example: (dl: [Double], ig: [Double])? = nil
        for k in 0..<networks {
            let seed = context.seed &+ UInt64(k)
            let net = ReLUNetwork.random(sizes: sizes, seed: seed)
            let x = AttributionToyModels.vector(sizes[0], seed: seed &+ 500)
            let x0 = AttributionToyModels.vector(sizes[0], seed: seed &+ 900, std: 0.1)
            for o in 0..<net.outputSize {
                let r = try DeepLIFT(net, output: o).attribute(x, baseline: x0)
                maxErr = Swift.max(maxErr, Swift.abs(r.delta))
                maxRel = Swift.max(maxRel, Swift.abs(r.delta) / Swift.max(Swift.abs(r.outputDifference), 1e-12))
                if o == 0 {
                    let ig = try IntegratedGradients(net.function(output: o), steps: igSteps, rule: .gaussLegendre).attribute(x, baseline: x0)
                    igErr = Swift.max(igErr, ig.relativeError)
                    let a = r.attributions.scalars.map(Double.init), b = ig.attributions.scalars.map(Double.init)
                    corr += spearmanCorrelation(a, b)
                    corrCount += 1
                    if example == nil { example = (a, b) }
                }
            }
            context.progress(Double(k + 1) / Double(networks), "network \(k + 1)/\(networks)")
        }
        if let example {
            try context.addFigure("attributions", caption: "DeepLIFT (Rescale) contributions of network 0, output 0; they sum to Δy exactly (IG's are shown in the notes).",
                                  chart: BarChart(bars: example.dl.enumerated().map { BarChart.Bar(label: "x\($0.offset)", value: $0.element) },
                                                  title: "DeepLIFT contributions", categoryLabel: "feature", valueLabel: "C", signed: true))
        }
        return RecipeOutput(metrics: [
            "max_summation_error": maxErr, "max_relative_summation_error": maxRel,
            "mean_rank_corr_ig": corr / Double(Swift.max(corrCount, 1)), "max_ig_relative_error": igErr,
        ], notes: [String(format: "%d networks %@, %d outputs each: max |Σ C − Δy| = %.2e; IG (%d Gauss–Legendre steps) needs the quadrature and misses completeness by up to %.2e (relative); mean rank correlation DeepLIFT vs IG %.3f.",
                          networks, "\(sizes)", sizes.last!, maxErr, igSteps, igErr, corr / Double(Swift.max(corrCount, 1)))])
    }
}

/// Sanity checks for saliency maps (Adebayo et al., arXiv 1810.03292): cascading randomisation
/// of a trained network's layers, top first, destroys the gradient map — rank correlation with
/// the original map drops.
enum SaliencyRandomizationRecipe: Recipe {
    static let name = "attribution.saliency-randomization"
    static let summary = "Cascading layer randomisation of a trained seeded ReLU classifier: Spearman rank correlation of saliency and gradient×input maps with the originals."
    static let parameters = [
        RecipeParameter("sizes", .intList, default: .list([32, 64, 64, 64, 4].map { .int($0) }), "layer widths, input first"),
        RecipeParameter("train_steps", .int, default: .int(300), "Adam steps of training"),
        RecipeParameter("inputs", .int, default: .int(64), "inputs whose maps are compared"),
    ]
    static let metrics = [
        RecipeMetric("train_accuracy", "training accuracy of the classifier"),
        RecipeMetric("rank_corr_saliency_top", "mean Spearman correlation of |gradient| maps after randomising the top layer"),
        RecipeMetric("rank_corr_saliency_all", "… after randomising every layer"),
        RecipeMetric("rank_corr_gxi_all", "same for |gradient × input| after randomising every layer"),
        RecipeMetric("rank_corr_saliency_independent", "control: the original maps against maps of an independently initialised, untrained network"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let sizes = try p.ints("sizes"), count = try p.int("inputs")
        guard sizes.count >= 3, sizes[0] >= 4 else { throw ReproductionError.parameter(recipe: name, name: "sizes", problem: "expected ≥ 3 widths with ≥ 4 inputs") }
        let (net, accuracy) = AttributionToyModels.trainedClassifier(sizes: sizes, steps: try p.int("train_steps"), seed: context.seed)
        context.progress(0.3, "trained (accuracy \(String(format: "%.3f", accuracy)))")
        var rng = SeededGenerator(seed: context.seed &+ 7)
        let inputs = (0..<count).map { _ in Tensor.randomNormal([sizes[0]], using: &rng) }
        let classes = inputs.map { net($0.unsqueezed(axis: 0)).argmax(axis: -1)[0] }
        func maps(_ network: ReLUNetwork) -> (saliency: [[Double]], gxi: [[Double]]) {
            var s: [[Double]] = [], g: [[Double]] = []
            for (x, c) in zip(inputs, classes) {
                let f = network.function(output: c)
                s.append(Saliency(f).attribute(x).attributions.scalars.map(Double.init))
                g.append(GradientTimesInput(f).attribute(x).attributions.scalars.map { Swift.abs(Double($0)) })
            }
            return (s, g)
        }
        func meanCorrelation(_ a: [[Double]], _ b: [[Double]]) -> Double {
            zip(a, b).reduce(0) { $0 + spearmanCorrelation($1.0, $1.1) } / Double(a.count)
        }
        let original = maps(net)
        let fresh = ReLUNetwork.random(sizes: sizes, seed: context.seed &+ 99)
        var cascade = net
        var salCurve: [Double] = [1], gxiCurve: [Double] = [1]
        for (step, l) in (0..<net.layers.count).reversed().enumerated() {
            cascade.layers[l] = fresh.layers[l]
            let m = maps(cascade)
            salCurve.append(meanCorrelation(original.saliency, m.saliency))
            gxiCurve.append(meanCorrelation(original.gxi, m.gxi))
            context.progress(0.3 + 0.7 * Double(step + 1) / Double(net.layers.count), "randomised \(step + 1) layers")
        }
        let independent = meanCorrelation(original.saliency, maps(ReLUNetwork.random(sizes: sizes, seed: context.seed &+ 12345)).saliency)
        let labels = ["original"] + (0..<net.layers.count).reversed().map { "layer \($0 + 1)" }
        try context.addFigure("rank-correlation", caption: "Mean Spearman rank correlation with the trained network's maps as layers are re-initialised from the top (x: number of layers randomised; last: all \(net.layers.count)).",
                              chart: LineChart(series: [Series(name: "saliency |∇|", y: salCurve, color: AttributionRecipes.palette[0]),
                                                        Series(name: "|gradient × input|", y: gxiCurve, color: AttributionRecipes.palette[1])],
                                               title: "Cascading randomisation", xLabel: "layers randomised (top first)", yLabel: "rank correlation", markers: true))
        let metrics: [String: Double] = [
            "train_accuracy": accuracy,
            "rank_corr_saliency_top": salCurve[1],
            "rank_corr_saliency_all": salCurve[salCurve.count - 1],
            "rank_corr_gxi_all": gxiCurve[gxiCurve.count - 1],
            "rank_corr_saliency_independent": independent,
        ]
        let salText: String = salCurve.map { String(format: "%.3f", $0) }.joined(separator: ", ")
        let gxiText: String = gxiCurve.map { String(format: "%.3f", $0) }.joined(separator: ", ")
        let note: String = "Cascade (" + labels.joined(separator: " → ") + "): saliency " + salText + "; gradient×input " + gxiText + "."
        return RecipeOutput(metrics: metrics, notes: [note])
    }
}
