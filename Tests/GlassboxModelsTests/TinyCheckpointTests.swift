import Foundation
import Testing
@testable import GlassboxModels
import GlassboxFormats
import GlassboxTensor

/// The tiny random GPT-2, Llama and BERT checkpoints against Hugging Face transformers
/// (logits, residual stream, final norm, attention probabilities), within 1e-4.
struct TinyCheckpointTests {
    static let tolerance = 1e-4

    /// Compares a decoder's outputs on each golden sequence, run one at a time.
    func checkDecoder(_ model: any TransformerModel, golden: [String: Any], name: String) throws {
        let sequences = try #require(golden["sequences"] as? [[String: Any]])
        let layers = model.dimensions.layers
        for (i, seq) in sequences.enumerated() {
            let ids = try #require(seq["input_ids"] as? [Int])
            let names = Set((0...layers).map(HookName.resid) + (0..<layers).map(HookName.pattern) + [HookName.finalNormalized])
            let (out, cache) = try model.runWithCache(TokenBatch(ids), names: names)
            expectClose(try #require(out.logits).scalars, flat(seq["logits"]), tolerance: Self.tolerance, "\(name) seq \(i) logits")
            let resid = try #require(seq["resid"] as? [Any])
            for r in 0...layers {
                expectClose(try #require(cache.resid(r)).scalars, flat(resid[r]), tolerance: Self.tolerance, "\(name) seq \(i) resid[\(r)]")
            }
            expectClose(try #require(cache[HookName.finalNormalized]).scalars, flat(seq["final_norm_out"]), tolerance: Self.tolerance, "\(name) seq \(i) final norm")
            let attn = try #require(seq["attentions"] as? [Any])
            for l in 0..<layers {
                expectClose(try #require(cache[HookName.pattern(l)]).scalars, flat(attn[l]), tolerance: Self.tolerance, "\(name) seq \(i) attention layer \(l)")
            }
        }
    }

    @Test func gpt2MatchesTransformers() throws {
        let model = try GPT2Model(SafetensorsWeights(folder: Fixtures.formats("tiny/gpt2")))
        try checkDecoder(model, golden: try Fixtures.json(Fixtures.models("tiny/gpt2_golden.json")), name: "gpt2")
    }

    @Test func llamaSafetensorsMatchesTransformers() throws {
        let model = try LlamaModel(SafetensorsWeights(folder: Fixtures.formats("tiny/llama")))
        #expect(model.config.ropeTheta == 10000 && model.config.numKeyValueHeads == 2 && !model.config.tieWordEmbeddings)
        try checkDecoder(model, golden: try Fixtures.json(Fixtures.formats("tiny/llama_golden.json")), name: "llama")
    }

    @Test(arguments: ["f32", "f16", "mixed"])
    func llamaGGUFMatchesTransformers(variant: String) throws {
        let golden = try Fixtures.json(Fixtures.formats("tiny/llama_golden.json"))
        let variants = try #require(golden["gguf_variants"] as? [String: Any])
        let v = try #require(variants[variant] as? [String: Any])
        let file = try GGUFFile(path: Fixtures.formats("tiny/" + (try #require(v["file"] as? String))))
        let model = try LlamaModel(GGUFWeights(file))
        for (i, seq) in try #require(v["sequences"] as? [[String: Any]]).enumerated() {
            let ids = try #require(seq["input_ids"] as? [Int])
            let logits = try #require(try model(TokenBatch(ids)).logits)
            expectClose(logits.scalars, flat(seq["logits"]), tolerance: Self.tolerance, "llama \(variant) seq \(i) logits")
        }
        if variant == "f32" {
            // The F32 GGUF is the safetensors model: full golden set (resid, attention) too.
            try checkDecoder(model, golden: golden, name: "llama gguf f32")
        }
    }

    @Test func bertMatchesTransformersOnAPaddedBatch() throws {
        let model = try BERTModel(SafetensorsWeights(folder: Fixtures.formats("tiny/bert")))
        let golden = try Fixtures.json(Fixtures.models("tiny/bert_golden.json"))
        let seqs = try #require(golden["sequences"] as? [[String: Any]])
        var ids: [[Int]] = [], types: [[Int]] = []
        for s in seqs {
            let mask = try #require(s["attention_mask"] as? [Int])
            let n = mask.reduce(0, +)
            ids.append(Array(try #require(s["input_ids"] as? [Int]).prefix(n)))
            types.append(Array(try #require(s["token_type_ids"] as? [Int]).prefix(n)))
        }
        let batch = TokenBatch(sequences: ids, tokenTypes: types, padding: .right)
        let layers = model.dimensions.layers
        let names = Set((0...layers).map(HookName.resid) + (0..<layers).map(HookName.pattern))
        let (out, cache) = try model.runWithCache(batch, names: names)
        let d = model.dimensions.dModel, t = batch.length
        for (b, s) in seqs.enumerated() {
            let n = ids[b].count
            // Only real (unpadded) rows are meaningful; padded keys must get probability 0.
            let hidden = out.hidden.select(axis: 0, b).slice(axis: 0, 0..<n)
            expectClose(hidden.scalars, Array(flat(s["last_hidden_state"]).prefix(n * d)), tolerance: Self.tolerance, "bert seq \(b) last hidden")
            expectClose(try #require(out.pooled).select(axis: 0, b).scalars, flat(s["pooler_output"]), tolerance: Self.tolerance, "bert seq \(b) pooler")
            let hs = try #require(s["hidden_states"] as? [Any])
            for r in 0...layers {
                let mine = try #require(cache.resid(r)).select(axis: 0, b).slice(axis: 0, 0..<n)
                expectClose(mine.scalars, Array(flat(hs[r]).prefix(n * d)), tolerance: Self.tolerance, "bert seq \(b) hidden[\(r)]")
            }
            let attn = try #require(s["attentions"] as? [[Any]])
            for l in 0..<layers {
                let mine = try #require(cache[HookName.pattern(l)]).select(axis: 0, b)  // [heads, t, t]
                for h in 0..<model.dimensions.heads {
                    let rows = flat(attn[l][h])
                    let expected = (0..<n).flatMap { q in rows[(q * t)..<(q * t + t)] }
                    expectClose(mine.select(axis: 0, h).slice(axis: 0, 0..<n).scalars, expected, tolerance: Self.tolerance, "bert seq \(b) attention \(l).\(h)")
                }
            }
        }
    }
}
