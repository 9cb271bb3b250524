import Foundation
import Testing
@testable import GlassboxModels
import GlassboxTensor

/// Hook identities, batching, gradients and the KV cache on small models: the tiny GPT-2
/// checkpoint and inline-config random Llamas (grouped-query and plain).
struct HookTests {
    static let gqaLlama = LlamaModel.random(LlamaConfiguration(hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
                                                               numAttentionHeads: 4, numKeyValueHeads: 2, vocabSize: 40,
                                                               rmsNormEps: 1e-6, ropeTheta: 10000, tieWordEmbeddings: true), seed: 7)
    static let mhaLlama = LlamaModel.random(LlamaConfiguration(hiddenSize: 24, intermediateSize: 40, numHiddenLayers: 3,
                                                               numAttentionHeads: 3, numKeyValueHeads: 3, vocabSize: 30), seed: 11)
    static func gpt2() throws -> GPT2Model { try GPT2Model(SafetensorsWeights(folder: Fixtures.formats("tiny/gpt2"))) }

    static func models() throws -> [(String, any TransformerModel)] {
        [("llama-gqa", gqaLlama), ("llama-mha", mhaLlama), ("gpt2", try gpt2())]
    }

    static let prompts = [[3, 9, 1, 7, 2, 11, 5], [4, 8], [12, 1, 6, 6, 2]]

    @Test(arguments: [PaddingSide.left, .right])
    func batchEqualsOneByOne(padding: PaddingSide) throws {
        for (name, model) in try Self.models() {
            let batched = try #require(try model(TokenBatch(sequences: Self.prompts, padding: padding, padID: 0)).logits)
            let batch = TokenBatch(sequences: Self.prompts, padding: padding)
            for (b, p) in Self.prompts.enumerated() {
                let alone = try #require(try model(TokenBatch(p)).logits).select(axis: 0, 0)   // [t, vocab]
                let rows = batched.select(axis: 0, b).indexSelect(batch.realPositions(b), axis: 0)
                #expect(maxAbsDiff(rows, alone) < 1e-4, "\(name) \(padding) prompt \(b): batched differs from alone by \(maxAbsDiff(rows, alone))")
            }
        }
    }

    @Test func identityHooksChangeNothingAndResidualsChain() throws {
        for (name, model) in try Self.models() {
            let input = TokenBatch(Self.prompts[0])
            let plain = try #require(try model(input).logits)
            var hooks = Hooks()
            for n in model.hookNames { hooks.add(n) { $0 } }
            let hooked = try #require(try model.runWithHooks(input, hooks: hooks).logits)
            // hook_result is computed when hooked: summing heads reproduces the fused projection.
            #expect(maxAbsDiff(plain, hooked) < 1e-4, "\(name): identity hooks moved the logits by \(maxAbsDiff(plain, hooked))")
            let (_, cache) = try model.runWithCache(input)
            #expect(Set(cache.names) == Set(model.hookNames), "\(name): cached \(cache.names.count) of \(model.hookNames.count) hook points")
            for l in 0..<(model.dimensions.layers - 1) {
                #expect(maxAbsDiff(try #require(cache[HookName.residPost(l)]), try #require(cache[HookName.residPre(l + 1)])) == 0)
            }
            for l in 0..<model.dimensions.layers {
                let summed = try #require(cache[HookName.result(l)]).sum(axes: [2])
                let attnOut = try #require(cache[HookName.attnOut(l)])
                let bias = (model as? GPT2Model)?.layers[l].bo
                #expect(maxAbsDiff(bias.map { summed + $0 } ?? summed, attnOut) < 1e-4, "\(name) layer \(l): heads do not add up to attn_out")
                let pattern = try #require(cache[HookName.pattern(l)])
                let rowSums = pattern.sum(axes: [-1])
                #expect(maxAbsDiff(rowSums, Tensor.ones(rowSums.shape)) < 1e-5)
                #expect(pattern.shape == [1, model.dimensions.heads, 7, 7])
                #expect(pattern[0, 0, 2, 5] == 0, "\(name): causal pattern attends to the future")
            }
            // The logit lens at the last residual index is the model's own output.
            let last = try #require(cache.resid(model.dimensions.layers))
            let lens = try #require(model.unembed(last))
            #expect(maxAbsDiff(lens, plain) < 1e-4)
        }
    }

    @Test func editsChangeWhatTheyShould() throws {
        let model = Self.gqaLlama
        let clean = TokenBatch([3, 9, 1, 7, 2])
        let corrupt = TokenBatch([3, 9, 4, 7, 2])
        let (cleanOut, cleanCache) = try model.runWithCache(clean)
        let corruptLogits = try #require(try model(corrupt).logits)
        // Patching every position of the residual stream at r = 1 from the clean run restores it.
        var patchAll = Hooks()
        patchAll.patchPositions(HookName.resid(1), Array(0..<5), from: try #require(cleanCache.resid(1)))
        let restored = try #require(try model.runWithHooks(corrupt, hooks: patchAll).logits)
        #expect(maxAbsDiff(restored, try #require(cleanOut.logits)) < 1e-5)
        // Patching a position after the corrupted one in layer 0's input changes nothing before it.
        var patchLate = Hooks()
        patchLate.patchPositions(HookName.resid(0), [4], from: try #require(cleanCache.resid(0)))
        let late = try #require(try model.runWithHooks(corrupt, hooks: patchLate).logits)
        #expect(maxAbsDiff(late.slice(axis: 1, 0..<4), corruptLogits.slice(axis: 1, 0..<4)) == 0)
        // Zero-ablating every head of every layer equals zeroing attn_out.
        var ablateHeads = Hooks(), zeroOut = Hooks()
        for l in 0..<2 {
            ablateHeads.ablateHeads(HookName.z(l), [0, 1, 2, 3])
            zeroOut.scale(HookName.attnOut(l), by: 0)
        }
        let a = try #require(try model.runWithHooks(clean, hooks: ablateHeads).logits)
        let b = try #require(try model.runWithHooks(clean, hooks: zeroOut).logits)
        #expect(maxAbsDiff(a, b) < 1e-5)
        // Ablating one head changes the output; the per-head result hook sees the same ablation.
        var one = Hooks()
        one.ablateHeads(HookName.z(1), [2])
        var oneResult = Hooks()
        oneResult.ablateHeads(HookName.result(1), [2])
        let c = try #require(try model.runWithHooks(clean, hooks: one).logits)
        let d = try #require(try model.runWithHooks(clean, hooks: oneResult).logits)
        #expect(maxAbsDiff(c, try #require(cleanOut.logits)) > 1e-3)
        #expect(maxAbsDiff(c, d) < 1e-5)
        // Adding a vector to the residual stream adds exactly it.
        var steer = Hooks()
        let delta = Tensor.full([32], 0.5)
        var seen: Tensor?
        steer.addTo(HookName.residPost(0), delta)
        steer.read(HookName.residPre(1)) { seen = $0 }
        _ = try model.runWithHooks(clean, hooks: steer)
        let steered = try #require(seen), base = try #require(cleanCache[HookName.residPost(0)])
        #expect(maxAbsDiff(steered, base + delta) < 1e-5, "steering: \(maxAbsDiff(steered, base + delta)) \(steered.shape) \(base.shape)")
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        let model = Self.gqaLlama
        let input = TokenBatch([3, 9, 1, 7, 2])
        let target = 5
        func score(_ out: ModelOutput) -> Tensor { out.logits!.select(axis: 1, 4).select(axis: 1, target).sum() }
        let names = [HookName.embed, HookName.residMid(1), HookName.pattern(0)]
        let (value, grads, acts) = try model.gradients(input, withRespectTo: names, of: score)
        #expect(abs(value - (try #require(try model(input).logits))[0, 4, target]) < 1e-5)
        for name in names {
            let g = try #require(grads[name]), x = try #require(acts[name])
            #expect(g.shape == x.shape)
            // Central differences in three coordinates with the largest gradients.
            let gs = g.scalars
            let order = gs.indices.sorted { abs(gs[$0]) > abs(gs[$1]) }.prefix(3)
            for i in order {
                let eps: Float = 1e-2
                func shifted(_ s: Float) throws -> Float {
                    var hooks = Hooks()
                    hooks.add(name) { t in
                        var v = t.scalars
                        v[i] += s
                        return Tensor(shape: t.shape, scalars: v)
                    }
                    return score(try model.runWithHooks(input, hooks: hooks)).item
                }
                let fd = (try shifted(eps) - (try shifted(-eps))) / (2 * eps)
                #expect(abs(fd - gs[i]) <= 2e-2 * max(1, abs(gs[i])), "\(name)[\(i)]: gradient \(gs[i]) vs finite difference \(fd)")
            }
        }
        // Positions after the scored one get no gradient (causality).
        let gEmbed = try #require(grads[HookName.embed])
        #expect(gEmbed.select(axis: 1, 4).abs().sum().item > 0)
    }

    @Test func kvCacheGenerationEqualsFullForward() throws {
        for (name, model) in try Self.models() {
            let prompt = [3, 9, 1, 7]
            let result = try model.generate(prompt: prompt, maxTokens: 6)
            #expect(result.newIDs.count == 6)
            // Each greedy id is the argmax of a fresh full forward pass over the prefix.
            var seq = prompt
            for step in result.steps {
                let logits = try #require(try model(TokenBatch(seq)).logits).select(axis: 0, 0).select(axis: 0, seq.count - 1).scalars
                #expect(Sampler.argmax(logits) == step.id, "\(name): KV-cache step differs from the full forward pass")
                #expect(abs(logits[step.id] - step.logit) < 1e-4)
                seq.append(step.id)
            }
            // Seeded sampling: same seed, same tokens; stop tokens end generation.
            let s = Sampling(temperature: 1.0, topK: 10, topP: 0.9, seed: 42)
            let a = try model.generate(prompt: prompt, maxTokens: 8, sampling: s)
            let b = try model.generate(prompt: prompt, maxTokens: 8, sampling: s)
            #expect(a == b)
            let stopID = result.newIDs[1]
            let stop = try model.generate(prompt: prompt, maxTokens: 6, stopTokens: [stopID])
            let firstStop = result.newIDs.firstIndex(of: stopID)!
            #expect(stop.stoppedAtStopToken && stop.newIDs == Array(result.newIDs.prefix(firstStop + 1)))
        }
    }

    @Test func samplerRespectsTopKAndTopP() {
        let logits: [Float] = [0, 3, 1, 2.9, -1]
        var greedy = Sampler(.greedy)
        #expect(greedy.next(logits) == 1)
        var k2 = Sampler(Sampling(temperature: 1, topK: 2, seed: 1))
        let picks = Set((0..<200).map { _ in k2.next(logits) })
        #expect(picks == [1, 3])
        var p = Sampler(Sampling(temperature: 1, topP: 0.4, seed: 1))
        #expect(Set((0..<100).map { _ in p.next(logits) }) == [1])
    }

    @Test func badInputGivesErrors() throws {
        let model = Self.gqaLlama
        #expect(throws: ModelError.tokenOutOfRange(id: 40, vocabularySize: 40)) { try model(TokenBatch([1, 40])) }
        #expect(throws: ModelError.self) { try model(TokenBatch([])) }
        #expect(throws: ModelError.self) { try model.gradients(TokenBatch([1]), withRespectTo: ["blocks.9.hook_nothing"]) { $0.logits!.sum() } }
        #expect(throws: ModelError.self) { try ModelLoader.load("no-such-model-or-path") }
        let gpt2 = try Self.gpt2()
        #expect(throws: ModelError.self) { try gpt2.generate(prompt: Array(repeating: 1, count: 60), maxTokens: 10) }
    }
}
