import Foundation
import GlassboxMethods
import GlassboxModels
import GlassboxReports
import GlassboxTensor

/// Recipes for the logit and tuned lens, attention analysis and direct logit attribution on real models.
enum LensAttentionRecipes {
    static let all: [any Recipe.Type] = [
        LogitLensKLRecipe.self,
        TunedLensKLRecipe.self,
        AttentionSinksRecipe.self,
        InductionHeadsRecipe.self,
    ]

    /// Natural-language prompts the lens and attention recipes default to.
    static let defaultPrompts: [String] = [
        "The capital of France is",
        "When Mary and John went to the store, John gave a drink to",
        "In 1969, Neil Armstrong became the first person to walk on the",
        "Water boils at a temperature of one hundred degrees, and it freezes at",
        "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the",
    ]

    static func encode(_ prompts: [String], _ m: LoadedModel) throws -> [[Int]] {
        try prompts.map { p in
            let ids = try m.encode(p)
            guard !ids.isEmpty else { throw ReproductionError.parameter(recipe: "lens/attention", name: "prompts", problem: "prompt \(p.debugDescription) has no tokens") }
            return ids
        }
    }

    static func text(_ id: Int, _ m: LoadedModel) -> String { m.tokenizer?.decode([id]) ?? "<\(id)>" }
}


/// The logit lens (papers/web_logit-lens.md) over every residual index of a few prompts:
/// how KL(final ‖ lens) changes with depth.
enum LogitLensKLRecipe: Recipe {
    static let name = "lens.logit_kl"
    static let summary = "Logit lens over every residual index of a few prompts (their last positions): KL(final ‖ lens) against depth, top-1 agreement with the output."
    static let parameters = [
        RecipeParameter("prompts", .stringList, default: .list(LensAttentionRecipes.defaultPrompts.map { .string($0) }), "prompts to read (every position of each)"),
        RecipeParameter("last_fraction", .number, default: .double(0.25), "the final part of the depth checked for monotone decrease"),
        RecipeParameter("positions_per_prompt", .int, default: .int(3), "the last this many positions of each prompt are read (every position of the first prompt, for the top-token grid)"),
    ]
    static let metrics = [
        RecipeMetric("spearman_depth_kl", "Spearman ρ between residual index r and the mean KL(final ‖ lens) at r"),
        RecipeMetric("last_part_decreasing_fraction", "fraction of steps r → r+1 within the last part of the depth where the mean KL decreases"),
        RecipeMetric("kl_embedding", "mean KL at r = 0 (nats)"),
        RecipeMetric("kl_middle", "mean KL at r = L/2 (nats)"),
        RecipeMetric("kl_last_part_start", "mean KL where the last part starts, r = ⌊(1 − last_fraction)·L⌋ (nats)"),
        RecipeMetric("kl_penultimate", "mean KL at r = L − 1 (nats)"),
        RecipeMetric("kl_peak_index", "the residual index with the largest mean KL after r = 0"),
        RecipeMetric("top1_agreement_middle", "fraction of positions where the lens's top-1 at r = L/2 equals the output's"),
        RecipeMetric("top1_agreement_penultimate", "the same at r = L − 1"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let m = try context.loadModel()
        let prompts = try context.parameters.strings("prompts")
        let lastFraction = try context.parameters.double("last_fraction")
        guard lastFraction > 0 && lastFraction < 1 else {
            throw ReproductionError.parameter(recipe: name, name: "last_fraction", problem: "must be in (0, 1), got \(lastFraction)")
        }
        let seqs = try LensAttentionRecipes.encode(prompts, m)
        context.progress(0.1, "logit lens over \(seqs.count) prompts")
        let perPrompt = try context.parameters.int("positions_per_prompt")
        guard perPrompt > 0 else {
            throw ReproductionError.parameter(recipe: name, name: "positions_per_prompt", problem: "must be positive, got \(perPrompt)")
        }
        let positions = seqs.enumerated().map { b, s in b == 0 ? Array(s.indices) : Array(s.indices.suffix(perPrompt)) }
        let results = try LogitLens(topK: 1).apply(m.model, sequences: seqs, positions: positions)
        let L = m.model.dimensions.layers
        var kl = [Double](repeating: 0, count: L + 1), klLast = kl, agree = kl
        var count = 0
        for res in results {
            let finalTop = res.readings[L].map { $0.top[0].id }
            for r in 0...L {
                for (i, reading) in res.readings[r].enumerated() {
                    kl[r] += reading.kl
                    agree[r] += reading.top[0].id == finalTop[i] ? 1 : 0
                }
                klLast[r] += res.readings[r].last!.kl / Double(results.count)
            }
            count += res.positions.count
        }
        kl = kl.map { $0 / Double(count) }
        agree = agree.map { $0 / Double(count) }
        let start = Int((Double(L) * (1 - lastFraction)).rounded(.down))
        let steps = Array(start..<L)
        let decreasing = Double(steps.filter { kl[$0 + 1] < kl[$0] }.count) / Double(steps.count)
        let peak = (1...L).max { kl[$0] < kl[$1] }!
        context.progress(0.8, "figures")
        try context.addFigure("kl-curve", caption: "KL(final ‖ logit lens) in nats per residual index r (r = 0 embedding, r = l+1 after block l): mean over the positions read (every position of the first prompt, the last \(perPrompt) of the others; \(count) in all) of \(prompts.count) prompts, and at the last position only.",
                              chart: LineChart(series: [Series(name: "positions read", x: (0...L).map(Double.init), y: kl),
                                                        Series(name: "last position", x: (0...L).map(Double.init), y: klLast, dashed: true)],
                                               title: "Logit lens: KL to the final output against depth", xLabel: "residual index r", yLabel: "KL (nats)", logY: true))
        // Top-token grid of the first prompt: rows r (deepest on top), columns positions.
        let first = results[0]
        let rows = Array((0...L).reversed())
        try context.addFigure("top-tokens", caption: "Top-1 token of the logit lens for \(prompts[0].debugDescription) at every residual index (rows, deepest at the top) and position (columns); colour = its probability.",
                              chart: Heatmap(values: rows.map { r in first.readings[r].map { $0.top[0].prob } },
                                             rowLabels: rows.map { "r=\($0)" }, columnLabels: first.ids.map { LensAttentionRecipes.text($0, m) },
                                             title: "Logit lens top-1 tokens", xLabel: "input token", yLabel: "residual index",
                                             cellText: rows.map { r in first.readings[r].map { LensAttentionRecipes.text($0.top[0].id, m) } },
                                             colorBarLabel: "top-1 probability"))
        return RecipeOutput(metrics: [
            "spearman_depth_kl": spearmanCorrelation((0...L).map(Double.init), kl),
            "last_part_decreasing_fraction": decreasing,
            "kl_embedding": kl[0], "kl_middle": kl[L / 2], "kl_last_part_start": kl[start], "kl_penultimate": kl[L - 1],
            "kl_peak_index": Double(peak),
            "top1_agreement_middle": agree[L / 2], "top1_agreement_penultimate": agree[L - 1],
        ], notes: ["Mean KL per r: " + kl.enumerated().map { "r\($0)=\(String(format: "%.2f", $1))" }.joined(separator: ", ")])
    }
}

/// Tuned lens (arXiv 2303.08112): translators trained by distillation on a text corpus, KL compared with the logit lens.
enum TunedLensKLRecipe: Recipe {
    static let name = "lens.tuned_kl"
    static let summary = "Train tuned-lens translators on data/corpus and compare held-out KL(final ‖ lens) with the logit lens per residual index."
    static let parameters = [
        RecipeParameter("corpus", .stringList, default: .list([.string("corpus/nature.txt"), .string("corpus/craft.txt"), .string("corpus/science.txt")]), "text files under data/"),
        RecipeParameter("indices", .intList, default: .list([]), "residual indices to train (empty: every index 0..<layers)"),
        RecipeParameter("steps", .int, default: .int(40), "optimiser steps per translator"),
        RecipeParameter("batch_tokens", .int, default: .int(32), "tokens per step"),
        RecipeParameter("learning_rate", .number, default: .double(1e-3), "Adam learning rate"),
        RecipeParameter("sequence_length", .int, default: .int(64), "chunk length when caching activations"),
        RecipeParameter("max_tokens", .int, default: .int(640), "corpus tokens used"),
        RecipeParameter("held_out_tokens", .int, default: .int(128), "tokens at the end held out for evaluation"),
    ]
    static let metrics = [
        RecipeMetric("mean_logit_lens_kl", "held-out KL(final ‖ logit lens), mean over the trained indices (nats)"),
        RecipeMetric("mean_tuned_lens_kl", "held-out KL(final ‖ tuned lens), mean over the trained indices (nats)"),
        RecipeMetric("kl_ratio", "mean tuned-lens KL / mean logit-lens KL"),
        RecipeMetric("fraction_improved", "fraction of trained indices where the tuned lens has lower held-out KL"),
        RecipeMetric("trained_indices", "number of translators trained"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let m = try context.loadModel()
        let p = context.parameters
        var text = ""
        for f in try p.strings("corpus") {
            let url = try context.dataFile(f)
            guard let s = try? String(contentsOf: url, encoding: .utf8) else {
                throw ReproductionError.parameter(recipe: name, name: "corpus", problem: "\(url.path) is not a readable UTF-8 text file")
            }
            text += s + "\n"
        }
        let indices = try p.ints("indices")
        let config = TunedLensTrainer.Configuration(indices: indices.isEmpty ? nil : indices, steps: try p.int("steps"),
                                                    batchTokens: try p.int("batch_tokens"), learningRate: Float(try p.double("learning_rate")),
                                                    sequenceLength: try p.int("sequence_length"), maxTokens: try p.int("max_tokens"),
                                                    heldOutTokens: try p.int("held_out_tokens"), seed: context.seed)
        let (_, report) = try TunedLensTrainer(config).train(m.model, tokens: try m.encode(text)) { f, msg in context.progress(0.95 * f, msg) }
        let logit = report.map(\.logitLensKL), tuned = report.map(\.tunedLensKL)
        let meanLogit = logit.reduce(0, +) / Double(report.count), meanTuned = tuned.reduce(0, +) / Double(report.count)
        try context.addFigure("kl-by-index", caption: "Held-out KL(final ‖ lens) in nats per residual index: logit lens vs tuned lens (translators trained \(config.steps) steps each).",
                              chart: LineChart(series: [Series(name: "logit lens", x: report.map { Double($0.index) }, y: logit),
                                                        Series(name: "tuned lens", x: report.map { Double($0.index) }, y: tuned)],
                                               title: "Tuned lens vs logit lens", xLabel: "residual index r", yLabel: "KL (nats)", markers: true))
        return RecipeOutput(metrics: [
            "mean_logit_lens_kl": meanLogit, "mean_tuned_lens_kl": meanTuned, "kl_ratio": meanTuned / meanLogit,
            "fraction_improved": Double(zip(tuned, logit).filter { $0 < $1 }.count) / Double(report.count),
            "trained_indices": Double(report.count),
        ], notes: [report.map { (r: TunedLensTrainer.IndexReport) -> String in
            "r\(r.index): " + String(format: "%.2f → %.2f", r.logitLensKL, r.tunedLensKL)
        }.joined(separator: ", ")])
    }
}

/// Attention sinks (arXiv 2309.17453): how much attention every head puts on the first token.
enum AttentionSinksRecipe: Recipe {
    static let name = "attention.sinks"
    static let summary = "Attention-sink score (mean attention on position 0) of every head over a few prompts; how many heads beyond the first layers are sinks."
    static let parameters = [
        RecipeParameter("prompts", .stringList, default: .list(LensAttentionRecipes.defaultPrompts.map { .string($0) }), "prompts to analyse"),
        RecipeParameter("from_layer", .int, default: .int(2), "layers from this one on are counted"),
        RecipeParameter("threshold", .number, default: .double(0.5), "a head is a sink when its score exceeds this"),
    ]
    static let metrics = [
        RecipeMetric("sink_head_fraction", "fraction of heads in layers ≥ from_layer whose sink score (mean over prompts) exceeds the threshold"),
        RecipeMetric("sink_head_fraction_last_query", "the same for the last query's attention on position 0"),
        RecipeMetric("mean_sink_from_layer", "mean sink score of the heads in layers ≥ from_layer"),
        RecipeMetric("mean_sink_first_layers", "mean sink score of the heads in layers < from_layer"),
        RecipeMetric("uniform_baseline", "the sink score of uniform causal attention over these prompts (mean over queries of 1/(q+1))"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let m = try context.loadModel()
        let prompts = try context.parameters.strings("prompts")
        let from = try context.parameters.int("from_layer")
        let threshold = try context.parameters.double("threshold")
        let dims = m.model.dimensions
        guard from >= 0 && from < dims.layers else {
            throw ReproductionError.parameter(recipe: name, name: "from_layer", problem: "must be in 0…\(dims.layers - 1), got \(from)")
        }
        let seqs = try LensAttentionRecipes.encode(prompts, m)
        context.progress(0.1, "attention of \(seqs.count) prompts")
        let analyses = try AttentionAnalysis.analyse(m.model, sequences: seqs)
        var sink = Array(repeating: Array(repeating: 0.0, count: dims.heads), count: dims.layers), last = sink
        for a in analyses {
            for l in 0..<dims.layers {
                for h in 0..<dims.heads {
                    sink[l][h] += a.heads[l][h].sink / Double(analyses.count)
                    last[l][h] += a.attention(layer: l, head: h, query: a.length - 1, key: 0) / Double(analyses.count)
                }
            }
        }
        let deep = sink[from...].flatMap { $0 }, deepLast = last[from...].flatMap { $0 }, shallow = sink[..<from].flatMap { $0 }
        var baseline = 0.0
        for s in seqs {
            var sum = 0.0
            for q in 1...s.count { sum += 1 / Double(q) }
            baseline += sum / Double(s.count) / Double(seqs.count)
        }
        try context.addFigure("sink-scores", caption: "Attention-sink score per layer (rows) and head (columns): the mean over all query positions of the attention on position 0, averaged over \(prompts.count) prompts.",
                              chart: Heatmap(values: sink, rowLabels: (0..<dims.layers).map { "L\($0)" }, columnLabels: (0..<dims.heads).map { "H\($0)" },
                                             title: "Attention on the first token", xLabel: "head", yLabel: "layer", showValues: true, colorBarLabel: "mean attention on position 0"))
        // One head's full pattern on the longest prompt, from the first counted layer.
        let longest = analyses.indices.max { analyses[$0].length < analyses[$1].length }!
        let a = analyses[longest]
        let (l, h) = (from, (0..<dims.heads).max { sink[from][$0] < sink[from][$1] }!)
        let labels = a.ids.map { LensAttentionRecipes.text($0, m) }
        try context.addFigure("pattern", caption: "Attention pattern of L\(l)H\(h) (query rows × key columns) on \(prompts[longest].debugDescription): the first column (the first token) takes most of the mass.",
                              chart: Heatmap(values: (0..<a.length).map { q in (0..<a.length).map { k in a.attention(layer: l, head: h, query: q, key: k) } },
                                             rowLabels: labels, columnLabels: labels, title: "L\(l)H\(h) attention pattern", xLabel: "key", yLabel: "query",
                                             colorBarLabel: "attention probability"))
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(Swift.max(v.count, 1)) }
        return RecipeOutput(metrics: [
            "sink_head_fraction": Double(deep.filter { $0 > threshold }.count) / Double(deep.count),
            "sink_head_fraction_last_query": Double(deepLast.filter { $0 > threshold }.count) / Double(deepLast.count),
            "mean_sink_from_layer": mean(deep), "mean_sink_first_layers": mean(shallow), "uniform_baseline": baseline,
        ], notes: ["Mean sink score per layer: " + sink.enumerated().map { "L\($0)=\(String(format: "%.2f", mean($1)))" }.joined(separator: ", ")])
    }
}

/// Induction heads (arXiv 2209.11895) on repeated random tokens.
enum InductionHeadsRecipe: Recipe {
    static let name = "attention.induction"
    static let summary = "Induction, previous-token and duplicate-token scores of every head on seeded repeated random tokens, with the in-context loss drop."
    static let parameters = [
        RecipeParameter("seq_len", .int, default: .int(20), "length L of the random half"),
        RecipeParameter("batch", .int, default: .int(4), "number of random sequences"),
        RecipeParameter("prefix", .intList, default: .list([.int(0)]), "token ids before each sequence (SmolLM2's <|endoftext|> = 0)"),
        RecipeParameter("threshold", .number, default: .double(0.4), "a head with an induction score above this counts as an induction head"),
    ]
    static let metrics = [
        RecipeMetric("max_induction_score", "the largest induction score of any head"),
        RecipeMetric("induction_heads", "number of heads with an induction score above the threshold"),
        RecipeMetric("best_head_layer", "layer of the best induction head"),
        RecipeMetric("max_previous_token_score", "the largest previous-token score of any head"),
        RecipeMetric("first_half_loss", "mean next-token loss on the first copy (nats)"),
        RecipeMetric("second_half_loss", "mean next-token loss on the second copy, excluding its first token (nats)"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let m = try context.loadModel()
        let p = context.parameters
        let dims = m.model.dimensions
        let prefix = try p.ints("prefix")
        for id in prefix where id < 0 || id >= dims.vocabularySize {
            throw ReproductionError.parameter(recipe: name, name: "prefix", problem: "token id \(id) outside 0…\(dims.vocabularySize - 1)")
        }
        let seqs = try RepeatedTokens.generate(count: try p.int("batch"), length: try p.int("seq_len"),
                                               range: HeadScores.defaultTokenRange(vocabulary: dims.vocabularySize), prefix: prefix, seed: context.seed)
        context.progress(0.1, "scoring heads on \(seqs.count) sequences")
        let s = try HeadScores.measure(m.model, on: seqs)
        let threshold = try p.double("threshold")
        let ranking = s.ranking(.induction)
        let grid = s.scores[.induction]!
        try context.addFigure("induction-scores", caption: "Induction score per layer (rows) and head (columns): attention from each token of the second copy to the token after its first occurrence, mean over \(seqs.count) sequences of \(seqs[0].period) random tokens.",
                              chart: Heatmap(values: grid, rowLabels: (0..<dims.layers).map { "L\($0)" }, columnLabels: (0..<dims.heads).map { "H\($0)" },
                                             title: "Induction scores on repeated random tokens", xLabel: "head", yLabel: "layer", showValues: true, colorBarLabel: "induction score"))
        return RecipeOutput(metrics: [
            "max_induction_score": ranking[0].score,
            "induction_heads": Double(ranking.filter { $0.score > threshold }.count),
            "best_head_layer": Double(ranking[0].layer),
            "max_previous_token_score": s.ranking(.previous)[0].score,
            "first_half_loss": s.firstHalfLoss, "second_half_loss": s.secondHalfLoss,
        ], notes: ["Top induction heads: " + ranking.prefix(5).map { "L\($0.layer)H\($0.head) \(String(format: "%.3f", $0.score))" }.joined(separator: ", ")])
    }
}
