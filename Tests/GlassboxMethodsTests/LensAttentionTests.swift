import Foundation
import Testing
@testable import GlassboxMethods
import GlassboxModels
import GlassboxTensor

/// The tiny random checkpoints of Tests/Fixtures/formats/tiny (fast, always available).
enum TinyModels {
    static func load(_ name: String) throws -> any TransformerModel {
        try ModelLoader.load(path: MethodFixtures.root.appendingPathComponent("formats/tiny/" + name).path, name: name).model
    }
    static let llama = try! load("llama")
    static let gpt2 = try! load("gpt2")
    static let sequences = [[3, 17, 42, 8, 91, 5, 60], [11, 2, 77, 30, 3, 17, 42, 8, 64, 1, 19]]
}

/// The reference prompt files (Hugging Face transformers on SmolLM2) shared with the models tests.
let referencePrompts = ["prompt_france.json", "prompt_ioi_clean.json", "prompt_ioi_corrupt.json"]

@Suite("Logit lens and tuned lens")
struct LensTests {
    @Test("logit lens KL per layer and top-1 agree with transformers (SmolLM2)", .enabled(if: MethodModels.hasSmol, MethodModels.skipSmol),
          arguments: referencePrompts)
    func agreesWithReference(_ file: String) throws {
        let m = try #require(MethodModels.smolLM2)
        let ref = try MethodFixtures.json(MethodFixtures.models(file))
        let ids = try #require(ref["ids"] as? [Int])
        let lens = try #require(ref["logit_lens_last_pos"] as? [[String: Any]])
        let result = try LogitLens(topK: 1).apply(m.model, ids: ids)
        #expect(result.residualCount == lens.count)
        var worstAbs = 0.0, worstRel = 0.0
        for (r, entry) in lens.enumerated() {
            let expected = try #require((entry["kl_final_lens"] as? NSNumber)?.doubleValue)
            let got = result.readings[r][0].kl
            let diff = abs(got - expected)
            worstAbs = max(worstAbs, diff); worstRel = max(worstRel, diff / max(abs(expected), 1e-12))
            #expect(diff <= 1e-3 || diff <= 0.01 * abs(expected), "\(file) r=\(r): KL \(got) vs \(expected)")
            #expect(result.readings[r][0].top[0].id == entry["top1_id"] as? Int, "\(file) r=\(r): top-1 \(result.readings[r][0].top[0].id) vs \(entry["top1_id"] ?? "?")")
        }
        print("lens agreement \(file): max |ΔKL| \(worstAbs), max relative \(worstRel)")
    }

    @Test("the lens at the last residual index is the model's own output", arguments: ["llama", "gpt2"])
    func lastIndexIsTheModel(_ name: String) throws {
        let model = name == "llama" ? TinyModels.llama : TinyModels.gpt2
        let ids = TinyModels.sequences[1]
        let (out, cache) = try model.runWithCache(TokenBatch(ids), names: [HookName.resid(model.dimensions.layers)])
        let lensLogits = model.unembed(cache.resid(model.dimensions.layers)!)!
        expectAllClose(lensLogits.scalars.map(Double.init), out.logits!.scalars.map(Double.init), atol: 1e-5, "unembed(resid[L]) vs logits")
        let result = try LogitLens(topK: 3).apply(model, ids: ids, positions: Array(ids.indices))
        let last = result.readings[model.dimensions.layers]
        for (i, reading) in last.enumerated() {
            #expect(reading.kl < 1e-6, "KL at the last index, position \(i): \(reading.kl)")
            let row = out.logits!.select(axis: 0, 0).select(axis: 0, i)
            let p = row.softmax(axis: -1)
            #expect(reading.top[0].id == row.argmax(axis: -1)[0])
            #expect(abs(reading.top[0].prob - Double(p[reading.top[0].id])) < 1e-5)
        }
        // Earlier indices of a random model are far from the output.
        #expect(result.readings[0].map(\.kl).allSatisfy { $0 > 1e-3 })
    }

    @Test("lens of a batch equals the lens of each prompt alone")
    func batchEqualsOneByOne() throws {
        let lens = LogitLens(topK: 4)
        let seqs = TinyModels.sequences
        let batched = try lens.apply(TinyModels.llama, sequences: seqs, positions: seqs.map { Array($0.indices) }, targets: [5, 9])
        for (b, s) in seqs.enumerated() {
            let alone = try lens.apply(TinyModels.llama, ids: s, positions: Array(s.indices), target: [5, 9][b])
            for r in 0..<alone.residualCount {
                expectAllClose(batched[b].readings[r].map(\.kl), alone.readings[r].map(\.kl), atol: 1e-5, "KL seq \(b) r \(r)")
                #expect(batched[b].readings[r].map { $0.top.map(\.id) } == alone.readings[r].map { $0.top.map(\.id) })
                #expect(batched[b].readings[r].map(\.targetRank) == alone.readings[r].map(\.targetRank))
            }
        }
    }

    @Test("target rank and probability are those of the full distribution")
    func targetRank() throws {
        let ids = TinyModels.sequences[0]
        let result = try LogitLens(topK: 96).apply(TinyModels.llama, ids: ids, target: 42)
        for row in result.readings {
            let reading = row[0]
            let rank = try #require(reading.top.firstIndex { $0.id == 42 })
            #expect(reading.targetRank == rank)
            #expect(abs((reading.targetProb ?? -1) - reading.top[rank].prob) < 1e-12)
            #expect(abs(reading.top.map(\.prob).reduce(0, +) - 1) < 1e-6)
        }
    }

    @Test("bad lens input is rejected with a clear error")
    func badInput() throws {
        #expect(throws: LensAttentionError.self) { try LogitLens().apply(TinyModels.llama, ids: [1, 2], positions: [2]) }
        #expect(throws: LensAttentionError.self) { try LogitLens().apply(TinyModels.llama, ids: [1, 2], target: 96) }
        #expect(throws: LensAttentionError.self) { try LogitLens(topK: 0).apply(TinyModels.llama, ids: [1, 2]) }
    }

    @Test("tuned lens: distillation lowers held-out KL below the logit lens; save and load round-trip")
    func tunedLens() throws {
        var rng = SeededGenerator(seed: 7)
        // A token stream with structure (a repeated random phrase) so there is something to learn.
        let phrase = (0..<24).map { _ in rng.nextInt(below: 96) }
        let tokens = (0..<20).flatMap { _ in phrase.shuffledPrefix(16, using: &rng) }
        let config = TunedLensTrainer.Configuration(indices: [0, 1], steps: 60, batchTokens: 32, learningRate: 3e-3,
                                                    sequenceLength: 32, maxTokens: 320, heldOutTokens: 64, seed: 3)
        let (lens, report) = try TunedLensTrainer(config).train(TinyModels.llama, tokens: tokens)
        #expect(report.map(\.index) == [0, 1])
        for r in report {
            #expect(r.tunedLensKL < r.logitLensKL, "r=\(r.index): tuned \(r.tunedLensKL) vs logit \(r.logitLensKL)")
        }
        // Same seed, same translators.
        let (again, _) = try TunedLensTrainer(config).train(TinyModels.llama, tokens: tokens)
        #expect(again.translators[1]!.weight.scalars == lens.translators[1]!.weight.scalars)

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tuned-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try lens.save(to: url)
        let loaded = try TunedLens.load(from: url, for: TinyModels.llama)
        #expect(loaded.trainedIndices == [0, 1])
        #expect(loaded.translators[0]!.bias.scalars == lens.translators[0]!.bias.scalars)
        let ids = TinyModels.sequences[1]
        let a = try LogitLens(topK: 3, translator: lens).apply(TinyModels.llama, ids: ids)
        let b = try LogitLens(topK: 3, translator: loaded).apply(TinyModels.llama, ids: ids)
        #expect(a == b)
        let plain = try LogitLens(topK: 3).apply(TinyModels.llama, ids: ids)
        #expect(a.readings[2] == plain.readings[2], "untrained indices are the logit lens")
        #expect(a.readings[1] != plain.readings[1])
        // A lens for another model is refused, naming the field.
        var other = TunedLens(layers: 3, dModel: 64)
        other.translators[2] = (Tensor.zeros([64, 64]), Tensor.zeros([64]))
        try other.save(to: url)
        do {
            _ = try TunedLens.load(from: url, for: TinyModels.llama)
            Issue.record("loading a tuned lens for a model of another shape should fail")
        } catch let e as LensAttentionError {
            #expect(e.description.contains("'layers' is 3, expected 2"), "\(e)")
        }
    }
}

extension Array {
    /// A seeded shuffle's first `n` elements (for test streams).
    func shuffledPrefix(_ n: Int, using rng: inout SeededGenerator) -> [Element] {
        var c = self
        rng.shuffle(&c)
        return Array(c.prefix(n))
    }
}

@Suite("Attention analysis")
struct AttentionAnalysisTests {
    @Test("attention mass on position 0 per layer and head agrees with transformers (SmolLM2)",
          .enabled(if: MethodModels.hasSmol, MethodModels.skipSmol), arguments: referencePrompts)
    func sinkAgrees(_ file: String) throws {
        let m = try #require(MethodModels.smolLM2)
        let ref = try MethodFixtures.json(MethodFixtures.models(file))
        let ids = try #require(ref["ids"] as? [Int])
        let a = try AttentionAnalysis.analyse(m.model, ids: ids)
        let sink = a.heads.flatMap { $0.map(\.sink) }
        expectAllClose(sink, flatNumbers(ref["attn_mean_to_pos0"]), atol: 1e-3, "\(file) attn_mean_to_pos0")
        let last = a.heads.indices.flatMap { l in a.heads[l].indices.map { h in a.attention(layer: l, head: h, query: ids.count - 1, key: 0) } }
        expectAllClose(last, flatNumbers(ref["attn_last_query_to_pos0"]), atol: 1e-3, "\(file) attn_last_query_to_pos0")
        let maxDiff = zip(sink, flatNumbers(ref["attn_mean_to_pos0"])).map { abs($0 - $1) }.max() ?? 0
        print("sink agreement \(file): max |diff| \(maxDiff)")
    }

    @Test("induction scores per head agree with transformers on repeated random tokens (SmolLM2)",
          .enabled(if: MethodModels.hasSmol, MethodModels.skipSmol), arguments: ["eot_prefix", "no_prefix"])
    func inductionAgrees(_ variant: String) throws {
        let m = try #require(MethodModels.smolLM2)
        let ref = try #require(try MethodFixtures.json(MethodFixtures.methods("induction.json"))[variant] as? [String: Any])
        let prefix = try #require(ref["prefix"] as? [Int]), L = try #require(ref["L"] as? Int)
        let ids = try #require(ref["ids"] as? [Int])
        let seq = RepeatedTokens(prefix: prefix, half: Array(ids[prefix.count..<(prefix.count + L)]))
        #expect(seq.ids == ids)
        let scores = try HeadScores.measure(m.model, on: [seq])
        let induction = scores.scores[.induction]!.flatMap { $0 }
        expectAllClose(induction, flatNumbers(ref["induction_score"]), atol: 1e-3, "\(variant) induction_score")
        expectAllClose(scores.scores[.sink]!.flatMap { $0 }, flatNumbers(ref["attn_mean_to_pos0"]), atol: 1e-3, "\(variant) attn_mean_to_pos0")
        let top = try #require(ref["top10_induction_heads"] as? [[String: Any]])
        let best = scores.ranking(.induction)[0]
        #expect(best.layer == top[0]["layer"] as? Int && best.head == top[0]["head"] as? Int)
        let expectedSecond = try #require((ref["second_half_mean_excl_first"] as? NSNumber)?.doubleValue)
        let expectedFirst = try #require((ref["first_half_mean"] as? NSNumber)?.doubleValue)
        #expect(abs(scores.secondHalfLoss - expectedSecond) < 1e-2 && abs(scores.firstHalfLoss - expectedFirst) < 1e-2,
                "losses \(scores.firstHalfLoss) / \(scores.secondHalfLoss) vs \(expectedFirst) / \(expectedSecond)")
        let maxDiff = zip(induction, flatNumbers(ref["induction_score"])).map { abs($0 - $1) }.max() ?? 0
        print("induction agreement \(variant): max |diff| \(maxDiff); best head L\(best.layer)H\(best.head) \(best.score)")
    }

    @Test("head statistics of hand-made patterns")
    func handMadePatterns() {
        // 4 tokens, the last repeats the first: ids a b c a.
        let ids = [5, 6, 7, 5]
        let t = 4
        func pattern(_ f: (Int, Int) -> Float) -> [Float] { (0..<t * t).map { f($0 / t, $0 % t) } }
        // Previous-token head (position 0 attends to itself).
        let prev = HeadStatistics.measure(pattern { q, k in (q == 0 && k == 0) || k == q - 1 ? 1 : 0 }, ids: ids, layer: 0, head: 0)
        #expect(prev.previous == 1 && prev.sink == 0.5 && prev.entropy == 0)
        #expect(prev.duplicate == 0 && prev.induction == 0)
        // Uniform causal attention.
        let uniform = HeadStatistics.measure(pattern { q, k in k <= q ? 1 / Float(q + 1) : 0 }, ids: ids, layer: 0, head: 1)
        let expectedEntropy = (0..<t).map { Foundation.log(Double($0 + 1)) }.reduce(0, +) / Double(t)
        #expect(abs(uniform.entropy - expectedEntropy) < 1e-6)
        #expect(abs(uniform.sink - (1 + 0.5 + 1.0 / 3 + 0.25) / 4) < 1e-6)
        // Induction head: the repeated a (q = 3) attends to b (k = 1), the token after the first a.
        let induction = HeadStatistics.measure(pattern { q, k in q == 3 ? (k == 1 ? 1 : 0) : (k == 0 ? 1 : 0) }, ids: ids, layer: 1, head: 0)
        #expect(induction.induction == 1 && induction.duplicate == 0)
        // No repeated token: no duplicate / induction score.
        #expect(HeadStatistics.measure(pattern { _, k in k == 0 ? 1 : 0 }, ids: [1, 2, 3, 4], layer: 0, head: 0).induction == nil)
    }

    @Test("rollout rows are causal distributions; one layer of identity attention is the identity")
    func rollout() throws {
        let a = try AttentionAnalysis.analyse(TinyModels.gpt2, ids: TinyModels.sequences[0])
        let r = a.rollout()
        for (q, row) in r.enumerated() {
            #expect(abs(row.reduce(0, +) - 1) < 1e-9)
            #expect(row[(q + 1)...].allSatisfy { $0 == 0 })
        }
        let t = 3
        let eye: [Float] = (0..<t * t).map { $0 / t == $0 % t ? 1 : 0 }
        let id = AttentionAnalysis(ids: [1, 2, 3], patterns: [[eye, eye]], heads: [[]])
        #expect(id.rollout() == (0..<t).map { i in (0..<t).map { j in i == j ? 1.0 : 0.0 } })
    }

    @Test("analysis and head scores of a batch equal one-by-one", arguments: ["llama", "gpt2"])
    func batchEqualsOneByOne(_ name: String) throws {
        let model = name == "llama" ? TinyModels.llama : TinyModels.gpt2
        let batched = try AttentionAnalysis.analyse(model, sequences: TinyModels.sequences)
        for (b, s) in TinyModels.sequences.enumerated() {
            let alone = try AttentionAnalysis.analyse(model, ids: s)
            expectAllClose(batched[b].patterns.flatMap { $0.flatMap { $0.map(Double.init) } },
                           alone.patterns.flatMap { $0.flatMap { $0.map(Double.init) } }, atol: 1e-5, "\(name) patterns seq \(b)")
        }
        let seqs = try RepeatedTokens.generate(count: 3, length: 8, range: 0..<96, prefix: [0], seed: 1)
        let together = try HeadScores.measure(model, on: seqs)
        var mean = Array(repeating: Array(repeating: 0.0, count: model.dimensions.heads), count: model.dimensions.layers)
        for s in seqs {
            let one = try HeadScores.measure(model, on: [s])
            for l in mean.indices { for h in mean[l].indices { mean[l][h] += one.scores[.induction]![l][h] / 3 } }
        }
        expectAllClose(together.scores[.induction]!.flatMap { $0 }, mean.flatMap { $0 }, atol: 1e-6, "\(name) induction batch vs mean")
    }

    @Test("repeated tokens are seeded and validated")
    func repeatedTokens() throws {
        let a = try RepeatedTokens.generate(count: 2, length: 5, range: 10..<20, prefix: [0], seed: 4)
        let b = try RepeatedTokens.generate(count: 2, length: 5, range: 10..<20, prefix: [0], seed: 4)
        #expect(a == b)
        #expect(a[0].ids.count == 11 && a[0].ids[1...5] == a[0].ids[6...10])
        #expect(a[0].ids.dropFirst().allSatisfy { (10..<20).contains($0) })
        #expect(throws: LensAttentionError.self) { try RepeatedTokens.generate(count: 0, length: 5, range: 0..<9, prefix: [], seed: 0) }
    }
}

@Suite("Direct logit attribution")
struct DirectLogitAttributionTests {
    @Test("components sum to the logit difference (tiny Llama and GPT-2)", arguments: ["llama", "gpt2"])
    func sumsToTotal(_ name: String) throws {
        let model = name == "llama" ? TinyModels.llama : TinyModels.gpt2
        let ids = TinyModels.sequences[1]
        let d = try DirectLogitAttribution.compute(model, ids: ids, answer: 7, wrong: 13)
        let dims = model.dimensions
        #expect(d.components.filter { $0.kind == .head }.count == dims.layers * dims.heads)
        #expect(d.components.filter { $0.kind == .mlp }.count == dims.layers)
        #expect(d.residualError < 1e-4 * max(1, abs(d.total)), "\(name): sum \(d.sum) vs total \(d.total)")
        // The total is the model's own logit difference.
        let logits = try model(TokenBatch(ids)).logits!.select(axis: 0, 0).select(axis: 0, ids.count - 1)
        #expect(abs(d.total - Double(logits[7] - logits[13])) < 1e-5)
        // A single logit too, and at an earlier position.
        let single = try DirectLogitAttribution.compute(model, ids: ids, answer: 7, position: 4)
        let row = try model(TokenBatch(ids)).logits!.select(axis: 0, 0).select(axis: 0, 4)
        #expect(abs(single.sum - Double(row[7])) < 1e-4 * max(1, abs(Double(row[7]))))
        if name == "gpt2" {
            #expect(d.components.contains { $0.kind == .posEmbed } && d.components.contains { $0.kind == .normBias }
                    && d.components.contains { $0.kind == .attnBias })
        }
    }

    @Test("DLA of a batch equals one-by-one")
    func batch() throws {
        let seqs = TinyModels.sequences
        let together = try DirectLogitAttribution.compute(TinyModels.llama, sequences: seqs, answers: [1, 2], wrongs: [3, 4])
        for b in 0..<2 {
            let alone = try DirectLogitAttribution.compute(TinyModels.llama, ids: seqs[b], answer: [1, 2][b], wrong: [3, 4][b])
            expectAllClose(together[b].components.map(\.value), alone.components.map(\.value), atol: 1e-5, "seq \(b)")
        }
    }

    @Test("DLA on SmolLM2: ' Paris' − ' London' sums to the logit difference", .enabled(if: MethodModels.hasSmol, MethodModels.skipSmol))
    func smol() throws {
        let m = try #require(MethodModels.smolLM2)
        let ref = try MethodFixtures.json(MethodFixtures.models("prompt_france.json"))
        let ids = try #require(ref["ids"] as? [Int])
        let d = try DirectLogitAttribution.compute(m.model, ids: ids, answer: 7042, wrong: 4528)
        let top = try #require(ref["final_top10_last_pos"] as? [[String: Any]])
        let paris = try #require((top[0]["logit"] as? NSNumber)?.doubleValue), london = try #require((top[2]["logit"] as? NSNumber)?.doubleValue)
        #expect(abs(d.total - (paris - london)) < 5e-3, "total \(d.total) vs reference \(paris - london)")
        #expect(d.residualError < 1e-3, "sum \(d.sum) vs total \(d.total)")
        print("dla France: total \(d.total), sum \(d.sum), reference \(paris - london)")
    }
}
