import Foundation
import GlassboxFormats
import GlassboxTensor

/// BERT configuration (Hugging Face `BertConfig` fields).
public struct BERTConfiguration: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var hiddenAct: Activation?

    /// The MLP activation: `gelu` is the exact erf form; `gelu_new`/`gelu_pytorch_tanh` the tanh approximation.
    public enum Activation: String, Codable, Sendable {
        case gelu
        case geluNew = "gelu_new"
        case geluTanh = "gelu_pytorch_tanh"
        case relu
    }

    func validate(source: String) throws {
        for (v, f) in [(vocabSize, "vocab_size"), (hiddenSize, "hidden_size"), (numHiddenLayers, "num_hidden_layers"),
                       (numAttentionHeads, "num_attention_heads"), (intermediateSize, "intermediate_size"),
                       (maxPositionEmbeddings, "max_position_embeddings"), (typeVocabSize, "type_vocab_size")] {
            try ConfigJSON.positive(v, f, source: source)
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelError.invalidConfiguration(source: source, field: "num_attention_heads",
                                                  expected: "a divisor of hidden_size (\(hiddenSize)), found \(numAttentionHeads)")
        }
    }
}

/// BERT encoder: post-LayerNorm blocks, word + position + token-type embeddings, bidirectional
/// attention with a padding mask, GELU MLP, optional pooler (tanh(dense([CLS]))).
public struct BERTModel: TransformerModel, @unchecked Sendable {
    public struct Layer {
        public var wq: Tensor, bq: Tensor, wk: Tensor, bk: Tensor, wv: Tensor, bv: Tensor  // [dModel, dModel], [dModel]
        public var wo: Tensor, bo: Tensor                                                  // [dModel, dModel], [dModel]
        public var ln1Weight: Tensor, ln1Bias: Tensor                                      // [dModel]
        public var wIn: Tensor, bIn: Tensor                                                // [dMLP, dModel], [dMLP]
        public var wOut: Tensor, bOut: Tensor                                              // [dModel, dMLP], [dModel]
        public var ln2Weight: Tensor, ln2Bias: Tensor                                      // [dModel]
    }

    public let config: BERTConfiguration
    public let wordEmbedding: Tensor        // [vocab, dModel]
    public let positionEmbedding: Tensor    // [maxPositions, dModel]
    public let tokenTypeEmbedding: Tensor   // [types, dModel]
    public let embedLNWeight: Tensor, embedLNBias: Tensor
    public let layers: [Layer]
    public let pooler: (weight: Tensor, bias: Tensor)?

    public var architecture: Architecture { .bert }
    public var isCausal: Bool { false }
    public var dimensions: ModelDimensions {
        ModelDimensions(layers: config.numHiddenLayers, dModel: config.hiddenSize, heads: config.numAttentionHeads,
                        kvHeads: config.numAttentionHeads, dHead: config.hiddenSize / config.numAttentionHeads,
                        dMLP: config.intermediateSize, vocabularySize: config.vocabSize, maxPositions: config.maxPositionEmbeddings)
    }
    public var hookNames: [String] { HookName.all(layers: config.numHiddenLayers, positional: true, tokenTypes: true) }

    /// Loads a Hugging Face BERT folder (names with or without the `bert.` prefix).
    public init(_ source: WeightSource) throws {
        guard let json = source.config else {
            throw ModelError.unsupportedArchitecture(source: source.name, architecture: "bert from GGUF")
        }
        let c = try ConfigJSON.decode(BERTConfiguration.self, from: json, source: source.name)
        try c.validate(source: source.name)
        config = c
        let d = c.hiddenSize, f = c.intermediateSize
        func t(_ n: String, _ shape: [Int]) throws -> Tensor { try source.tensor(anyOf: [n, "bert." + n], shape: shape) }
        wordEmbedding = try t("embeddings.word_embeddings.weight", [c.vocabSize, d])
        positionEmbedding = try t("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, d])
        tokenTypeEmbedding = try t("embeddings.token_type_embeddings.weight", [c.typeVocabSize, d])
        embedLNWeight = try t("embeddings.LayerNorm.weight", [d])
        embedLNBias = try t("embeddings.LayerNorm.bias", [d])
        layers = try (0..<c.numHiddenLayers).map { l -> Layer in
            let p = "encoder.layer.\(l)."
            return Layer(wq: try t(p + "attention.self.query.weight", [d, d]), bq: try t(p + "attention.self.query.bias", [d]),
                         wk: try t(p + "attention.self.key.weight", [d, d]), bk: try t(p + "attention.self.key.bias", [d]),
                         wv: try t(p + "attention.self.value.weight", [d, d]), bv: try t(p + "attention.self.value.bias", [d]),
                         wo: try t(p + "attention.output.dense.weight", [d, d]), bo: try t(p + "attention.output.dense.bias", [d]),
                         ln1Weight: try t(p + "attention.output.LayerNorm.weight", [d]), ln1Bias: try t(p + "attention.output.LayerNorm.bias", [d]),
                         wIn: try t(p + "intermediate.dense.weight", [f, d]), bIn: try t(p + "intermediate.dense.bias", [f]),
                         wOut: try t(p + "output.dense.weight", [d, f]), bOut: try t(p + "output.dense.bias", [d]),
                         ln2Weight: try t(p + "output.LayerNorm.weight", [d]), ln2Bias: try t(p + "output.LayerNorm.bias", [d]))
        }
        if try source.tensorIfPresent("pooler.dense.weight") != nil || source.tensorIfPresent("bert.pooler.dense.weight") != nil {
            pooler = (try t("pooler.dense.weight", [d, d]), try t("pooler.dense.bias", [d]))
        } else {
            pooler = nil
        }
    }

    func activation(_ x: Tensor) -> Tensor {
        switch config.hiddenAct ?? .gelu {
        case .gelu: return x.geluErf()
        case .geluNew, .geluTanh: return x.geluTanh()
        case .relu: return x.relu()
        }
    }

    public func forward(_ input: TokenBatch, run: HookRun, cache: KVCache?) -> ModelOutput {
        let c = config
        let b = input.batch, t = input.length, d = c.hiddenSize, heads = c.numAttentionHeads, dHead = d / heads
        let ctx = ForwardContext(input, causal: false, cache: nil)
        let eps = c.layerNormEps

        let words = run.tap(HookName.embed, Tensor.embedding(wordEmbedding, ids: input.ids).reshaped([b, t, d]))                 // [b, t, dModel]
        let positions = ctx.flatPositions.map { Swift.min($0, c.maxPositionEmbeddings - 1) }
        let pos = run.tap(HookName.posEmbed, Tensor.embedding(positionEmbedding, ids: positions).reshaped([b, t, d]))           // [b, t, dModel]
        let types = input.tokenTypes.map { Swift.min(Swift.max($0, 0), c.typeVocabSize - 1) }
        let typeEmb = run.tap(HookName.tokenTypeEmbed, Tensor.embedding(tokenTypeEmbedding, ids: types).reshaped([b, t, d]))    // [b, t, dModel]
        var resid = (words + pos + typeEmb).layerNorm(weight: embedLNWeight, bias: embedLNBias, eps: eps)                        // [b, t, dModel]

        for (l, w) in layers.enumerated() {
            resid = run.tap(HookName.residPre(l), resid)                                                          // [b, t, dModel]
            let q = run.tap(HookName.q(l), resid.linear(weight: w.wq, bias: w.bq).reshaped([b, t, heads, dHead]))  // [b, t, heads, dHead]
            let k = run.tap(HookName.k(l), resid.linear(weight: w.wk, bias: w.bk).reshaped([b, t, heads, dHead]))  // [b, t, heads, dHead]
            let v = run.tap(HookName.v(l), resid.linear(weight: w.wv, bias: w.bv).reshaped([b, t, heads, dHead]))  // [b, t, heads, dHead]
            let attnOut = multiHeadAttention(q: q, k: k, v: v, mask: ctx.mask, wo: w.wo, bo: w.bo, layer: l, run: run)   // [b, t, dModel]
            resid = run.tap(HookName.residMid(l), (resid + attnOut).layerNorm(weight: w.ln1Weight, bias: w.ln1Bias, eps: eps))  // [b, t, dModel]
            let pre = run.tap(HookName.mlpPre(l), resid.linear(weight: w.wIn, bias: w.bIn))                       // [b, t, dMLP]
            let post = run.tap(HookName.mlpPost(l), activation(pre))                                            // [b, t, dMLP]
            let mlpOut = run.tap(HookName.mlpOut(l), post.linear(weight: w.wOut, bias: w.bOut))                 // [b, t, dModel]
            resid = run.tap(HookName.residPost(l), (resid + mlpOut).layerNorm(weight: w.ln2Weight, bias: w.ln2Bias, eps: eps))  // [b, t, dModel]
        }

        let hidden = run.tap(HookName.finalNormalized, resid)                                                    // [b, t, dModel] (post-LN: no extra norm)
        var pooled: Tensor?
        if let pooler {
            pooled = hidden.select(axis: 1, 0).linear(weight: pooler.weight, bias: pooler.bias).tanh()             // [b, dModel]
        }
        return ModelOutput(logits: nil, hidden: hidden, pooled: pooled)
    }

    public func unembed(_ resid: Tensor) -> Tensor? { nil }
}
