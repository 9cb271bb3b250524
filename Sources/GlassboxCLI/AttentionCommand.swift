import ArgumentParser
import Foundation
import Glassbox

/// `glassbox attention`: per-layer, per-head attention statistics of a prompt.
struct AttentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Attention per layer and head: sink mass on position 0 (2309.17453), entropy, previous-token score; rollout (2005.00928).")
    @OptionGroup var options: ModelOptions
    @OptionGroup var input: PromptOptions
    @Option(name: .long, help: "Also print one head's pattern [query × key] as a heatmap, as LAYER.HEAD (e.g. 3.0).") var pattern: String?

    func parsedPattern() throws -> (Int, Int)? {
        guard let pattern else { return nil }
        let parts = pattern.split(separator: ".").map { Int($0) }
        guard parts.count == 2, let l = parts[0], let h = parts[1], l >= 0, h >= 0 else {
            throw ValidationError("--pattern '\(pattern)': expected LAYER.HEAD, e.g. 3.0")
        }
        return (l, h)
    }

    func validate() throws { _ = try parsedPattern() }

    struct Head: Encodable { let head: Int; let sink, entropy, previous: Double; let duplicate, induction: Double? }
    struct Layer: Encodable { let layer: Int; let heads: [Head] }
    struct Output: Encodable { let tokens: [String]; let ids: [Int]; let layers: [Layer]; let rollout_last: [Double] }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            let ids = try input.encode(with: m).ids
            let a = try AttentionAnalysis.analyse(m.model, ids: ids)
            let text = CLITokens.texts(ids, model: m)
            let layers = a.heads.enumerated().map { l, hs in
                Layer(layer: l, heads: hs.map { Head(head: $0.head, sink: $0.sink, entropy: $0.entropy, previous: $0.previous,
                                                     duplicate: $0.duplicate, induction: $0.induction) })
            }
            let rollout = a.rollout().last ?? []
            if options.json { try CLIOutput.json(Output(tokens: text, ids: ids, layers: layers, rollout_last: rollout)); return }
            print("attention of \(m.name) on \(ids.count) tokens: \(text.map(\.debugDescription).joined(separator: " "))")
            let rows = a.heads.enumerated().map { l, hs -> [String] in
                let sinks = hs.map(\.sink), prev = hs.map(\.previous), ent = hs.map(\.entropy)
                let bestPrev = prev.indices.max { prev[$0] < prev[$1] }!
                return [String(l), String(format: "%.3f", sinks.reduce(0, +) / Double(hs.count)), String(format: "%.3f", sinks.min()!),
                        String(format: "%.3f", ent.reduce(0, +) / Double(hs.count)), "H\(bestPrev) \(String(format: "%.3f", prev[bestPrev]))"]
            }
            print(Terminal.table(["layer", "mean sink", "min sink", "mean entropy", "best previous-token head"], rows))
            print("")
            print(Terminal.heatmap(a.heads.map { $0.map(\.sink) }, rowLabels: (0..<a.layers).map { "L\($0)" }, columnLabels: [],
                                   title: "attention-sink score (mean mass on position 0) per layer (rows) × head (columns)"))
            print("")
            print("attention rollout from the last position: " + Terminal.colouredTokens(text, scores: rollout))
            if let chosen = try parsedPattern() {
                let (l, h) = chosen
                guard l < a.layers, h < a.heads[l].count else {
                    throw ModelError.invalidInput("--pattern \(l).\(h): the model has \(a.layers) layers and \(a.heads.first?.count ?? 0) heads")
                }
                let grid = (0..<ids.count).map { q in (0..<ids.count).map { k in a.attention(layer: l, head: h, query: q, key: k) } }
                print("")
                print(Terminal.heatmap(grid, rowLabels: text.map(\.debugDescription), columnLabels: text, title: "L\(l)H\(h) pattern: query (rows) × key (columns)"))
            }
        }
    }
}

/// `glassbox heads`: ranks heads by induction / previous-token / duplicate-token score on repeated random tokens.
struct HeadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heads",
        abstract: "Rank attention heads by induction, previous-token, duplicate-token or sink score on repeated random tokens (2209.11895).")
    @OptionGroup var options: ModelOptions
    @Option(name: .long, help: "Scores to rank by, comma-separated: \(HeadScoreKind.allCases.map(\.rawValue).joined(separator: ", ")).") var scores = "induction,previous,duplicate"
    @Option(name: .long, help: "Length L of the random half (each sequence is prefix + L tokens + the same L tokens).") var seqLen = 20
    @Option(name: .long, help: "Number of random sequences (one batch).") var batch = 4
    @Option(name: .long, help: "Seed of the random tokens.") var seed: UInt64 = 0
    @Option(name: .long, help: "How many heads to list per score.") var top = 10
    @Option(name: .long, help: "Token ids before each sequence, comma-separated (default: <|endoftext|> when the tokenizer has it, which gives the model an attention sink); 'none' for no prefix.") var prefix: String?

    func kinds() throws -> [HeadScoreKind] {
        try scores.split(separator: ",").map {
            let s = $0.trimmingCharacters(in: .whitespaces)
            guard let k = HeadScoreKind(rawValue: s) else {
                throw ValidationError("--scores: '\(s)' is not one of \(HeadScoreKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return k
        }
    }

    func validate() throws {
        _ = try kinds()
        guard seqLen >= 2 else { throw ValidationError("--seq-len must be at least 2") }
        guard batch >= 1 else { throw ValidationError("--batch must be positive") }
        guard top >= 1 else { throw ValidationError("--top must be positive") }
    }

    struct Entry: Encodable { let layer: Int; let head: Int; let score: Double }
    struct Output: Encodable {
        let seq_len: Int; let batch: Int; let seed: UInt64; let prefix: [Int]
        let first_half_loss: Double; let second_half_loss: Double
        let scores: [String: [[Double]]]; let top: [String: [Entry]]
    }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            let vocab = m.model.dimensions.vocabularySize
            let prefixIDs: [Int]
            if let prefix {
                prefixIDs = prefix == "none" ? [] : try prefix.split(separator: ",").map {
                    guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v >= 0, v < vocab else {
                        throw ValidationError("--prefix: '\($0)' is not a token id below \(vocab)")
                    }
                    return v
                }
            } else {
                prefixIDs = m.tokenizer?.id(of: "<|endoftext|>").map { [$0] } ?? []
            }
            let seqs = try RepeatedTokens.generate(count: batch, length: seqLen, range: HeadScores.defaultTokenRange(vocabulary: vocab),
                                                   prefix: prefixIDs, seed: seed)
            let result = try HeadScores.measure(m.model, on: seqs)
            let ks = try kinds()
            var grids: [String: [[Double]]] = [:], tops: [String: [Entry]] = [:]
            for k in ks {
                grids[k.rawValue] = result.scores[k]
                tops[k.rawValue] = result.ranking(k).prefix(top).map { Entry(layer: $0.layer, head: $0.head, score: $0.score) }
            }
            let out = Output(seq_len: seqLen, batch: batch, seed: seed, prefix: prefixIDs, first_half_loss: result.firstHalfLoss,
                             second_half_loss: result.secondHalfLoss, scores: grids, top: tops)
            if options.json { try CLIOutput.json(out); return }
            print("\(batch) sequences of prefix \(prefixIDs) + \(seqLen) random tokens × 2 (seed \(seed)); loss first copy \(String(format: "%.3f", result.firstHalfLoss)), second copy \(String(format: "%.3f", result.secondHalfLoss)) nats")
            for k in ks {
                print("")
                print(Terminal.table(["rank", "head", "\(k.rawValue) score"], tops[k.rawValue]!.enumerated().map { i, e in
                    [String(i + 1), "L\(e.layer)H\(e.head)", String(format: "%.4f", e.score)]
                }))
                print(Terminal.heatmap(grids[k.rawValue]!, rowLabels: grids[k.rawValue]!.indices.map { "L\($0)" }, columnLabels: [],
                                       title: "\(k.rawValue) score per layer (rows) × head (columns)"))
            }
        }
    }
}

/// `glassbox dla`: direct logit attribution of a prompt's answer (or answer − wrong) logit.
struct DLACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dla",
        abstract: "Direct logit attribution: each head's, MLP's and the embedding's share of a logit (difference), through the final norm with its scale frozen.")
    @OptionGroup var options: ModelOptions
    @OptionGroup var input: PromptOptions
    @Option(name: .long, help: "The answer token, as text (e.g. \" Paris\"); must be one token.") var answer: String
    @Option(name: .long, help: "A wrong answer token: attribute logit[answer] − logit[wrong].") var wrong: String?
    @Option(name: .long, help: "Token position to attribute (default: the last).") var position: Int?
    @Option(name: .long, help: "How many components to list (largest |contribution| first).") var top = 15

    struct Token: Encodable { let id: Int; let token: String }
    struct Component: Encodable { let name: String; let kind: String; let layer: Int?; let head: Int?; let value: Double }
    struct Output: Encodable {
        let tokens: [String]; let ids: [Int]; let position: Int; let answer: Token; let wrong: Token?
        let total: Double; let sum: Double; let components: [Component]
    }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            let ids = try input.encode(with: m).ids
            let pos = try CLIPositions.resolve(position, length: ids.count)
            let a = try CLITokens.single(answer, model: m, option: "--answer")
            let w = try wrong.map { try CLITokens.single($0, model: m, option: "--wrong") }
            let d = try DirectLogitAttribution.compute(m.model, ids: ids, answer: a, wrong: w, position: pos)
            let out = Output(tokens: CLITokens.texts(ids, model: m), ids: ids, position: pos,
                             answer: Token(id: a, token: CLITokens.text(a, model: m)), wrong: w.map { Token(id: $0, token: CLITokens.text($0, model: m)) },
                             total: d.total, sum: d.sum,
                             components: d.components.map { Component(name: $0.name, kind: $0.kind.rawValue, layer: $0.layer, head: $0.head, value: $0.value) })
            if options.json { try CLIOutput.json(out); return }
            let what = w.map { "logit[\(out.answer.token.debugDescription)] − logit[\(CLITokens.text($0, model: m).debugDescription)]" } ?? "logit[\(out.answer.token.debugDescription)]"
            print("\(what) at position \(pos) = \(String(format: "%.4f", d.total)); sum of \(d.components.count) components = \(String(format: "%.4f", d.sum))")
            let ranked = d.components.sorted { abs($0.value) > abs($1.value) }.prefix(top)
            let maxAbs = ranked.first.map { abs($0.value) } ?? 1
            print(Terminal.table(["component", "contribution", ""], ranked.map {
                [$0.name, String(format: "%+.4f", $0.value), ($0.value < 0 ? "-" : "+") + CLIBars.bar(abs($0.value), max: maxAbs, width: 24)]
            }))
            let dims = m.model.dimensions
            var grid = d.headGrid(layers: dims.layers, heads: dims.heads)
            for c in d.components where c.kind == .mlp { grid[c.layer!].append(c.value) }
            print("")
            print(Terminal.heatmap(grid, rowLabels: (0..<dims.layers).map { "L\($0)" }, columnLabels: [],
                                   title: "contribution per layer (rows) × head 0…\(dims.heads - 1), then the MLP (last column)"))
        }
    }
}
