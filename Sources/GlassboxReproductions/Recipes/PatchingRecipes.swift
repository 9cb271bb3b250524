import Foundation
import GlassboxFormats
import GlassboxMethods
import GlassboxModels
import GlassboxReports
import GlassboxTensor

/// Recipes for activation patching, attribution patching, causal tracing and ablations.
enum PatchingRecipes {
    static let all: [any Recipe.Type] = [
        IOILogitDiffRecipe.self,
        IOIPatchingCircuitRecipe.self,
        AttributionPatchingCorrelationRecipe.self,
        CausalTraceMLPRecipe.self,
    ]
}

/// What the IOI recipes share: the model's tokenizer and the prompt pair parameters.
enum IOIRecipeSupport {
    static let pairParameters = [
        RecipeParameter("clean", .string, default: .string("When Mary and John went to the store, John gave a drink to"), "the clean prompt"),
        RecipeParameter("corrupt", .string, default: .string("When Mary and John went to the store, Mary gave a drink to"), "the corrupted prompt (S2 replaced by IO), same token count"),
        RecipeParameter("answer", .string, default: .string(" Mary"), "the clean answer (IO)"),
        RecipeParameter("wrong", .string, default: .string(" John"), "the competing answer (S)"),
    ]

    static func tokenizer(_ m: LoadedModel) throws -> any Tokenizer {
        guard let t = m.tokenizer else { throw PatchingError.invalidInput("\(m.name) has no supported tokenizer") }
        return t
    }

    static func single(_ text: String, _ tok: any Tokenizer, _ what: String) throws -> Int {
        let ids = tok.encode(text, addSpecialTokens: false, parseSpecial: false)
        guard ids.count == 1 else { throw PatchingError.invalidInput("parameter '\(what)': \(text.debugDescription) is \(ids.count) tokens, expected exactly one") }
        return ids[0]
    }

    /// The prompt pair of the parameters: ids, metric and the decoded tokens.
    static func pair(_ context: RecipeContext, _ m: LoadedModel) throws -> (clean: [Int], corrupt: [Int], metric: PatchMetric, tokens: [String]) {
        let tok = try tokenizer(m)
        let clean = tok.encode(try context.parameters.string("clean")), corrupt = tok.encode(try context.parameters.string("corrupt"))
        let metric = PatchMetric.logitDifference(answer: try single(try context.parameters.string("answer"), tok, "answer"),
                                                 wrong: try single(try context.parameters.string("wrong"), tok, "wrong"))
        return (clean, corrupt, metric, clean.map { tok.decode([$0]) })
    }

    /// The generator's names that are one token with a leading space for this tokenizer.
    static func generator(_ tok: any Tokenizer) -> IOIGenerator {
        IOIGenerator(names: IOIGenerator.names.filter { tok.encode(" " + $0, addSpecialTokens: false, parseSpecial: false).count == 1 })
    }
}

/// The IOI logit difference on generated prompts (arXiv 2211.00593 §2: GPT-2 small prefers IO over S).
enum IOILogitDiffRecipe: Recipe {
    static let name = "ioi.logit-diff"
    static let summary = "Mean logit difference logit(IO) − logit(S) at the last position over seeded generated IOI prompts."
    static let parameters = [RecipeParameter("prompts", .int, default: .int(64), "number of generated prompts")]
    static let metrics = [
        RecipeMetric("mean_logit_diff", "mean over prompts of logit(IO) − logit(S)"),
        RecipeMetric("fraction_positive", "fraction of prompts with logit(IO) > logit(S)"),
        RecipeMetric("mean_io_probability", "mean softmax probability of IO"),
        RecipeMetric("names_used", "names of the generator that are one token for this tokenizer"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let m = try context.loadModel()
        let tok = try IOIRecipeSupport.tokenizer(m)
        let gen = IOIRecipeSupport.generator(tok)
        guard gen.names.count >= 2 else { throw PatchingError.invalidInput("fewer than two generator names are single tokens for \(m.name)") }
        let prompts = gen.prompts(count: try context.parameters.int("prompts"), seed: context.seed)
        let ids = prompts.map { tok.encode($0.clean) }
        let batch = TokenBatch(sequences: ids, padding: .left)
        let logits = try m.model(batch).logits!.select(axis: 1, batch.length - 1)          // [prompts, vocab]
        let probs = logits.softmax(axis: -1)
        let io = try prompts.map { try IOIRecipeSupport.single($0.indirectObject, tok, "IO") }
        let s = try prompts.map { try IOIRecipeSupport.single($0.subject, tok, "S") }
        let diffs = zip(logits.gatherLast(io).scalars, logits.gatherLast(s).scalars).map { Double($0 - $1) }
        let pIO = probs.gatherLast(io).scalars.map(Double.init)
        context.progress(1, "\(prompts.count) prompts")
        var perTemplate: [Int: [Double]] = [:]
        for (p, d) in zip(prompts, diffs) { perTemplate[p.template, default: []].append(d) }
        let keys = perTemplate.keys.sorted()
        try context.addFigure("per-template", caption: "Mean logit difference logit(IO) − logit(S) per template (seeded prompts).",
                              chart: BarChart(labels: keys.map { "T\($0)" }, values: keys.map { Statistics.mean(perTemplate[$0]!) },
                                              title: "IOI logit difference by template", categoryLabel: "template",
                                              valueLabel: "logit(IO) − logit(S)", signed: true))
        return RecipeOutput(metrics: [
            "mean_logit_diff": Statistics.mean(diffs),
            "fraction_positive": Double(diffs.filter { $0 > 0 }.count) / Double(diffs.count),
            "mean_io_probability": Statistics.mean(pIO),
            "names_used": Double(gen.names.count),
        ], notes: ["Templates: " + IOIGenerator.templates.enumerated().map { "T\($0): “\($1)”" }.joined(separator: "; ")])
    }
}

/// Where the IOI information sits across layers: resid_pre patching of the S2 → IO corrupted pair.
enum IOIPatchingCircuitRecipe: Recipe {
    static let name = "ioi.patching-circuit"
    static let summary = "resid_pre activation patching (layer × position) of an IOI pair whose corruption replaces S2 by IO."
    static let parameters = IOIRecipeSupport.pairParameters + [
        RecipeParameter("late_layers", .int, default: .int(3), "how many final layers count as 'late'"),
    ]
    static let metrics = [
        RecipeMetric("clean_logit_diff", "logit(IO) − logit(S) on the clean prompt"),
        RecipeMetric("corrupt_logit_diff", "the same on the corrupted prompt"),
        RecipeMetric("s2_restoration_early", "normalized patching effect at the S2 position, mean over the first half of the layers"),
        RecipeMetric("end_restoration_early", "normalized effect at the last position, mean over the first half of the layers"),
        RecipeMetric("s2_restoration_late", "normalized effect at S2, mean over the last `late_layers` layers"),
        RecipeMetric("end_restoration_late", "normalized effect at the last position, mean over the last `late_layers` layers"),
        RecipeMetric("handover_layer", "first layer where the last position's effect exceeds the S2 position's"),
        RecipeMetric("handover_depth", "handover_layer / number of layers"),
        RecipeMetric("other_positions_max", "largest |normalized effect| at any other position"),
    ]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let m = try context.loadModel()
        let pair = try IOIRecipeSupport.pair(context, m)
        let differing = zip(pair.clean, pair.corrupt).enumerated().filter { $1.0 != $1.1 }.map(\.offset)
        guard differing.count == 1, let s2 = differing.first else {
            throw PatchingError.invalidInput("parameters 'clean'/'corrupt': expected prompts that differ in exactly one token (S2), they differ at \(differing)")
        }
        let end = pair.clean.count - 1
        let r = try ActivationPatching(model: m.model, clean: pair.clean, corrupt: pair.corrupt, metric: pair.metric)
            .run(site: .residPre, columnLabels: pair.tokens) { context.progress($0, "patching") }
        let n = r.normalizedGrid, layers = n.count, late = try context.parameters.int("late_layers")
        let early = 0..<(layers / 2), lateRange = max(0, layers - late)..<layers
        func mean(_ rows: Range<Int>, _ p: Int) -> Double { Statistics.mean(rows.map { n[$0][p] }) }
        let handover = (0..<layers).first { n[$0][end] > n[$0][s2] } ?? layers
        let others = n.flatMap { row in row.enumerated().filter { $0.offset != s2 && $0.offset != end }.map { abs($0.element) } }.max() ?? 0
        try context.addFigure("heatmap", caption: "resid_pre patching, normalized logit difference (0 = corrupted, 1 = clean); rows layers, columns tokens. S2 is position \(s2).",
                              chart: Heatmap(values: n, rowLabels: (0..<layers).map { "L\($0)" }, columnLabels: pair.tokens,
                                             title: "IOI resid_pre patching", xLabel: "position", yLabel: "layer (resid_pre)",
                                             scaleKind: .diverging, colorBarLabel: "normalized logit diff"))
        return RecipeOutput(metrics: [
            "clean_logit_diff": r.clean, "corrupt_logit_diff": r.corrupt,
            "s2_restoration_early": mean(early, s2), "end_restoration_early": mean(early, end),
            "s2_restoration_late": mean(lateRange, s2), "end_restoration_late": mean(lateRange, end),
            "handover_layer": Double(handover), "handover_depth": Double(handover) / Double(layers),
            "other_positions_max": others,
        ], notes: ["Prompt tokens: " + pair.tokens.map { $0.debugDescription }.joined(separator: " ") + "; S2 at position \(s2), last position \(end)."])
    }
}

/// Attribution patching vs exact activation patching (arXiv 2310.10348).
enum AttributionPatchingCorrelationRecipe: Recipe {
    static let name = "attribution-patching.correlation"
    static let summary = "Pearson correlation between attribution-patching estimates and exact activation patching, per site, on an IOI pair."
    static let parameters = IOIRecipeSupport.pairParameters + [
        RecipeParameter("sites", .stringList, default: .list([.string("resid_pre"), .string("attn_out"), .string("mlp_out")]), "patching sites"),
    ]
    static let metrics = PatchSite.allCases.map { RecipeMetric("correlation_\($0.rawValue)", "Pearson r of attribution vs exact patching over the layer × position grid of \($0.rawValue)") }
        + [RecipeMetric("correlation_min", "the smallest correlation over the sites"),
           RecipeMetric("seconds_exact", "wall time of the exact sweeps"), RecipeMetric("seconds_attribution", "wall time of the attribution estimates")]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let m = try context.loadModel()
        let pair = try IOIRecipeSupport.pair(context, m)
        let names = try context.parameters.strings("sites")
        let sites = try names.map { s -> PatchSite in
            guard let site = PatchSite(rawValue: s) else {
                throw PatchingError.invalidInput("parameter 'sites': '\(s)' is not one of \(PatchSite.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return site
        }
        let exact = try ActivationPatching(model: m.model, clean: pair.clean, corrupt: pair.corrupt, metric: pair.metric)
        let attr = try AttributionPatching(model: m.model, clean: pair.clean, corrupt: pair.corrupt, metric: pair.metric)
        var metrics: [String: Double] = [:], series: [Series] = []
        var tExact = 0.0, tAttr = 0.0
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        for (i, site) in sites.enumerated() {
            var t0 = Date()
            let e = try exact.run(site: site) { context.progress((Double(i) + $0) / Double(sites.count), "exact \(site.rawValue)") }
            tExact += Date().timeIntervalSince(t0)
            t0 = Date()
            let a = try attr.run(site: site)
            tAttr += Date().timeIntervalSince(t0)
            metrics["correlation_\(site.rawValue)"] = a.correlation(with: e)
            series.append(Series(name: site.rawValue, x: e.normalizedGrid.flatMap { $0 }, y: a.normalizedGrid.flatMap { $0 }, color: colors[i % colors.count]))
        }
        metrics["correlation_min"] = sites.map { metrics["correlation_\($0.rawValue)"]! }.min()
        metrics["seconds_exact"] = tExact
        metrics["seconds_attribution"] = tAttr
        try context.addFigure("scatter", caption: "Each point is one (layer, position) cell: exact activation patching (x) vs the attribution-patching estimate (y), normalized logit difference.",
                              chart: ScatterPlot(series: series, title: "Attribution vs exact patching (IOI pair)",
                                                 xLabel: "exact patching (normalized)", yLabel: "attribution patching (normalized)"))
        return RecipeOutput(metrics: metrics)
    }
}

/// Causal tracing of factual recall with MLP restoration (arXiv 2202.05262 Figure 2).
enum CausalTraceMLPRecipe: Recipe {
    static let name = "causal-tracing.mlp"
    static let summary = "Average indirect effect of restoring MLP outputs (window of layers) per layer and token category over known facts."
    static let parameters = [
        RecipeParameter("facts", .int, default: .int(8), "at most this many known facts (those the model gets right, in file order)"),
        RecipeParameter("samples", .int, default: .int(5), "noise samples per state"),
        RecipeParameter("noise", .number, default: .double(3), "noise std as a multiple of the subject-embedding std"),
        RecipeParameter("window", .int, default: .int(10), "MLP layers restored together"),
        RecipeParameter("kind", .string, default: .string("mlp"), "hidden, mlp or attention"),
        RecipeParameter("categories", .stringList, default: .list(categories.map { .string($0) }), "token categories traced (others are not run)"),
    ]
    static let metrics = [
        RecipeMetric("facts_known", "facts traced (the model's top-1 is the answer)"),
        RecipeMetric("subject_embedding_std", "std of subject-token embeddings over all facts of the file"),
        RecipeMetric("mean_clean_probability", "mean p(answer) on the clean prompts"),
        RecipeMetric("mean_corrupt_probability", "mean p(answer) with the subject noised"),
        RecipeMetric("peak_layer_last_subject", "layer of the largest AIE at the last subject token"),
        RecipeMetric("peak_depth_last_subject", "peak_layer_last_subject / (layers − 1)"),
        RecipeMetric("peak_aie_last_subject", "the largest AIE at the last subject token"),
        RecipeMetric("aie_last_token_at_peak", "AIE at the last token at that layer"),
        RecipeMetric("peak_aie_last_token", "the largest AIE at the last token over layers"),
        RecipeMetric("peak_aie_first_subject", "the largest AIE at the first subject token over layers"),
        RecipeMetric("peak_ratio_last_to_first_subject", "peak_aie_last_subject / peak_aie_first_subject"),
    ]

    struct Fact: Decodable { var subject: String; var prompt: String; var answer: String }
    struct FactFile: Decodable { var facts: [Fact] }

    static let categories = ["first subject", "middle subject", "last subject", "first subsequent", "further tokens", "last token"]

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let url = try context.dataFile("causal-tracing/facts.json")
        let file: FactFile
        do { file = try JSONDecoder().decode(FactFile.self, from: Data(contentsOf: url)) } catch {
            throw PatchingError.invalidInput("\(url.path): expected {\"facts\": [{\"subject\", \"prompt\", \"answer\"}]} (\(error))")
        }
        guard let kind = CausalTracing.Kind(rawValue: try context.parameters.string("kind")) else {
            throw PatchingError.invalidInput("parameter 'kind': expected hidden, mlp or attention")
        }
        let m = try context.loadModel()
        let tok = try IOIRecipeSupport.tokenizer(m)
        let layers = m.model.dimensions.layers
        // Tokenize; the subject's tokens as they appear in the prompt.
        var located: [(fact: Fact, ids: [Int], subject: Range<Int>, answer: Int)] = []
        for (i, f) in file.facts.enumerated() {
            let ids = tok.encode(f.prompt)
            let forms = [tok.encode(f.subject, addSpecialTokens: false, parseSpecial: false), tok.encode(" " + f.subject, addSpecialTokens: false, parseSpecial: false)]
            guard let range = forms.lazy.compactMap({ CausalTracing.locate($0, in: ids) }).first else {
                throw PatchingError.invalidInput("\(url.lastPathComponent): facts[\(i)]: subject \(f.subject.debugDescription) does not occur as tokens in its prompt")
            }
            guard let answer = tok.encode(f.answer, addSpecialTokens: false, parseSpecial: false).first else {
                throw PatchingError.invalidInput("\(url.lastPathComponent): facts[\(i)]: empty answer")
            }
            located.append((f, ids, range, answer))
        }
        let sigma = try CausalTracing.subjectEmbeddingStd(model: m.model, subjects: located.map { Array($0.ids[$0.subject]) })
        // Known facts: the model's top-1 next token is the answer's first token.
        let limit = try context.parameters.int("facts")
        var known: [(fact: Fact, ids: [Int], subject: Range<Int>, answer: Int)] = []
        for f in located where known.count < limit {
            let last = try m.model(TokenBatch(f.ids)).logits!.select(axis: 0, 0).select(axis: 0, f.ids.count - 1)
            if last.argmax()[0] == f.answer { known.append(f) }
        }
        guard !known.isEmpty else { throw PatchingError.invalidInput("none of the \(located.count) facts is known by \(m.name) (top-1 = answer)") }
        let tracer = try CausalTracing(model: m.model, noiseStd: Float(try context.parameters.double("noise")) * sigma,
                                       samples: try context.parameters.int("samples"), window: try context.parameters.int("window"), seed: context.seed)
        let chosen = try context.parameters.strings("categories")
        for c in chosen where !categories.contains(c) {
            throw PatchingError.invalidInput("parameter 'categories': '\(c)' is not one of \(categories.joined(separator: ", "))")
        }
        guard chosen.contains("last subject") && chosen.contains("last token") else {
            throw PatchingError.invalidInput("parameter 'categories' must include 'last subject' and 'last token' (the metrics read them)")
        }
        func groups(_ s: Range<Int>, _ last: Int) -> [[Int]] {
            [[s.lowerBound], Array((s.lowerBound + 1)..<max(s.lowerBound + 1, s.upperBound - 1)), [s.upperBound - 1],
             s.upperBound < last ? [s.upperBound] : [], s.upperBound + 1 < last ? Array((s.upperBound + 1)..<last) : [], [last]]
                .enumerated().map { chosen.contains(categories[$0.offset]) ? $0.element : [] }
        }
        // AIE per category × layer, averaged over facts (a fact without a category, e.g. no middle subject token, does not count there).
        var sums = [[Double]](repeating: [Double](repeating: 0, count: layers), count: categories.count)
        var counts = [Int](repeating: 0, count: categories.count)
        var clean: [Double] = [], corrupt: [Double] = []
        for (i, f) in known.enumerated() {
            let traced = groups(f.subject, f.ids.count - 1).flatMap { $0 }
            let r = try tracer.run(ids: f.ids, subject: f.subject, answer: f.answer, kind: kind, positions: traced) {
                context.progress((Double(i) + $0) / Double(known.count), "fact \(i + 1)/\(known.count): \(f.fact.subject)")
            }
            clean.append(r.clean); corrupt.append(r.corrupt)
            let ie = r.indirectEffect, last = f.ids.count - 1
            for (c, positions) in groups(f.subject, last).enumerated() where !positions.isEmpty {
                counts[c] += 1
                for l in 0..<layers { sums[c][l] += Statistics.mean(positions.map { ie[l][$0] }) }
            }
        }
        let aie = sums.enumerated().map { c, row in row.map { counts[c] > 0 ? $0 / Double(counts[c]) : .nan } }
        let lastSubject = aie[2], lastToken = aie[5]
        let rowsShown = categories.indices.filter { counts[$0] > 0 }
        let peak = lastSubject.indices.max { lastSubject[$0] < lastSubject[$1] }!
        try context.addFigure("heatmap", caption: "Average indirect effect of restoring \(kind.rawValue) outputs\(kind == .hidden ? "" : " (window \(tracer.window))") over \(known.count) known facts; rows token categories, columns layers.",
                              chart: Heatmap(values: rowsShown.map { aie[$0] }, rowLabels: rowsShown.map { categories[$0] }, columnLabels: (0..<layers).map(String.init),
                                             title: "Causal tracing (\(kind.rawValue)), AIE on p(answer)", xLabel: "layer", yLabel: "token",
                                             colorBarLabel: "AIE"))
        return RecipeOutput(metrics: [
            "facts_known": Double(known.count), "subject_embedding_std": Double(sigma),
            "mean_clean_probability": Statistics.mean(clean), "mean_corrupt_probability": Statistics.mean(corrupt),
            "peak_layer_last_subject": Double(peak), "peak_depth_last_subject": Double(peak) / Double(layers - 1),
            "peak_aie_last_subject": lastSubject[peak], "aie_last_token_at_peak": lastToken[peak],
            "peak_aie_last_token": lastToken.max() ?? .nan,
            "peak_aie_first_subject": counts[0] > 0 ? (aie[0].max() ?? .nan) : .nan,
            "peak_ratio_last_to_first_subject": counts[0] > 0 ? lastSubject[peak] / (aie[0].max() ?? .nan) : .nan,
        ], notes: ["Facts traced: " + known.map { "“\($0.fact.prompt)” → \($0.fact.answer.debugDescription)" }.joined(separator: "; ")])
    }
}
