import Foundation
import Testing
import GlassboxMethods
import GlassboxModels
import GlassboxTensor

extension TinyLlama {
    static let clean = [5, 17, 33, 8, 41, 17, 60, 2, 9]
    static let corrupt = [5, 17, 33, 8, 41, 33, 60, 2, 9]   // position 5 differs
    static let metric = PatchMetric.logitDifference(answer: 17, wrong: 33)
}

@Suite("Activation patching") struct ActivationPatchingTests {
    @Test("patching clean into clean changes nothing", arguments: PatchSite.allCases)
    func cleanIntoClean(site: PatchSite) throws {
        let p = try ActivationPatching(model: TinyLlama.model, clean: TinyLlama.clean, corrupt: TinyLlama.clean, metric: TinyLlama.metric)
        for positions in PatchPositions.allCases {
            let r = try p.run(site: site, positions: positions)
            #expect(r.clean == r.corrupt)
            expectAllClose(r.grid.flatMap { $0 }, [Double](repeating: r.clean, count: r.grid.flatMap { $0 }.count), atol: 1e-4,
                           "\(site) \(positions) clean into clean")
        }
    }

    @Test("batched sweep (shared prefix) equals one full forward per cell", arguments: [PatchSite.residPre, .attnOut, .mlpOut, .heads])
    func batchEqualsOneByOne(site: PatchSite) throws {
        let batched = try ActivationPatching(model: TinyLlama.model, clean: TinyLlama.clean, corrupt: TinyLlama.corrupt, metric: TinyLlama.metric)
        var single = try ActivationPatching(model: TinyLlama.model, clean: TinyLlama.clean, corrupt: TinyLlama.corrupt, metric: TinyLlama.metric, batchSize: 1)
        single.reusePrefix = false      // the plain loop: every copy runs the whole prompt
        #expect(batched.batchSize > 1 && batched.reusePrefix)
        for positions in PatchPositions.allCases {
            let a = try batched.run(site: site, positions: positions), b = try single.run(site: site, positions: positions)
            #expect(a.rows == b.rows && a.columns == b.columns)
            expectAllClose(a.grid.flatMap { $0 }, b.grid.flatMap { $0 }, atol: 1e-4, "\(site) \(positions) batched vs one by one")
        }
    }

    @Test("resid_pre of layer 0 at the differing token restores the clean run; elsewhere it changes nothing")
    func embeddingLayer() throws {
        let p = try ActivationPatching(model: TinyLlama.model, clean: TinyLlama.clean, corrupt: TinyLlama.corrupt, metric: TinyLlama.metric)
        let r = try p.run(site: .residPre, layers: [0])
        #expect(abs(r.clean - r.corrupt) > 0.1, "the pair must differ for this test to mean something")
        for (pos, v) in r.grid[0].enumerated() {
            let expected = pos == 5 ? r.clean : r.corrupt
            #expect(abs(v - expected) < 1e-4, "position \(pos): \(v) vs \(expected)")
        }
        let n = r.normalizedGrid[0]
        #expect(abs(n[5] - 1) < 1e-4 && abs(n[0]) < 1e-4)
    }

    @Test("patching every position of the last residual stream gives the clean metric", arguments: [PatchMetric.probability(answer: 17), .klDivergence, TinyLlama.metric])
    func lastResidual(metric: PatchMetric) throws {
        let p = try ActivationPatching(model: TinyLlama.model, clean: TinyLlama.clean, corrupt: TinyLlama.corrupt, metric: metric)
        let r = try p.run(site: .residPost, positions: .all, layers: [1])
        #expect(abs(r.grid[0][0] - r.clean) < 1e-4)
        if metric == .klDivergence { #expect(abs(r.clean) < 1e-6 && r.corrupt > 0) }
    }

    @Test("mismatched prompt lengths and bad token ids are clear errors")
    func errors() {
        #expect(throws: PatchingError.self) { try ActivationPatching(model: TinyLlama.model, clean: [1, 2, 3], corrupt: [1, 2], metric: TinyLlama.metric) }
        #expect(throws: PatchingError.self) { try ActivationPatching(model: TinyLlama.model, clean: [1, 2], corrupt: [1, 3], metric: .probability(answer: 500)) }
        #expect(throws: PatchingError.self) {
            try ActivationPatching(model: TinyLlama.model, clean: [1, 2], corrupt: [1, 3], metric: TinyLlama.metric).run(site: .residPre, layers: [7])
        }
    }

    @Test("IOI resid_pre grid matches the transformers reference within 1e-2", .enabled(if: MethodModels.hasSmol, MethodModels.skipSmol))
    func ioiReference() throws {
        let ref = try MethodFixtures.json(MethodFixtures.methods("patching_ioi.json"))
        let clean = try #require((ref["clean"] as? [String: Any])?["ids"] as? [Int])
        let corrupt = try #require((ref["corrupt"] as? [String: Any])?["ids"] as? [Int])
        let answer = try #require((ref["answer"] as? [String: Any])?["id"] as? Int)
        let wrong = try #require((ref["wrong"] as? [String: Any])?["id"] as? Int)
        let model = try #require(MethodModels.smolLM2).model
        let r = try ActivationPatching(model: model, clean: clean, corrupt: corrupt, metric: .logitDifference(answer: answer, wrong: wrong))
            .run(site: .residPre)
        expectAllClose([r.clean, r.corrupt], [try #require(ref["ld_clean"] as? Double), try #require(ref["ld_corrupt"] as? Double)], atol: 1e-2, "clean/corrupt logit difference")
        let expected = flatNumbers(ref["ld_patched[layer][pos]"])
        expectAllClose(r.grid.flatMap { $0 }, expected, atol: 1e-2, "IOI resid_pre grid")
        let worst = zip(r.grid.flatMap { $0 }, expected).map { abs($0 - $1) }.max() ?? .nan
        print("IOI resid_pre grid: max |diff| vs transformers reference = \(worst)")
    }
}

@Suite("Attribution patching") struct AttributionPatchingTests {
    @Test("equals exact patching where the metric is linear in the activation", arguments: [TinyLlama.metric, .linear(weights: (0..<96).map { Float($0 % 7) - 3 })])
    func exactWhenLinear(metric: PatchMetric) throws {
        // The logits are linear in the final normalized residual stream, so both metrics are linear there.
        let cells = (0..<TinyLlama.clean.count).map { PatchCell(row: 0, column: $0, hook: HookName.finalNormalized, positions: [$0], head: nil) }
            + [PatchCell(row: 1, column: 0, hook: HookName.finalNormalized, positions: nil, head: nil)]
        let exact = try ActivationPatching(model: TinyLlama.model, clean: TinyLlama.clean, corrupt: TinyLlama.corrupt, metric: metric).run(cells: cells)
        let estimate = try AttributionPatching(model: TinyLlama.model, clean: TinyLlama.clean, corrupt: TinyLlama.corrupt, metric: metric).run(cells: cells)
        #expect(abs(exact.patched.last! - exact.clean) < 1e-4)
        expectAllClose(estimate.patched, exact.patched, atol: 1e-4, "attribution vs exact on a linear site")
    }

    @Test("positions before the differing token get no estimated effect; the differing token gets one")
    func unchangedPositions() throws {
        let estimate = try AttributionPatching(model: TinyLlama.model, clean: TinyLlama.clean, corrupt: TinyLlama.corrupt, metric: TinyLlama.metric)
            .run(site: .residPre)
        // Positions before the differing token carry identical activations: zero estimated effect.
        for l in 0..<2 { for p in 0..<5 { #expect(abs(estimate.grid[l][p] - estimate.corrupt) < 1e-6) } }
        // After the differing token the activations differ, so some estimate moves.
        #expect(estimate.grid[0][5] != estimate.corrupt)
    }

    @Test("correlation with exact patching on the IOI pair (SmolLM2)", .enabled(if: MethodModels.hasSmol, MethodModels.skipSmol))
    func correlationSmol() throws {
        let clean = try MethodFixtures.json(MethodFixtures.models("prompt_ioi_clean.json"))["ids"] as? [Int]
        let corrupt = try MethodFixtures.json(MethodFixtures.models("prompt_ioi_corrupt.json"))["ids"] as? [Int]
        let model = try #require(MethodModels.smolLM2).model
        let layers = Array(stride(from: 0, to: 30, by: 3))
        let metric = PatchMetric.logitDifference(answer: 5099, wrong: 2322)
        let exact = try ActivationPatching(model: model, clean: try #require(clean), corrupt: try #require(corrupt), metric: metric).run(site: .residPre, layers: layers)
        let estimate = try AttributionPatching(model: model, clean: clean!, corrupt: corrupt!, metric: metric).run(site: .residPre, layers: layers)
        let r = estimate.correlation(with: exact)
        print("attribution vs exact resid_pre patching on SmolLM2 IOI (layers \(layers)): Pearson r = \(r)")
        #expect(r > 0.5)
        #expect(estimate.clean == exact.clean && estimate.corrupt == exact.corrupt)
    }
}

@Suite("Causal tracing") struct CausalTracingTests {
    let ids = [5, 17, 33, 8, 41, 17, 60, 2, 9]
    let subject = 2..<4

    @Test("without noise every restoration gives the clean probability")
    func zeroNoise() throws {
        let r = try CausalTracing(model: TinyLlama.model, noiseStd: 0, samples: 2, window: 2).run(ids: ids, subject: subject, answer: 17, kind: .mlp)
        expectAllClose(r.grid.flatMap { $0 }, [Double](repeating: r.clean, count: r.grid.count * ids.count), atol: 1e-5, "zero-noise trace")
    }

    @Test("restoring the last hidden state at the last token restores the clean probability; before the subject nothing changes")
    func noise() throws {
        let tracer = try CausalTracing(model: TinyLlama.model, noiseStd: 2, samples: 3, seed: 7)
        let r = try tracer.run(ids: ids, subject: subject, answer: 17, kind: .hidden)
        #expect(abs(r.clean - r.corrupt) > 1e-3, "the noise must change the prediction for this test to mean something")
        #expect(abs(r.grid[1][ids.count - 1] - r.clean) < 1e-5)
        for l in 0..<2 { for p in 0..<subject.lowerBound { #expect(r.indirectEffect[l][p] == 0) } }
        // Restoring some state must move the probability.
        #expect(r.indirectEffect.flatMap { $0 }.contains { abs($0) > 1e-6 })
        // Same seed, same numbers; batching does not matter.
        var small = tracer; small.batchSize = 1
        let again = try small.run(ids: ids, subject: subject, answer: 17, kind: .hidden)
        expectAllClose(again.grid.flatMap { $0 }, r.grid.flatMap { $0 }, atol: 1e-5, "trace batched vs one by one")
    }

    @Test("tracing chosen positions gives the full trace's values there")
    func chosenPositions() throws {
        let tracer = try CausalTracing(model: TinyLlama.model, noiseStd: 2, samples: 2, window: 2, seed: 1)
        let full = try tracer.run(ids: ids, subject: subject, answer: 17, kind: .mlp)
        let some = try tracer.run(ids: ids, subject: subject, answer: 17, kind: .mlp, positions: [3, 8])
        for l in 0..<2 {
            for p in 0..<ids.count {
                if p == 3 || p == 8 || p < subject.lowerBound { #expect(abs(some.grid[l][p] - full.grid[l][p]) < 1e-5) }
                else { #expect(some.grid[l][p].isNaN) }
            }
        }
    }

    @Test("window layers follow the paper's code")
    func window() throws {
        let t = try CausalTracing(model: TinyLlama.model, noiseStd: 1, window: 10)
        #expect(t.windowLayers(0) == [0, 1])
        #expect(CausalTracing.locate([33, 8], in: ids) == 2..<4)
        #expect(CausalTracing.locate([99], in: ids) == nil)
    }
}

@Suite("Ablations") struct AblationTests {
    let ids = [5, 17, 33, 8, 41, 17, 60, 2, 9]

    @Test("zero ablation equals scaling the activation by zero; components parse")
    func zero() throws {
        let comps = [AblationComponent.mlp(layer: 1), .head(layer: 0, head: 2), .neuron(layer: 1, index: 7)]
        let r = try Ablation(model: TinyLlama.model, metric: TinyLlama.metric).run(ids: ids, components: comps, mode: .zero)
        #expect(r.rows.map(\.component) == ["mlp1", "0.2", "1:7", "all"])
        let logits = try TinyLlama.model.runWithHooks(TokenBatch(ids), hooks: Hooks(HookName.mlpOut(1)) { $0 * 0 }).logits!
        let last = logits.select(axis: 0, 0).select(axis: 0, ids.count - 1).scalars
        #expect(abs(r.rows[0].value - Double(last[17] - last[33])) < 1e-4)
        var headHooks = Hooks(); headHooks.ablateHeads(HookName.z(0), [2])
        let l2 = try TinyLlama.model.runWithHooks(TokenBatch(ids), hooks: headHooks).logits!.select(axis: 0, 0).select(axis: 0, ids.count - 1).scalars
        #expect(abs(r.rows[1].value - Double(l2[17] - l2[33])) < 1e-4)
        #expect(try AblationComponent(parsing: "3.4") == .head(layer: 3, head: 4))
        #expect(try AblationComponent(parsing: "mlp5") == .mlp(layer: 5))
        #expect(try AblationComponent(parsing: "2:11") == .neuron(layer: 2, index: 11))
        #expect(throws: PatchingError.self) { try AblationComponent(parsing: "x.y") }
    }

    @Test("resampling from the prompt itself changes nothing; mean ablation over the prompt itself equals its position mean")
    func resampleAndMean() throws {
        let a = try Ablation(model: TinyLlama.model, metric: TinyLlama.metric)
        let r = try a.run(ids: ids, components: [.mlp(layer: 0), .head(layer: 1, head: 0)], mode: .resample, reference: [[1, 2], ids])
        #expect(r.resampledReference == 1)
        for row in r.rows { #expect(abs(row.change) < 1e-4) }
        let m = try a.run(ids: ids, components: [.mlp(layer: 0)], mode: .mean, reference: [ids])
        let mean = try TinyLlama.model.runWithCache(TokenBatch(ids), names: [HookName.mlpOut(0)]).cache[HookName.mlpOut(0)]!.mean(axes: [0, 1], keepingDimensions: true)
        let l = try TinyLlama.model.runWithHooks(TokenBatch(ids), hooks: Hooks(HookName.mlpOut(0)) { $0 * 0 + mean }).logits!
            .select(axis: 0, 0).select(axis: 0, ids.count - 1).scalars
        #expect(abs(m.rows[0].value - Double(l[17] - l[33])) < 1e-4)
        #expect(throws: PatchingError.self) { try a.run(ids: ids, components: [.mlp(layer: 0)], mode: .resample, reference: [[1]]) }
    }
}

@Suite("IOI prompts") struct IOIPromptTests {
    @Test("seeded, two distinct names, the corrupted prompt swaps S2 for IO")
    func generator() {
        let g = IOIGenerator()
        let a = g.prompts(count: 20, seed: 3), b = g.prompts(count: 20, seed: 3)
        #expect(a == b)
        #expect(a != g.prompts(count: 20, seed: 4))
        for p in a {
            #expect(p.indirectObject != p.subject)
            let io = String(p.indirectObject.dropFirst()), s = String(p.subject.dropFirst())
            #expect(p.clean.hasSuffix(" to"))
            #expect(p.clean.components(separatedBy: s).count == 3 && p.clean.components(separatedBy: io).count == 2)
            #expect(p.corrupt.components(separatedBy: io).count == 3 && p.corrupt.components(separatedBy: s).count == 2)
        }
    }
}
