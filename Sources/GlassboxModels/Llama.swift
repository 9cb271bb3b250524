import Foundation
import GlassboxFormats
import GlassboxTensor

/// Llama configuration (Hugging Face `LlamaConfig` fields; also read from GGUF `llama.*` metadata).
public struct LlamaConfiguration: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var vocabSize: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var tieWordEmbeddings: Bool

    public init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                numKeyValueHeads: Int, headDim: Int? = nil, vocabSize: Int, rmsNormEps: Float = 1e-5,
                ropeTheta: Float = 10000, tieWordEmbeddings: Bool = false) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim ?? hiddenSize / max(numAttentionHeads, 1)
        self.vocabSize = vocabSize
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
    }

    enum CodingKeys: String, CodingKey {
        case hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads, headDim
        case vocabSize, rmsNormEps, ropeTheta, ropeParameters, tieWordEmbeddings
    }
    struct RopeParameters: Codable { var ropeTheta: Float? }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let heads = try c.decode(Int.self, forKey: .numAttentionHeads)
        let hidden = try c.decode(Int.self, forKey: .hiddenSize)
        // transformers ≥ 5 writes `rope_parameters: {rope_theta}`; older files a top-level `rope_theta`.
        let theta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta)
            ?? c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)?.ropeTheta ?? 10000
        self.init(hiddenSize: hidden,
                  intermediateSize: try c.decode(Int.self, forKey: .intermediateSize),
                  numHiddenLayers: try c.decode(Int.self, forKey: .numHiddenLayers),
                  numAttentionHeads: heads,
                  numKeyValueHeads: try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? heads,
                  headDim: try c.decodeIfPresent(Int.self, forKey: .headDim),
                  vocabSize: try c.decode(Int.self, forKey: .vocabSize),
                  rmsNormEps: try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6,
                  ropeTheta: theta,
                  tieWordEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
    }

    /// From GGUF metadata (`llama.*` keys, named by `general.architecture`).
    public init(gguf: GGUFFile) throws {
        let arch = try gguf.string("general.architecture", default: "llama")
        let heads = try gguf.int("\(arch).attention.head_count")
        let hidden = try gguf.int("\(arch).embedding_length")
        let embd = try gguf.info("token_embd.weight")
        self.init(hiddenSize: hidden,
                  intermediateSize: try gguf.int("\(arch).feed_forward_length"),
                  numHiddenLayers: try gguf.int("\(arch).block_count"),
                  numAttentionHeads: heads,
                  numKeyValueHeads: try gguf.int("\(arch).attention.head_count_kv", default: heads),
                  headDim: try gguf.int("\(arch).attention.key_length", default: hidden / max(heads, 1)),
                  vocabSize: embd.shape[0],
                  rmsNormEps: Float(try gguf.float("\(arch).attention.layer_norm_rms_epsilon", default: 1e-5)),
                  ropeTheta: Float(try gguf.float("\(arch).rope.freq_base", default: 10000)),
                  tieWordEmbeddings: !gguf.hasTensor("output.weight"))
    }

    func validate(source: String) throws {
        for (v, f) in [(hiddenSize, "hidden_size"), (intermediateSize, "intermediate_size"), (numHiddenLayers, "num_hidden_layers"),
                       (numAttentionHeads, "num_attention_heads"), (numKeyValueHeads, "num_key_value_heads"),
                       (headDim, "head_dim"), (vocabSize, "vocab_size")] {
            try ConfigJSON.positive(v, f, source: source)
        }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw ModelError.invalidConfiguration(source: source, field: "num_key_value_heads",
                                                  expected: "a divisor of num_attention_heads (\(numAttentionHeads)), found \(numKeyValueHeads)")
        }
        guard headDim % 2 == 0 else {
            throw ModelError.invalidConfiguration(source: source, field: "head_dim", expected: "an even number for RoPE, found \(headDim)")
        }
    }
}

/// Llama: RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP, tied or untied unembedding.
/// q/k weights are kept in Hugging Face layout (rotate-half RoPE pairs i and i + dHead/2); GGUF
/// files store them permuted for llama.cpp's adjacent-pair RoPE and are un-permuted at load.
public struct LlamaModel: TransformerModel, @unchecked Sendable {
    public struct Layer {
        public var attnNorm: Tensor   // [dModel]
        public var wq: Tensor         // [heads * dHead, dModel]
        public var wk: Tensor         // [kvHeads * dHead, dModel]
        public var wv: Tensor         // [kvHeads * dHead, dModel]
        public var wo: Tensor         // [dModel, heads * dHead]
        public var mlpNorm: Tensor    // [dModel]
        public var wGate: Tensor      // [dMLP, dModel]
        public var wUp: Tensor        // [dMLP, dModel]
        public var wDown: Tensor      // [dModel, dMLP]
    }

    public let config: LlamaConfiguration
    public let embed: Tensor          // [vocab, dModel]
    public let layers: [Layer]
    public let finalNorm: Tensor      // [dModel]
    public let unembedding: Tensor    // [vocab, dModel] (the embedding itself when tied)

    public var architecture: Architecture { .llama }
    public var isCausal: Bool { true }
    public var dimensions: ModelDimensions {
        ModelDimensions(layers: config.numHiddenLayers, dModel: config.hiddenSize, heads: config.numAttentionHeads,
                        kvHeads: config.numKeyValueHeads, dHead: config.headDim, dMLP: config.intermediateSize,
                        vocabularySize: config.vocabSize, maxPositions: nil)
    }
    public var hookNames: [String] { HookName.all(layers: config.numHiddenLayers, positional: false, rotary: true) }

    public init(config: LlamaConfiguration, embed: Tensor, layers: [Layer], finalNorm: Tensor, unembedding: Tensor?) {
        self.config = config
        self.embed = embed
        self.layers = layers
        self.finalNorm = finalNorm
        self.unembedding = unembedding ?? embed
    }

    /// Random weights (for tests and toy experiments), seeded.
    public static func random(_ config: LlamaConfiguration, seed: UInt64, std: Float = 0.2) -> LlamaModel {
        var g = SeededGenerator(seed: seed)
        let d = config.hiddenSize, f = config.intermediateSize, hd = config.headDim
        func w(_ s: [Int]) -> Tensor { Tensor.randomNormal(s, std: std, using: &g) }
        func norm() -> Tensor { Tensor.randomNormal([d], mean: 1, std: 0.1, using: &g) }
        let embed = w([config.vocabSize, d])
        let layers = (0..<config.numHiddenLayers).map { _ in
            Layer(attnNorm: norm(), wq: w([config.numAttentionHeads * hd, d]), wk: w([config.numKeyValueHeads * hd, d]),
                  wv: w([config.numKeyValueHeads * hd, d]), wo: w([d, config.numAttentionHeads * hd]),
                  mlpNorm: norm(), wGate: w([f, d]), wUp: w([f, d]), wDown: w([d, f]))
        }
        return LlamaModel(config: config, embed: embed, layers: layers, finalNorm: norm(),
                          unembedding: config.tieWordEmbeddings ? nil : w([config.vocabSize, d]))
    }

    /// Loads from a GGUF file (llama.cpp names, permuted q/k) or a Hugging Face folder.
    public init(_ source: WeightSource) throws {
        if let gguf = source.gguf {
            let c = try LlamaConfiguration(gguf: gguf)
            try c.validate(source: source.name)
            let d = c.hiddenSize, hd = c.headDim, f = c.intermediateSize
            let qRows = c.numAttentionHeads * hd, kRows = c.numKeyValueHeads * hd
            let layers = try (0..<c.numHiddenLayers).map { l -> Layer in
                let p = "blk.\(l)."
                return Layer(attnNorm: try source.tensor(p + "attn_norm.weight", shape: [d]),
                             wq: LlamaModel.unpermuteRoPERows(try source.tensor(p + "attn_q.weight", shape: [qRows, d]), heads: c.numAttentionHeads),
                             wk: LlamaModel.unpermuteRoPERows(try source.tensor(p + "attn_k.weight", shape: [kRows, d]), heads: c.numKeyValueHeads),
                             wv: try source.tensor(p + "attn_v.weight", shape: [kRows, d]),
                             wo: try source.tensor(p + "attn_output.weight", shape: [d, qRows]),
                             mlpNorm: try source.tensor(p + "ffn_norm.weight", shape: [d]),
                             wGate: try source.tensor(p + "ffn_gate.weight", shape: [f, d]),
                             wUp: try source.tensor(p + "ffn_up.weight", shape: [f, d]),
                             wDown: try source.tensor(p + "ffn_down.weight", shape: [d, f]))
            }
            self.init(config: c, embed: try source.tensor("token_embd.weight", shape: [c.vocabSize, d]), layers: layers,
                      finalNorm: try source.tensor("output_norm.weight", shape: [d]),
                      unembedding: c.tieWordEmbeddings ? nil : try source.tensor("output.weight", shape: [c.vocabSize, d]))
        } else {
            let c = try ConfigJSON.decode(LlamaConfiguration.self, from: source.config ?? [:], source: source.name)
            try c.validate(source: source.name)
            let d = c.hiddenSize, hd = c.headDim, f = c.intermediateSize
            let qRows = c.numAttentionHeads * hd, kRows = c.numKeyValueHeads * hd
            let layers = try (0..<c.numHiddenLayers).map { l -> Layer in
                let p = "model.layers.\(l)."
                return Layer(attnNorm: try source.tensor(p + "input_layernorm.weight", shape: [d]),
                             wq: try source.tensor(p + "self_attn.q_proj.weight", shape: [qRows, d]),
                             wk: try source.tensor(p + "self_attn.k_proj.weight", shape: [kRows, d]),
                             wv: try source.tensor(p + "self_attn.v_proj.weight", shape: [kRows, d]),
                             wo: try source.tensor(p + "self_attn.o_proj.weight", shape: [d, qRows]),
                             mlpNorm: try source.tensor(p + "post_attention_layernorm.weight", shape: [d]),
                             wGate: try source.tensor(p + "mlp.gate_proj.weight", shape: [f, d]),
                             wUp: try source.tensor(p + "mlp.up_proj.weight", shape: [f, d]),
                             wDown: try source.tensor(p + "mlp.down_proj.weight", shape: [d, f]))
            }
            let head = try source.tensorIfPresent("lm_head.weight")
            self.init(config: c, embed: try source.tensor("model.embed_tokens.weight", shape: [c.vocabSize, d]), layers: layers,
                      finalNorm: try source.tensor("model.norm.weight", shape: [d]),
                      unembedding: c.tieWordEmbeddings ? nil : head)
        }
    }

    /// GGUF q/k rows → Hugging Face rows: within each head, GGUF row 2i + c is HF row c·dHead/2 + i.
    static func unpermuteRoPERows(_ w: Tensor, heads: Int) -> Tensor {
        let rows = w.shape[0], cols = w.shape[1], dHead = rows / heads
        return w.reshaped([heads, dHead / 2, 2, cols]).permuted([0, 2, 1, 3]).contiguous().reshaped([rows, cols])
    }

    public func forward(_ input: TokenBatch, run: HookRun, cache: KVCache?) -> ModelOutput {
        let c = config
        let b = input.batch, t = input.length
        let heads = c.numAttentionHeads, kvHeads = c.numKeyValueHeads, dHead = c.headDim
        let ctx = ForwardContext(input, causal: true, cache: cache)

        let tokens = Tensor.embedding(embed, ids: input.ids).reshaped([b, t, c.hiddenSize])   // [b, t, dModel]
        var resid = run.tap(HookName.embed, tokens)                                             // [b, t, dModel]

        for (l, w) in layers.enumerated() {
            resid = run.tap(HookName.residPre(l), resid)                                        // [b, t, dModel]
            // Attention
            let x = resid.rmsNorm(weight: w.attnNorm, eps: c.rmsNormEps)                        // [b, t, dModel]
            let q = run.tap(HookName.q(l), x.linear(weight: w.wq).reshaped([b, t, heads, dHead]))     // [b, t, heads, dHead]
            let k = run.tap(HookName.k(l), x.linear(weight: w.wk).reshaped([b, t, kvHeads, dHead]))   // [b, t, kvHeads, dHead]
            let v = run.tap(HookName.v(l), x.linear(weight: w.wv).reshaped([b, t, kvHeads, dHead]))   // [b, t, kvHeads, dHead]
            let qRot = run.tap(HookName.rotQ(l), q.rotary(positions: ctx.positions, base: c.ropeTheta, layout: .halves))  // [b, t, heads, dHead]
            let kRot = run.tap(HookName.rotK(l), k.rotary(positions: ctx.positions, base: c.ropeTheta, layout: .halves))  // [b, t, kvHeads, dHead]
            let (keys, values) = cache?.append(layer: l, keys: kRot, values: v) ?? (kRot, v)           // [b, s, kvHeads, dHead]
            let attnOut = multiHeadAttention(q: qRot, k: keys, v: values, mask: ctx.mask, wo: w.wo, bo: nil,
                                             layer: l, run: run)                                 // [b, t, dModel]
            resid = run.tap(HookName.residMid(l), resid + attnOut)                              // [b, t, dModel]
            // SwiGLU MLP
            let h = resid.rmsNorm(weight: w.mlpNorm, eps: c.rmsNormEps)                         // [b, t, dModel]
            let gate = run.tap(HookName.mlpPre(l), h.linear(weight: w.wGate))                   // [b, t, dMLP]
            let act = run.tap(HookName.mlpPost(l), gate.silu() * h.linear(weight: w.wUp))       // [b, t, dMLP]
            let mlpOut = run.tap(HookName.mlpOut(l), act.linear(weight: w.wDown))               // [b, t, dModel]
            resid = run.tap(HookName.residPost(l), resid + mlpOut)                              // [b, t, dModel]
        }

        let normed = run.tap(HookName.finalNormalized, resid.rmsNorm(weight: finalNorm, eps: c.rmsNormEps))  // [b, t, dModel]
        let logits = run.logitRows(normed).linear(weight: unembedding)                          // [b, t (or k), vocab]
        return ModelOutput(logits: logits, hidden: normed, pooled: nil)
    }

    public func unembed(_ resid: Tensor) -> Tensor? {
        resid.rmsNorm(weight: finalNorm, eps: config.rmsNormEps).linear(weight: unembedding)
    }
}
