import Foundation
import GlassboxFormats
import GlassboxTensor

/// GPT-2 configuration (Hugging Face `GPT2Config` fields).
public struct GPT2Configuration: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var nPositions: Int
    public var nEmbd: Int
    public var nLayer: Int
    public var nHead: Int
    public var nInner: Int?
    public var layerNormEpsilon: Float

    public init(vocabSize: Int, nPositions: Int, nEmbd: Int, nLayer: Int, nHead: Int, nInner: Int? = nil, layerNormEpsilon: Float = 1e-5) {
        self.vocabSize = vocabSize
        self.nPositions = nPositions
        self.nEmbd = nEmbd
        self.nLayer = nLayer
        self.nHead = nHead
        self.nInner = nInner
        self.layerNormEpsilon = layerNormEpsilon
    }

    public var dMLP: Int { nInner ?? 4 * nEmbd }

    func validate(source: String) throws {
        for (v, f) in [(vocabSize, "vocab_size"), (nPositions, "n_positions"), (nEmbd, "n_embd"), (nLayer, "n_layer"), (nHead, "n_head"), (dMLP, "n_inner")] {
            try ConfigJSON.positive(v, f, source: source)
        }
        guard nEmbd % nHead == 0 else {
            throw ModelError.invalidConfiguration(source: source, field: "n_head", expected: "a divisor of n_embd (\(nEmbd)), found \(nHead)")
        }
    }
}

/// GPT-2: pre-LayerNorm blocks, learned positions, fused QKV (split at load), GELU (tanh), tied unembedding.
/// Hugging Face stores its Conv1D weights [in, out]; they are kept as transposed views [out, in].
public struct GPT2Model: TransformerModel, @unchecked Sendable {
    public struct Layer {
        public var ln1Weight: Tensor, ln1Bias: Tensor      // [dModel]
        public var wq: Tensor, wk: Tensor, wv: Tensor      // [dModel, dModel]
        public var bq: Tensor, bk: Tensor, bv: Tensor      // [dModel]
        public var wo: Tensor, bo: Tensor                  // [dModel, dModel], [dModel]
        public var ln2Weight: Tensor, ln2Bias: Tensor      // [dModel]
        public var wIn: Tensor, bIn: Tensor                // [dMLP, dModel], [dMLP]
        public var wOut: Tensor, bOut: Tensor              // [dModel, dMLP], [dModel]
    }

    public let config: GPT2Configuration
    public let tokenEmbedding: Tensor     // [vocab, dModel]
    public let positionEmbedding: Tensor  // [nPositions, dModel]
    public let layers: [Layer]
    public let lnFinalWeight: Tensor, lnFinalBias: Tensor

    public var architecture: Architecture { .gpt2 }
    public var isCausal: Bool { true }
    public var dimensions: ModelDimensions {
        ModelDimensions(layers: config.nLayer, dModel: config.nEmbd, heads: config.nHead, kvHeads: config.nHead,
                        dHead: config.nEmbd / config.nHead, dMLP: config.dMLP, vocabularySize: config.vocabSize,
                        maxPositions: config.nPositions)
    }
    public var hookNames: [String] { HookName.all(layers: config.nLayer, positional: true) }

    public init(config: GPT2Configuration, tokenEmbedding: Tensor, positionEmbedding: Tensor, layers: [Layer],
                lnFinalWeight: Tensor, lnFinalBias: Tensor) {
        self.config = config
        self.tokenEmbedding = tokenEmbedding
        self.positionEmbedding = positionEmbedding
        self.layers = layers
        self.lnFinalWeight = lnFinalWeight
        self.lnFinalBias = lnFinalBias
    }

    /// Loads a Hugging Face GPT-2 folder (names with or without the `transformer.` prefix).
    public init(_ source: WeightSource) throws {
        guard let json = source.config else {
            throw ModelError.unsupportedArchitecture(source: source.name, architecture: "gpt2 from GGUF")
        }
        let c = try ConfigJSON.decode(GPT2Configuration.self, from: json, source: source.name)
        try c.validate(source: source.name)
        let d = c.nEmbd, f = c.dMLP
        func t(_ n: String, _ shape: [Int]) throws -> Tensor { try source.tensor(anyOf: ["transformer." + n, n], shape: shape) }
        let layers = try (0..<c.nLayer).map { l -> Layer in
            let p = "h.\(l)."
            let qkv = try t(p + "attn.c_attn.weight", [d, 3 * d])          // [in, 3·out]
            let qkvBias = try t(p + "attn.c_attn.bias", [3 * d])
            func part(_ i: Int) -> Tensor { qkv.slice(axis: 1, (i * d)..<((i + 1) * d)).transposed() }  // [out, in] view
            func partBias(_ i: Int) -> Tensor { qkvBias.slice(axis: 0, (i * d)..<((i + 1) * d)).contiguous() }
            return Layer(ln1Weight: try t(p + "ln_1.weight", [d]), ln1Bias: try t(p + "ln_1.bias", [d]),
                         wq: part(0), wk: part(1), wv: part(2), bq: partBias(0), bk: partBias(1), bv: partBias(2),
                         wo: try t(p + "attn.c_proj.weight", [d, d]).transposed(), bo: try t(p + "attn.c_proj.bias", [d]),
                         ln2Weight: try t(p + "ln_2.weight", [d]), ln2Bias: try t(p + "ln_2.bias", [d]),
                         wIn: try t(p + "mlp.c_fc.weight", [d, f]).transposed(), bIn: try t(p + "mlp.c_fc.bias", [f]),
                         wOut: try t(p + "mlp.c_proj.weight", [f, d]).transposed(), bOut: try t(p + "mlp.c_proj.bias", [d]))
        }
        self.init(config: c, tokenEmbedding: try t("wte.weight", [c.vocabSize, d]), positionEmbedding: try t("wpe.weight", [c.nPositions, d]),
                  layers: layers, lnFinalWeight: try t("ln_f.weight", [d]), lnFinalBias: try t("ln_f.bias", [d]))
    }

    public func forward(_ input: TokenBatch, run: HookRun, cache: KVCache?) -> ModelOutput {
        let c = config
        let b = input.batch, t = input.length, d = c.nEmbd, heads = c.nHead, dHead = d / heads
        let ctx = ForwardContext(input, causal: true, cache: cache)
        let eps = c.layerNormEpsilon

        let tokens = run.tap(HookName.embed, Tensor.embedding(tokenEmbedding, ids: input.ids).reshaped([b, t, d]))         // [b, t, dModel]
        let positions = ctx.flatPositions.map { Swift.min($0, c.nPositions - 1) }
        let pos = run.tap(HookName.posEmbed, Tensor.embedding(positionEmbedding, ids: positions).reshaped([b, t, d]))      // [b, t, dModel]
        var resid = tokens + pos                                                                                            // [b, t, dModel]

        for (l, w) in layers.enumerated() {
            resid = run.tap(HookName.residPre(l), resid)                                                   // [b, t, dModel]
            let x = resid.layerNorm(weight: w.ln1Weight, bias: w.ln1Bias, eps: eps)                         // [b, t, dModel]
            let q = run.tap(HookName.q(l), x.linear(weight: w.wq, bias: w.bq).reshaped([b, t, heads, dHead]))  // [b, t, heads, dHead]
            let k = run.tap(HookName.k(l), x.linear(weight: w.wk, bias: w.bk).reshaped([b, t, heads, dHead]))  // [b, t, heads, dHead]
            let v = run.tap(HookName.v(l), x.linear(weight: w.wv, bias: w.bv).reshaped([b, t, heads, dHead]))  // [b, t, heads, dHead]
            let (keys, values) = cache?.append(layer: l, keys: k, values: v) ?? (k, v)                      // [b, s, heads, dHead]
            let attnOut = multiHeadAttention(q: q, k: keys, v: values, mask: ctx.mask, wo: w.wo, bo: w.bo, layer: l, run: run)  // [b, t, dModel]
            resid = run.tap(HookName.residMid(l), resid + attnOut)                                         // [b, t, dModel]
            let h = resid.layerNorm(weight: w.ln2Weight, bias: w.ln2Bias, eps: eps)                         // [b, t, dModel]
            let pre = run.tap(HookName.mlpPre(l), h.linear(weight: w.wIn, bias: w.bIn))                     // [b, t, dMLP]
            let post = run.tap(HookName.mlpPost(l), pre.geluTanh())                                         // [b, t, dMLP]
            let mlpOut = run.tap(HookName.mlpOut(l), post.linear(weight: w.wOut, bias: w.bOut))             // [b, t, dModel]
            resid = run.tap(HookName.residPost(l), resid + mlpOut)                                         // [b, t, dModel]
        }

        let normed = run.tap(HookName.finalNormalized, resid.layerNorm(weight: lnFinalWeight, bias: lnFinalBias, eps: eps))  // [b, t, dModel]
        let logits = run.logitRows(normed).linear(weight: tokenEmbedding)                                   // [b, t (or k), vocab]
        return ModelOutput(logits: logits, hidden: normed, pooled: nil)
    }

    public func unembed(_ resid: Tensor) -> Tensor? {
        resid.layerNorm(weight: lnFinalWeight, bias: lnFinalBias, eps: config.layerNormEpsilon).linear(weight: tokenEmbedding)
    }
}
