import Foundation
import Testing
@testable import GlassboxModels
import GlassboxFormats
import GlassboxTensor

/// The two reference models, loaded from the cache once (nil when not fetched; `make test`
/// fetches them first with `glassbox models fetch --all`).
enum ReferenceModels {
    static func cached(_ name: String) -> LoadedModel? {
        let cache = ModelCache.default
        guard let entry = ModelRegistry.entry(name), cache.isCached(entry) else { return nil }
        return try? ModelLoader.load(name, cache: cache, fetch: false)
    }
    static let smolLM2 = cached("smollm2-135m-instruct")
    static let miniLM = cached("all-minilm-l6-v2")
    static let skipSmol = "smollm2-135m-instruct is not in the model cache; run `glassbox models fetch smollm2-135m-instruct` (make test does)"
    static let skipMini = "all-minilm-l6-v2 is not in the model cache; run `glassbox models fetch all-minilm-l6-v2` (make test does)"
}

@Suite(.serialized)
struct SmolLM2Tests {
    /// Last-position logits within 2e-3 of transformers (float32 on the dequantized GGUF), same top-10 order;
    /// per-position argmax, residual norms and the first attention head too.
    @Test(.enabled(if: ReferenceModels.smolLM2 != nil, Comment(rawValue: ReferenceModels.skipSmol)),
          arguments: ["prompt_france.json", "prompt_ioi_clean.json", "prompt_ioi_corrupt.json"])
    func promptMatchesTransformers(file: String) throws {
        let m = try #require(ReferenceModels.smolLM2)
        let ref = try Fixtures.json(Fixtures.models(file))
        let text = try #require(ref["text"] as? String)
        let ids = try m.encode(text)
        #expect(ids == (ref["ids"] as? [Int]), "\(file): token ids")
        let layers = m.model.dimensions.layers
        let names = Set((0...layers).map(HookName.resid) + [HookName.pattern(0)])
        let (out, cache) = try m.model.runWithCache(TokenBatch(ids), names: names)
        let logits = try #require(out.logits).select(axis: 0, 0)                       // [t, vocab]
        let last = logits.select(axis: 0, ids.count - 1)
        let top = try #require(ref["final_top10_last_pos"] as? [[String: Any]])
        let (values, indices) = last.topK(10)
        #expect(indices == top.compactMap { $0["id"] as? Int }, "\(file): top-10 order")
        expectClose(values.scalars, top.map { flat($0["logit"])[0] }, tolerance: 2e-3, "\(file) top-10 logits")
        let stats = try #require(ref["final_logits_last_pos_stats"] as? [String: Any])
        let atIDs = try #require(stats["at_ids"] as? [String: Any])
        let probe = atIDs.keys.compactMap(Int.init).sorted()
        expectClose(probe.map { last.scalars[$0] }, probe.map { flat(atIDs[String($0)])[0] }, tolerance: 2e-3, "\(file) logits at fixed ids")
        for p in try #require(ref["per_position_top1"] as? [[String: Any]]) {
            let pos = try #require(p["pos"] as? Int)
            #expect(Sampler.argmax(logits.select(axis: 0, pos).scalars) == p["id"] as? Int, "\(file): argmax at position \(pos)")
        }
        let norms = (0...layers).map { r in cache.resid(r)!.select(axis: 0, 0).select(axis: 0, ids.count - 1).norm().item }
        let refNorms = flat(ref["resid_norm_last_pos"])
        for (r, (a, e)) in zip(norms, refNorms).enumerated() {
            #expect(abs(Double(a) - e) <= 1e-4 * e + 1e-3, "\(file): resid norm at r=\(r): \(a) vs \(e)")
        }
        let head0 = try #require(cache[HookName.pattern(0)]).select(axis: 0, 0).select(axis: 0, 0)   // [t, t]
        expectClose(head0.scalars, flat(ref["attn_layer0_head0_full"]), tolerance: 1e-4, "\(file) layer 0 head 0 attention")
    }

    /// Greedy generations equal transformers' (raw and through the chat template), compared
    /// strictly up to the first near-tied step (margin < 0.05) as generation.json says.
    @Test(.enabled(if: ReferenceModels.smolLM2 != nil, Comment(rawValue: ReferenceModels.skipSmol)))
    func greedyGenerationsMatch() throws {
        let m = try #require(ReferenceModels.smolLM2)
        let ref = try Fixtures.json(Fixtures.formats("generation.json"))
        for prompt in try #require(ref["prompts"] as? [[String: Any]]) {
            for mode in ["raw", "chat"] {
                guard let r = prompt[mode] as? [String: Any] else { continue }
                let name = "\(prompt["name"] ?? "?") \(mode)"
                let text = try #require(r["prompt_text"] as? String)
                if mode == "chat", let messages = r["messages"] as? [[String: String]] {
                    let chat = messages.map { ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "") }
                    #expect(try m.chatPrompt(messages: chat) == text, "\(name): chat template rendering")
                }
                let ids = try m.encode(text)
                #expect(ids == (r["prompt_ids"] as? [Int]), "\(name): prompt ids")
                let expected = try #require(r["new_ids"] as? [Int])
                let result = try m.model.generate(prompt: ids, maxTokens: expected.count, stopTokens: m.stopTokens)
                let strict = (r["first_step_with_margin_below_0.05"] as? Int).map { $0 + 1 } ?? expected.count
                #expect(Array(result.newIDs.prefix(strict)) == Array(expected.prefix(strict)), "\(name): greedy ids (strict through step \(strict - 1))")
                if strict == expected.count { #expect(result.newIDs == expected, "\(name): all greedy ids") }
                let steps = try #require(r["steps"] as? [[String: Any]])
                for (i, (mine, theirs)) in zip(result.steps, steps).prefix(strict).enumerated() {
                    let logit = flat(theirs["logit"])[0]
                    #expect(abs(Double(mine.logit) - logit) <= 2e-3, "\(name) step \(i): logit \(mine.logit) vs \(logit)")
                }
            }
        }
    }

    /// Batched prompts (left padding) give the one-by-one last-position logits.
    @Test(.enabled(if: ReferenceModels.smolLM2 != nil, Comment(rawValue: ReferenceModels.skipSmol)))
    func batchedPromptsEqualOneByOne() throws {
        let m = try #require(ReferenceModels.smolLM2)
        let prompts = try ["The capital of France is", "When Mary and John went to the store, John gave a drink to", "Hi"].map { try m.encode($0) }
        let batch = TokenBatch(sequences: prompts, padding: .left)
        let logits = try #require(try m.model(batch).logits)
        for (b, p) in prompts.enumerated() {
            let alone = try #require(try m.model(TokenBatch(p)).logits).select(axis: 0, 0).select(axis: 0, p.count - 1)
            let mine = logits.select(axis: 0, b).select(axis: 0, batch.lastPosition(b))
            #expect(maxAbsDiff(mine, alone) < 1e-3, "prompt \(b): batched vs alone \(maxAbsDiff(mine, alone))")
        }
    }
}

struct MiniLMTests {
    /// all-MiniLM-L6-v2 hidden states, statistics, sentence embeddings and attention within 1e-4 of transformers.
    @Test(.enabled(if: ReferenceModels.miniLM != nil, Comment(rawValue: ReferenceModels.skipMini)))
    func matchesTransformers() throws {
        let m = try #require(ReferenceModels.miniLM)
        let ref = try Fixtures.json(Fixtures.models("minilm.json"))
        for (index, s) in try #require(ref["sentences"] as? [[String: Any]]).enumerated() {
            let name = s["name"] as? String ?? "?"
            let ids = try #require(s["input_ids"] as? [Int]), types = try #require(s["token_type_ids"] as? [Int])
            if s["text_pair"] == nil, let text = s["text"] as? String {
                #expect(try m.encode(text) == ids, "\(name): WordPiece ids")
            }
            let layers = m.model.dimensions.layers
            let names = Set((0...layers).map(HookName.resid) + (0..<layers).map(HookName.pattern))
            let (out, cache) = try m.model.runWithCache(TokenBatch(ids, tokenTypes: types), names: names)
            let hidden = out.hidden.select(axis: 0, 0)                                    // [t, dModel]
            expectClose(hidden.select(axis: 0, 0).scalars, flat(s["last_hidden_state_first_row"]), tolerance: 1e-4, "\(name) [CLS] row")
            expectClose(hidden.select(axis: 0, ids.count - 1).scalars, flat(s["last_hidden_state_last_row"]), tolerance: 1e-4, "\(name) last row")
            let pooled = hidden.mean(axes: [0])
            let embedding = pooled / pooled.norm().item
            expectClose(embedding.scalars, flat(s["sentence_embedding"]), tolerance: 1e-4, "\(name) sentence embedding")
            for st in try #require(s["hidden_state_stats"] as? [[String: Any]]) {
                let l = try #require(st["layer_index"] as? Int)
                let h = try #require(cache.resid(l))
                let mean = h.mean().item, std = h.variance().item.squareRoot()
                #expect(abs(Double(mean) - flat(st["mean"])[0]) < 1e-4 && abs(Double(std) - flat(st["std"])[0]) < 1e-4, "\(name) layer \(l) stats")
            }
            let cls = flat(s["attn_mass_on_cls"])
            let mine = (0..<layers).flatMap { l in cache[HookName.pattern(l)]!.select(axis: 0, 0).select(axis: -1, 0).mean(axes: [1]).scalars }
            expectClose(mine, cls, tolerance: 1e-4, "\(name) attention mass on [CLS]")
            if index == 0, let headMean = s["attn_head_mean"] {
                let mineMean = (0..<layers).flatMap { l in cache[HookName.pattern(l)]!.select(axis: 0, 0).mean(axes: [0]).scalars }
                expectClose(mineMean, flat(headMean), tolerance: 1e-4, "\(name) head-averaged attention")
            }
        }
    }
}
