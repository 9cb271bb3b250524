import Foundation
import Testing
import GlassboxMethods
import GlassboxModels
import GlassboxTensor

extension TinyLlama {
    static let prompts: [[Int]] = [[5, 17, 33, 8], [40, 2, 71], [9, 9, 60, 12, 88, 3], [14], [77, 31, 31, 6, 50]]
}

private func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

private func randomDirection(_ d: Int, seed: UInt64) -> [Float] {
    var rng = SeededGenerator(seed: seed)
    return (0..<d).map { _ in rng.nextNormal() }
}

struct SteeringTests {
    @Test func zeroSteeringVectorChangesNothing() throws {
        let model = TinyLlama.model
        let zero = SteeringVector(layer: 1, vector: [Float](repeating: 0, count: model.dimensions.dModel))
        let hooks = SteeringIntervention.add(zero, coefficient: 7).hooks(layers: model.dimensions.layers)
        for p in TinyLlama.prompts {
            let plain = try model(TokenBatch(p)).logits!.scalars
            let steered = try model.runWithHooks(TokenBatch(p), hooks: hooks).logits!.scalars
            #expect(plain == steered, "zero vector changed the logits of \(p)")
            let g = try SteeredGeneration.run(model, prompt: p, intervention: .add(zero, coefficient: 7), maxTokens: 10)
            #expect(g.steered == g.unsteered)
        }
        // Ablating the zero direction is no edit either.
        let ablated = try SteeredGeneration.run(model, prompt: TinyLlama.prompts[0], intervention: .ablate(direction: zero.vector), maxTokens: 10)
        #expect(ablated.steered == ablated.unsteered)
    }

    @Test func additionAddsTheScaledVectorAtItsHookPoint() throws {
        let model = TinyLlama.model
        let v = SteeringVector(layer: 1, vector: randomDirection(model.dimensions.dModel, seed: 3))
        let name = HookName.residPre(1)
        let batch = TokenBatch(TinyLlama.prompts[2])
        let plain = try model.runWithCache(batch, names: [name]).cache[name]!.scalars
        let (out, cache) = try model.runWithCache(batch, names: [name], hooks: SteeringIntervention.add(v, coefficient: 2.5).hooks(layers: 2))
        let edited = cache[name]!.scalars
        let d = v.vector.count
        let expected = plain.enumerated().map { $0.element + 2.5 * v.vector[$0.offset % d] }
        #expect(maxAbsDifference(edited, expected) < 1e-5)
        #expect(maxAbsDifference(out.logits!.scalars, try model(batch).logits!.scalars) > 1e-3, "a non-zero vector must change the logits")
    }

    @Test func directionalAblationRemovesTheComponentEverywhere() throws {
        let model = TinyLlama.model
        let layers = model.dimensions.layers, d = model.dimensions.dModel
        let direction = randomDirection(d, seed: 11)
        let norm = direction.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        let unit = direction.map { Double($0) / norm }
        let names = Set((0..<layers).flatMap { [HookName.residPre($0), HookName.residMid($0), HookName.residPost($0)] })
        let batch = TokenBatch(sequences: TinyLlama.prompts, padding: .right)
        let plain = try model.runWithCache(batch, names: names).cache
        let ablated = try model.runWithCache(batch, names: names, hooks: SteeringIntervention.ablate(direction: direction).hooks(layers: layers)).cache
        func projections(_ t: Tensor) -> [Double] {
            let s = t.scalars
            return stride(from: 0, to: s.count, by: d).map { row in (0..<d).reduce(0) { $0 + Double(s[row + $1]) * unit[$1] } }
        }
        for name in names.sorted() {
            let before = projections(plain[name]!).map(abs).max()!
            let after = projections(ablated[name]!).map(abs).max()!
            #expect(before > 1e-2, "\(name): the random direction should have a component before ablation (\(before))")
            #expect(after < 1e-4, "\(name): |x·r̂| = \(after) after ablation")
        }
    }

    @Test func differenceOfMeansEqualsMeanOfOneByOneActivations() throws {
        let model = TinyLlama.model
        let positive = Array(TinyLlama.prompts[0..<3]), negative = Array(TinyLlama.prompts[3...])
        let v = try SteeringVector.differenceOfMeans(model, positive: positive, negative: negative, layer: 1)
        func last(_ p: [Int]) throws -> [Float] {
            let t = try model.runWithCache(TokenBatch(p), names: [HookName.residPre(1)]).cache[HookName.residPre(1)]!
            return t.select(axis: 0, 0).select(axis: 0, p.count - 1).scalars
        }
        let d = model.dimensions.dModel
        var expected = [Double](repeating: 0, count: d)
        for p in positive { let a = try last(p); for j in 0..<d { expected[j] += Double(a[j]) / Double(positive.count) } }
        for p in negative { let a = try last(p); for j in 0..<d { expected[j] -= Double(a[j]) / Double(negative.count) } }
        #expect(maxAbsDifference(v.vector, expected.map(Float.init)) < 1e-5)
        #expect(v.positiveCount == 3 && v.negativeCount == 2 && v.hookName == "blocks.1.hook_resid_pre")
        #expect(throws: SteeringProbeError.self) { try SteeringVector.differenceOfMeans(model, positive: positive, negative: negative, layer: 2) }
    }

    @Test func steeredLogProbsMatchAFullForward() throws {
        let model = TinyLlama.model
        let lp = try SteeredLogProbs.logProbs(model, prompts: TinyLlama.prompts, tokens: [0, 7, 95], batchSize: 2)
        for (i, p) in TinyLlama.prompts.enumerated() {
            let row = try model(TokenBatch(p)).logits!.select(axis: 0, 0).select(axis: 0, p.count - 1).logSoftmax().scalars
            expectAllClose(lp[i], [0, 7, 95].map { Double(row[$0]) }, atol: 1e-5, "log-probs of prompt \(i)")
        }
    }

    @Test func refusalScoreIsTheLogOddsOfThePhrases() throws {
        let model = TinyLlama.model
        let phrases = [[3, 4], [5], [4, 9, 1]]
        let scores = try RefusalScore.scores(model, prompts: TinyLlama.prompts, phrases: phrases, batchSize: 4)
        for (i, p) in TinyLlama.prompts.enumerated() {
            var total = 0.0
            for s in phrases {
                var logp = 0.0
                for k in 0..<s.count {
                    let ids = p + s[..<k]
                    let row = try model(TokenBatch(ids)).logits!.select(axis: 0, 0).select(axis: 0, ids.count - 1).logSoftmax().scalars
                    logp += Double(row[s[k]])
                }
                total += Foundation.exp(logp)
            }
            #expect(abs(scores[i] - Foundation.log(total / (1 - total))) < 1e-4, "prompt \(i): \(scores[i]) vs \(Foundation.log(total / (1 - total)))")
        }
        #expect(throws: SteeringProbeError.self) { try RefusalScore.scores(model, prompts: TinyLlama.prompts, phrases: [[3], [3, 4]]) }
        #expect(RefusalScore.isRefusal("I'm sorry, but I can't help with that.") && !RefusalScore.isRefusal("Sure! Here is a poem."))
    }

    @Test func spearmanCorrelationOnKnownSamples() {
        #expect(spearmanCorrelation([1, 2, 3, 4], [10, 20, 25, 100]) == 1)
        #expect(spearmanCorrelation([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
        // Ranks of b with a tie: [1, 2.5, 2.5, 4]; Pearson with [1, 2, 3, 4] = 4.5 / sqrt(5 · 4.5).
        #expect(abs(spearmanCorrelation([1, 2, 3, 4], [1, 5, 5, 9]) - 4.5 / (5 * 4.5).squareRoot()) < 1e-12)
        #expect(spearmanCorrelation([1, 2, 3], [2, 2, 2]).isNaN)
    }
}

struct ProbeTests {
    /// Two Gaussian blobs in 12 dimensions separated along a random direction with a margin.
    static func separable(count: Int, seed: UInt64) -> (ProbeFeatures, [Bool]) {
        var rng = SeededGenerator(seed: seed)
        let w = (0..<12).map { _ in rng.nextNormal() }
        let wn = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var rows: ProbeFeatures = [], labels: [Bool] = []
        while rows.count < count {
            let x = (0..<12).map { _ in rng.nextNormal() * 2 }
            let margin = zip(w, x).reduce(0) { $0 + $1.0 * $1.1 } / wn
            guard abs(margin) > 0.5 else { continue }
            rows.append(x.map { $0 + 3 })   // an offset, so the bias matters
            labels.append(margin > 0)
        }
        return (rows, labels)
    }

    @Test func logisticRegressionSeparatesALinearlySeparableSet() throws {
        let (x, y) = Self.separable(count: 300, seed: 1)
        let (train, test) = ProbeSweep.split(count: x.count, testFraction: 0.3, seed: 2)
        let probe = try LogisticProbe.train(train.map { x[$0] }, train.map { y[$0] }, l2: 1e-4, seed: 0, maxIterations: 500)
        #expect(probe.accuracy(train.map { x[$0] }, train.map { y[$0] }) == 1)
        #expect(probe.accuracy(test.map { x[$0] }, test.map { y[$0] }) == 1)
        // The objective is convex: another starting seed reaches the same probe.
        let other = try LogisticProbe.train(train.map { x[$0] }, train.map { y[$0] }, l2: 1e-2, seed: 9)
        let again = try LogisticProbe.train(train.map { x[$0] }, train.map { y[$0] }, l2: 1e-2, seed: 0)
        expectAllClose(other.weights, again.weights, atol: 1e-3, "weights from two starting points")
        #expect(abs(other.loss - again.loss) < 1e-7)
    }

    @Test func logisticProbeGradientVanishesAtTheOptimum() throws {
        let (x, y) = Self.separable(count: 80, seed: 4)
        let l2 = 0.1
        let p = try LogisticProbe.train(x, y, l2: l2, seed: 0, maxIterations: 1000, tolerance: 1e-12)
        // ∂/∂w_j [mean cross-entropy + λ/2 ‖w‖²] on the standardised features.
        var g = p.weights.map { l2 * $0 }
        var gb = 0.0
        for (xi, yi) in zip(x, y) {
            let r = p.probability(xi) - (yi ? 1 : 0)
            let s = p.standardizer.apply(xi)
            for j in 0..<g.count { g[j] += r * s[j] / Double(x.count) }
            gb += r / Double(x.count)
        }
        #expect((g.map { $0 * $0 }.reduce(0, +) + gb * gb).squareRoot() < 1e-5)
    }

    @Test func massMeanDirectionIsTheDifferenceOfMeans() throws {
        let rows: ProbeFeatures = [[1, 2, 0], [3, 2, 2], [0, 0, 1], [-2, 4, 1], [1, 1, 1]]
        let labels = [true, true, false, false, false]
        let probe = try MassMeanProbe(rows, labels)
        // μ₊ = (2, 2, 1), μ₋ = (−1/3, 5/3, 1).
        expectAllClose(probe.direction, [7.0 / 3, 1.0 / 3, 0], atol: 1e-12, "mass-mean direction")
        // threshold = θ·(μ₊ + μ₋)/2 = (7/3)(5/6) + (1/3)(11/6) + 0.
        #expect(abs(probe.threshold - (35.0 / 18 + 11.0 / 18)) < 1e-12)
        // score(x) = θ·x − threshold: (7/3)·1 + (1/3)·2 − 46/18 for the first row.
        #expect(abs(probe.score(rows[0]) - (7.0 / 3 + 2.0 / 3 - 46.0 / 18)) < 1e-12)
        #expect(probe.predict(rows[1]) && !probe.predict(rows[2]))
        #expect(throws: SteeringProbeError.self) { try MassMeanProbe(rows, [true, true, true, true, true]) }
    }

    @Test func batchedActivationsEqualOneByOne() throws {
        let model = TinyLlama.model
        for readout in TokenReadout.allCases {
            let batched = try ResidualActivations.collect(model, prompts: TinyLlama.prompts, readout: readout, batchSize: 4)
            let single = try ResidualActivations.collect(model, prompts: TinyLlama.prompts, readout: readout, batchSize: 1)
            #expect(batched.indices == [0, 1, 2])
            for r in batched.indices {
                for i in TinyLlama.prompts.indices {
                    #expect(maxAbsDifference(batched[r][i], single[r][i]) < 1e-4, "\(readout) r=\(r) prompt \(i)")
                }
            }
        }
        // The last-token readout is the activation at the last position.
        let r2 = try model.runWithCache(TokenBatch(TinyLlama.prompts[2]), names: [HookName.resid(2)]).cache.resid(2)!
        let acts = try ResidualActivations.collect(model, prompts: [TinyLlama.prompts[2]], indices: [2])
        #expect(maxAbsDifference(acts[2][0], r2.select(axis: 0, 0).select(axis: 0, 5).scalars) == 0)
    }

    @Test func controlLabelsAreOnePerItemAndSelectivityIsTheirGap() throws {
        let items = ["a", "b", "a", "c", "b", "a", "d", "e", "f", "g"]
        let control = ProbeSweep.controlLabels(items: items, seed: 5)
        for (i, it) in items.enumerated() { for (j, jt) in items.enumerated() where it == jt { #expect(control[i] == control[j]) } }
        #expect(control == ProbeSweep.controlLabels(items: items, seed: 5))
        let (x, y) = Self.separable(count: 60, seed: 7)
        let acts = ResidualActivations(indices: [0], values: [0: x], dModel: 12)
        let sweep = try ProbeSweep.run(acts, labels: y, items: (0..<60).map { "item\($0 % 20)" }, testFraction: 0.25, seed: 3)
        let l = try #require(sweep.layers.first)
        #expect(sweep.trainCount == 45 && sweep.testCount == 15)
        #expect(l.logistic == 1 && l.massMean > 0.8)
        #expect(abs(l.selectivity - (l.logistic - l.control)) < 1e-12)
    }

    @Test func csvParsingAndErrors() throws {
        let d = try ProbeDataset.parse(csv: "statement,label,item\n\"A, quoted \"\"one\"\"\",true,x\nB,0,y\n\nC,1,x\n", source: "t.csv")
        #expect(d.statements == ["A, quoted \"one\"", "B", "C"])
        #expect(d.labels == [true, false, true] && d.items == ["x", "y", "x"])
        #expect(throws: SteeringProbeError.invalidData(source: "t.csv", line: 3, problem: "label 'maybe' is not true/false or 1/0")) {
            try ProbeDataset.parse(csv: "statement,label\nA,true\nB,maybe\n", source: "t.csv")
        }
        #expect(throws: SteeringProbeError.self) { try ProbeDataset.parse(csv: "text,label\nA,true\n", source: "t.csv") }
        #expect(throws: SteeringProbeError.self) { try ProbeDataset.parse(csv: "statement,label\nA,true\nB,true\n", source: "t.csv") }
    }

    @Test(.enabled(if: MethodModels.hasSmol, MethodModels.skipSmol))
    func smolZeroVectorChangesNothingAndLoveSteeringRaisesPositiveWords() throws {
        let m = try #require(MethodModels.smolLM2)
        let prompt = try m.encode("I think that you are")
        let zero = SteeringVector(layer: 6, vector: [Float](repeating: 0, count: m.model.dimensions.dModel))
        let g = try SteeredGeneration.run(m.model, prompt: prompt, intervention: .add(zero, coefficient: 5), maxTokens: 6)
        #expect(g.steered == g.unsteered)
        let v = try SteeringVector.differenceOfMeans(m.model, positive: [try m.encode("I love this."), try m.encode("You are wonderful.")],
                                                     negative: [try m.encode("I hate this."), try m.encode("You are awful.")], layer: 6)
        let words = [" great", " wonderful", " kind", " terrible", " awful", " rude"].map { m.tokenizer!.encode($0) }
        #expect(words.allSatisfy { $0.count == 1 })
        let layers = m.model.dimensions.layers
        func sentiment(_ c: Float) throws -> Double {
            let lp = try SteeredLogProbs.logProbs(m.model, prompts: [prompt], tokens: words.map { $0[0] },
                                                  hooks: SteeringIntervention.add(v, coefficient: c).hooks(layers: layers))[0]
            return (lp[0] + lp[1] + lp[2] - lp[3] - lp[4] - lp[5]) / 3
        }
        let (minus, none, plus) = (try sentiment(-4), try sentiment(0), try sentiment(4))
        #expect(minus < none && none < plus, "positive − negative log-probs at c = −4, 0, 4: \(minus), \(none), \(plus)")
    }
}
