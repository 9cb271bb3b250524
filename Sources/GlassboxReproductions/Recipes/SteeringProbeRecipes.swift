import Foundation
import GlassboxMethods
import GlassboxModels
import GlassboxReports
import GlassboxTensor

/// Recipes for steering vectors, directional ablation and linear probes.
enum SteeringProbeRecipes {
    static let all: [any Recipe.Type] = [
        ActAddSweepRecipe.self,
        TruthProbeRecipe.self,
        RefusalDirectionRecipe.self,
    ]

    /// Non-empty lines of a text file under data/ (lines starting with '#' are comments).
    static func lines(_ context: RecipeContext, _ relative: String) throws -> [String] {
        let url = try context.dataFile(relative)
        let text = try String(contentsOf: url, encoding: .utf8)
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !lines.isEmpty else { throw ReproductionError.missingData(path: "data/" + relative + " (no lines)", searched: [url.path]) }
        return lines
    }

    /// The `positive,negative` pairs of a contrast CSV under data/.
    static func contrastPairs(_ context: RecipeContext, _ relative: String) throws -> (positive: [String], negative: [String]) {
        let rows = try lines(context, relative)
        let header = try ProbeDataset.fields(rows[0], source: "data/" + relative, line: 1)
        guard header == ["positive", "negative"] else {
            throw SteeringProbeError.invalidData(source: "data/" + relative, line: 1, problem: "header \(header), expected positive,negative")
        }
        var p: [String] = [], n: [String] = []
        for (i, row) in rows.dropFirst().enumerated() {
            let f = try ProbeDataset.fields(row, source: "data/" + relative, line: i + 2)
            guard f.count == 2 else { throw SteeringProbeError.invalidData(source: "data/" + relative, line: i + 2, problem: "\(f.count) fields, expected 2") }
            p.append(f[0]); n.append(f[1])
        }
        return (p, n)
    }

    /// The single token id of each word (e.g. " love"), or an error naming a word that is not one token.
    static func singleTokens(_ m: LoadedModel, _ words: [String], parameter: String, recipe: String) throws -> [Int] {
        try words.map { w in
            let ids = try m.encode(w)
            guard ids.count == 1 else {
                throw ReproductionError.parameter(recipe: recipe, name: parameter, problem: "'\(w)' is \(ids.count) tokens for \(m.name); use single-token words")
            }
            return ids[0]
        }
    }
}

/// ActAdd (arXiv 2308.10248) on neutral prompts: a love − hate steering vector added with a
/// range of coefficients; how the next-token log-probabilities of sentiment words move.
enum ActAddSweepRecipe: Recipe {
    static let name = "steering.actadd-sweep"
    static let summary = "Adds c × (mean(love) − mean(hate)) at one layer for several c and measures the sentiment of the next-token distribution on neutral prompts."
    static let parameters = [
        RecipeParameter("contrast", .string, default: .string("steering/love_hate.csv"), "positive,negative contrast prompts under data/"),
        RecipeParameter("prompts", .string, default: .string("steering/neutral.txt"), "neutral prompts under data/, one a line"),
        RecipeParameter("layer", .int, default: .int(6), "block whose resid_pre is read and steered"),
        RecipeParameter("coefficients", .numberList, default: .list([-4, -2, -1, 0, 1, 2, 4].map { .int($0) }), "steering coefficients c"),
        RecipeParameter("positive_words", .stringList, default: .list([" love", " great", " happy", " wonderful", " good"].map { .string($0) }), "single-token positive words"),
        RecipeParameter("negative_words", .stringList, default: .list([" hate", " terrible", " angry", " awful", " bad"].map { .string($0) }), "single-token negative words"),
    ]
    static let metrics = [
        RecipeMetric("spearman_rho", "Spearman ρ between the coefficient and the sentiment score"),
        RecipeMetric("score_shift", "sentiment score at the largest minus at the smallest coefficient (nats)"),
        RecipeMetric("score_unsteered", "sentiment score at c = 0: mean log p(positive) − mean log p(negative) (nats)"),
        RecipeMetric("monotone_fraction", "fraction of consecutive coefficient steps where the score rises"),
        RecipeMetric("vector_norm", "‖mean(love) − mean(hate)‖"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let m = try context.loadModel()
        let layer = try p.int("layer")
        let coefficients = try p.doubles("coefficients").sorted()
        let pairs = try SteeringProbeRecipes.contrastPairs(context, try p.string("contrast"))
        let prompts = try SteeringProbeRecipes.lines(context, try p.string("prompts")).map { try m.encode($0) }
        let posIDs = try SteeringProbeRecipes.singleTokens(m, try p.strings("positive_words"), parameter: "positive_words", recipe: name)
        let negIDs = try SteeringProbeRecipes.singleTokens(m, try p.strings("negative_words"), parameter: "negative_words", recipe: name)
        context.progress(0.05, "steering vector at layer \(layer)")
        let vector = try SteeringVector.differenceOfMeans(m.model, positive: try pairs.positive.map { try m.encode($0) },
                                                          negative: try pairs.negative.map { try m.encode($0) }, layer: layer)
        // Mean over prompts of the mean log-probability of the positive and of the negative words.
        func means(_ lp: [[Double]]) -> (pos: Double, neg: Double) {
            var pos = 0.0, neg = 0.0
            for row in lp {
                pos += row[0..<posIDs.count].reduce(0, +) / Double(posIDs.count)
                neg += row[posIDs.count...].reduce(0, +) / Double(negIDs.count)
            }
            return (pos / Double(lp.count), neg / Double(lp.count))
        }
        var score: [Double] = [], meanPos: [Double] = [], meanNeg: [Double] = []
        for (k, c) in coefficients.enumerated() {
            let hooks = SteeringIntervention.add(vector, coefficient: Float(c)).hooks(layers: m.model.dimensions.layers)
            let (pos, neg) = means(try SteeredLogProbs.logProbs(m.model, prompts: prompts, tokens: posIDs + negIDs, hooks: hooks))
            meanPos.append(pos); meanNeg.append(neg); score.append(pos - neg)
            context.progress(0.1 + 0.9 * Double(k + 1) / Double(coefficients.count), "coefficient \(c)")
        }
        let rises = zip(score, score.dropFirst()).filter { $1 > $0 }.count
        let unsteered: Double
        if let zero = coefficients.firstIndex(of: 0) {
            unsteered = score[zero]
        } else {
            let (pos, neg) = means(try SteeredLogProbs.logProbs(m.model, prompts: prompts, tokens: posIDs + negIDs))
            unsteered = pos - neg
        }
        try context.addFigure("sentiment", caption: "Next-token log-probabilities on \(prompts.count) neutral prompts as c × (love − hate) is added at blocks.\(layer).hook_resid_pre (\(m.name)).",
            chart: LineChart(series: [
                Series(name: "score = positive − negative", x: coefficients, y: score, color: "#4e79a7"),
                Series(name: "mean log p(positive words)", x: coefficients, y: meanPos, color: "#d6604d", dashed: true),
                Series(name: "mean log p(negative words)", x: coefficients, y: meanNeg, color: "#4393c3", dashed: true),
            ], title: "ActAdd love − hate at layer \(layer)", xLabel: "steering coefficient c", yLabel: "nats", markers: true))
        let table = zip(coefficients, score).map { String(format: "c = %+g: %.3f", $0, $1) }.joined(separator: "; ")
        return RecipeOutput(metrics: [
            "spearman_rho": spearmanCorrelation(coefficients, score),
            "score_shift": score.last! - score.first!,
            "score_unsteered": unsteered,
            "monotone_fraction": coefficients.count > 1 ? Double(rises) / Double(coefficients.count - 1) : .nan,
            "vector_norm": vector.norm,
        ], notes: ["Sentiment score per coefficient: \(table)."])
    }
}

/// Truth probes on "The city of X is in Y." statements (arXiv 2310.06824), per layer, with a
/// control task (Hewitt & Liang 2019).
enum TruthProbeRecipe: Recipe {
    static let name = "probes.truth-sweep"
    static let summary = "Logistic-regression and mass-mean probes on last-token residual activations of true/false statements at every layer, with held-out accuracy and a control task."
    static let parameters = [
        RecipeParameter("data", .string, default: .string("probes/cities.csv"), "CSV under data/ with statement,label,item"),
        RecipeParameter("test_fraction", .number, default: .double(0.25), "held-out fraction"),
        RecipeParameter("l2", .number, default: .double(0.01), "L2 penalty of the logistic probes"),
        RecipeParameter("batch_size", .int, default: .int(16), "statements per forward pass"),
    ]
    static let metrics = [
        RecipeMetric("best_layer", "residual index with the highest held-out logistic accuracy"),
        RecipeMetric("best_logistic_accuracy", "held-out logistic accuracy at the best layer"),
        RecipeMetric("mass_mean_accuracy_at_best", "held-out mass-mean accuracy at the best logistic layer"),
        RecipeMetric("best_mass_mean_accuracy", "highest held-out mass-mean accuracy over layers"),
        RecipeMetric("control_accuracy_at_best", "held-out control-task accuracy at the best layer"),
        RecipeMetric("selectivity_at_best", "logistic − control accuracy at the best layer"),
        RecipeMetric("embedding_logistic_accuracy", "held-out logistic accuracy at r = 0 (the embedding of the final token: chance)"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let m = try context.loadModel()
        let relative = try p.string("data")
        let url = try context.dataFile(relative)
        let dataset = try ProbeDataset.parse(csv: try String(contentsOf: url, encoding: .utf8), source: "data/" + relative)
        let prompts = try dataset.statements.map { try m.encode($0) }
        let acts = try ResidualActivations.collect(m.model, prompts: prompts, batchSize: try p.int("batch_size")) { done, total in
            context.progress(0.7 * Double(done) / Double(total), "activations \(done)/\(total)")
        }
        let sweep = try ProbeSweep.run(acts, labels: dataset.labels, items: dataset.items, testFraction: try p.double("test_fraction"),
                                       l2: try p.double("l2"), seed: context.seed) { done, total in
            context.progress(0.7 + 0.3 * Double(done) / Double(total), "probes \(done)/\(total)")
        }
        let best = sweep.best!
        let rs = sweep.layers.map { Double($0.layer) }
        try context.addFigure("accuracy", caption: "Held-out accuracy per residual index on \(dataset.count) statements (\(sweep.testCount) held out), \(m.name). Control: the same logistic probe on one random label per city.",
            chart: LineChart(series: [
                Series(name: "logistic regression", x: rs, y: sweep.layers.map(\.logistic), color: "#4e79a7"),
                Series(name: "mass-mean", x: rs, y: sweep.layers.map(\.massMean), color: "#d6604d"),
                Series(name: "control task", x: rs, y: sweep.layers.map(\.control), color: "#999999", dashed: true),
            ], title: "Truth probes on cities", xLabel: "residual index r (0 = embedding)", yLabel: "held-out accuracy",
            referenceLines: [ReferenceLine(value: 0.5, label: "chance")], yRange: 0...1))
        return RecipeOutput(metrics: [
            "best_layer": Double(best.layer),
            "best_logistic_accuracy": best.logistic,
            "mass_mean_accuracy_at_best": best.massMean,
            "best_mass_mean_accuracy": sweep.layers.map(\.massMean).max()!,
            "control_accuracy_at_best": best.control,
            "selectivity_at_best": best.selectivity,
            "embedding_logistic_accuracy": sweep.layers.first { $0.layer == 0 }?.logistic ?? .nan,
        ], notes: ["\(sweep.trainCount) training / \(sweep.testCount) held-out statements; λ = \(sweep.l2)."])
    }
}

/// The difference-in-means refusal direction (arXiv 2406.11717) on a small chat model:
/// ablating it everywhere should lower the refusal score on harmful requests; adding it
/// may induce refusal on harmless ones.
enum RefusalDirectionRecipe: Recipe {
    static let name = "steering.refusal-direction"
    static let summary = "Refusal direction = mean(harmful) − mean(harmless) at the last chat-prompt token; refusal log-odds with the direction ablated (harmful) and added (harmless) on held-out prompts."
    static let parameters = [
        RecipeParameter("harmful", .string, default: .string("steering/harmful.txt"), "harmful requests under data/"),
        RecipeParameter("harmless", .string, default: .string("steering/harmless.txt"), "harmless requests under data/"),
        RecipeParameter("train", .int, default: .int(20), "requests of each list used for the direction; the rest are evaluated"),
        RecipeParameter("layer", .int, default: .int(14), "block whose resid_pre the direction is read at (and added to)"),
        RecipeParameter("coefficient", .number, default: .double(1), "multiple of the (unnormalised) direction added on harmless prompts"),
        RecipeParameter("refusal_phrases", .stringList, default: .list(["I'm sorry", "I cannot", "I can't"].map { .string($0) }), "reply openings that count as refusal"),
        RecipeParameter("generation_tokens", .int, default: .int(0), "if > 0: greedy replies of this length are also checked for refusal substrings"),
    ]
    static let metrics = [
        RecipeMetric("harmful_score", "mean refusal log-odds on held-out harmful requests"),
        RecipeMetric("harmful_score_ablated", "the same with the direction ablated at every layer and position"),
        RecipeMetric("ablation_drop", "harmful_score − harmful_score_ablated"),
        RecipeMetric("random_ablation_drop", "harmful_score minus the score with a random direction (seeded, same norm) ablated instead: the control"),
        RecipeMetric("harmless_ablation_drop", "the same drop on harmless requests (is the effect specific to harmful ones?)"),
        RecipeMetric("harmless_score", "mean refusal log-odds on held-out harmless requests"),
        RecipeMetric("harmless_score_added", "the same with coefficient × direction added at the layer"),
        RecipeMetric("addition_rise", "harmless_score_added − harmless_score"),
        RecipeMetric("harmful_minus_harmless", "harmful_score − harmless_score (does the model separate them at all)"),
        RecipeMetric("harmful_refusal_rate", "fraction of harmful replies with a refusal substring (generation_tokens > 0)"),
        RecipeMetric("harmful_refusal_rate_ablated", "the same with the direction ablated"),
        RecipeMetric("harmless_refusal_rate", "fraction of harmless replies with a refusal substring"),
        RecipeMetric("harmless_refusal_rate_added", "the same with the direction added"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let p = context.parameters
        let m = try context.loadModel()
        let layer = try p.int("layer"), train = try p.int("train")
        let harmful = try SteeringProbeRecipes.lines(context, try p.string("harmful"))
        let harmless = try SteeringProbeRecipes.lines(context, try p.string("harmless"))
        guard train > 0, train < harmful.count, train < harmless.count else {
            throw ReproductionError.parameter(recipe: name, name: "train", problem: "\(train) must leave held-out prompts (\(harmful.count) harmful, \(harmless.count) harmless)")
        }
        let chat = { (s: String) throws -> [Int] in try m.encode(try m.chatPrompt(s)) }
        let harmfulIDs = try harmful.map(chat), harmlessIDs = try harmless.map(chat)
        let phrases = try p.strings("refusal_phrases").map { try m.encode($0) }
        context.progress(0.05, "refusal direction at layer \(layer)")
        let direction = try SteeringVector.differenceOfMeans(m.model, positive: Array(harmfulIDs[..<train]), negative: Array(harmlessIDs[..<train]), layer: layer)
        let layers = m.model.dimensions.layers
        let ablate = SteeringIntervention.ablate(direction: direction.vector)
        let add = SteeringIntervention.add(direction, coefficient: Float(try p.double("coefficient")))
        let evalHarmful = Array(harmfulIDs[train...]), evalHarmless = Array(harmlessIDs[train...])
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        let s1 = try RefusalScore.scores(m.model, prompts: evalHarmful, phrases: phrases)
        context.progress(0.3, "harmful, ablated")
        let s2 = try RefusalScore.scores(m.model, prompts: evalHarmful, phrases: phrases, hooks: ablate.hooks(layers: layers))
        context.progress(0.4, "harmful, random direction ablated")
        var rng = SeededGenerator(seed: context.seed)
        let random = (0..<direction.vector.count).map { _ in rng.nextNormal() }
        let s2r = try RefusalScore.scores(m.model, prompts: evalHarmful, phrases: phrases,
                                          hooks: SteeringIntervention.ablate(direction: random).hooks(layers: layers))
        context.progress(0.5, "harmless")
        let s3 = try RefusalScore.scores(m.model, prompts: evalHarmless, phrases: phrases)
        let s3a = try RefusalScore.scores(m.model, prompts: evalHarmless, phrases: phrases, hooks: ablate.hooks(layers: layers))
        context.progress(0.6, "harmless, added")
        let s4 = try RefusalScore.scores(m.model, prompts: evalHarmless, phrases: phrases, hooks: add.hooks(layers: layers))
        var metrics: [String: Double] = [
            "harmful_score": mean(s1), "harmful_score_ablated": mean(s2), "ablation_drop": mean(s1) - mean(s2),
            "random_ablation_drop": mean(s1) - mean(s2r),
            "harmless_ablation_drop": mean(s3) - mean(s3a),
            "harmless_score": mean(s3), "harmless_score_added": mean(s4), "addition_rise": mean(s4) - mean(s3),
            "harmful_minus_harmless": mean(s1) - mean(s3),
        ]
        var notes: [String] = ["Direction from \(train) harmful and \(train) harmless requests at blocks.\(layer).hook_resid_pre (‖r‖ = \(String(format: "%.3f", direction.norm))); scores on the \(evalHarmful.count) + \(evalHarmless.count) held-out requests."]
        let tokens = try p.int("generation_tokens")
        if tokens > 0 {
            func rate(_ prompts: [[Int]], _ texts: [String], _ intervention: SteeringIntervention?, label: String) throws -> Double {
                var refusals = 0
                for (i, prompt) in prompts.enumerated() {
                    let g = try m.model.generate(prompt: prompt, maxTokens: tokens, stopTokens: m.stopTokens,
                                                 hooks: intervention?.hooks(layers: layers) ?? Hooks())
                    let reply = m.tokenizer!.decode(g.newIDs, skipSpecial: true)
                    if RefusalScore.isRefusal(reply) { refusals += 1 }
                    if i == 0 { notes.append("\(label): \(texts[i].debugDescription) → \(reply.debugDescription)") }
                }
                return Double(refusals) / Double(prompts.count)
            }
            context.progress(0.7, "generating")
            metrics["harmful_refusal_rate"] = try rate(evalHarmful, Array(harmful[train...]), nil, label: "harmful")
            metrics["harmful_refusal_rate_ablated"] = try rate(evalHarmful, Array(harmful[train...]), ablate, label: "harmful, ablated")
            metrics["harmless_refusal_rate"] = try rate(evalHarmless, Array(harmless[train...]), nil, label: "harmless")
            metrics["harmless_refusal_rate_added"] = try rate(evalHarmless, Array(harmless[train...]), add, label: "harmless, added")
        }
        try context.addFigure("scores", caption: "Mean refusal log-odds on held-out requests (\(m.name)), with the refusal direction ablated (harmful) or added (harmless).",
            chart: BarChart(bars: [
                .init(label: "harmful", value: mean(s1), color: BarChart.positiveColor),
                .init(label: "harmful, ablated", value: mean(s2), color: "#f4a582"),
                .init(label: "harmful, random dir. ablated", value: mean(s2r), color: "#cccccc"),
                .init(label: "harmless", value: mean(s3), color: BarChart.negativeColor),
                .init(label: "harmless, added", value: mean(s4), color: "#92c5de"),
            ], title: "Refusal direction at layer \(layer)", valueLabel: "refusal log-odds", signed: true))
        return RecipeOutput(metrics: metrics, notes: notes)
    }
}
