import Foundation
import GlassboxModels
import GlassboxTensor

/// Direct logit attribution (Elhage et al. 2021, "A Mathematical Framework for Transformer
/// Circuits", papers/web_mathematical-framework.md; as used for IOI in arXiv 2211.00593): the
/// final residual stream is a sum of component outputs (embeddings, every attention head,
/// attention output biases, every MLP), and with the final norm's scale frozen at its value on
/// this input the logit — or a logit difference — is linear in the residual stream, so it
/// splits exactly into one term per component. The terms sum to the model's own logit
/// (difference); `residualError` reports how far from exact the float32 sum is.
public struct DirectLogitAttribution: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case embed, posEmbed = "pos_embed", head, attnBias = "attn_bias", mlp, normBias = "ln_final_bias"
    }

    public struct Component: Sendable, Codable, Equatable {
        /// TransformerLens-style label: `embed`, `pos_embed`, `L3H5`, `L3 attn bias`, `L3 MLP`, `ln_final bias`.
        public var name: String
        public var kind: Kind
        public var layer: Int?
        public var head: Int?
        public var value: Double
    }

    public var ids: [Int]
    public var position: Int
    public var answer: Int
    public var wrong: Int?
    public var components: [Component]
    /// The model's own logit[answer] (− logit[wrong]) at `position`.
    public var total: Double

    public var sum: Double { components.reduce(0) { $0 + $1.value } }
    public var residualError: Double { abs(sum - total) }

    /// [layer][head] of the heads' contributions.
    public func headGrid(layers: Int, heads: Int) -> [[Double]] {
        var g = Array(repeating: Array(repeating: 0.0, count: heads), count: layers)
        for c in components where c.kind == .head { g[c.layer!][c.head!] = c.value }
        return g
    }

    /// Attributes logit[answer] (− logit[wrong]) at `position` (default: the last) of `ids`.
    /// Supported: Llama (RMSNorm) and GPT-2 (LayerNorm) models.
    public static func compute(_ model: any TransformerModel, ids: [Int], answer: Int, wrong: Int? = nil,
                               position: Int? = nil) throws -> DirectLogitAttribution {
        try compute(model, sequences: [ids], answers: [answer], wrongs: wrong.map { [$0] }, positions: position.map { [$0] })[0]
    }

    /// Several prompts in one right-padded batch; each result equals the one-by-one result.
    public static func compute(_ model: any TransformerModel, sequences: [[Int]], answers: [Int], wrongs: [Int]? = nil,
                               positions: [Int]? = nil) throws -> [DirectLogitAttribution] {
        let dims = model.dimensions
        guard !sequences.isEmpty, answers.count == sequences.count, wrongs.map({ $0.count == sequences.count }) ?? true,
              positions.map({ $0.count == sequences.count }) ?? true else {
            throw LensAttentionError.invalidInput("dla: need one answer (and wrong answer / position, when given) per prompt")
        }
        let norm = try FinalNorm(model)
        for t in answers + (wrongs ?? []) where t < 0 || t >= dims.vocabularySize {
            throw LensAttentionError.invalidInput("dla: token id \(t) outside the vocabulary 0…\(dims.vocabularySize - 1)")
        }
        var names = Set([HookName.embed, HookName.resid(dims.layers)])
        if dims.maxPositions != nil { names.insert(HookName.posEmbed) }
        for l in 0..<dims.layers { names.formUnion([HookName.result(l), HookName.attnOut(l), HookName.mlpOut(l)]) }
        let (out, cache) = try model.runWithCache(TokenBatch(sequences: sequences), names: names)
        guard let logits = out.logits else { throw LensAttentionError.invalidInput("dla: the model has no LM head") }
        var results: [DirectLogitAttribution] = []
        for (b, ids) in sequences.enumerated() {
            guard !ids.isEmpty else { throw LensAttentionError.invalidInput("dla: prompt \(b) is empty") }
            let pos = positions?[b] ?? ids.count - 1
            guard pos >= 0 && pos < ids.count else {
                throw LensAttentionError.invalidInput("dla: position \(pos) outside prompt \(b) of \(ids.count) tokens")
            }
            func vec(_ name: String) -> [Double] { cache[name]!.select(axis: 0, b).select(axis: 0, pos).scalars.map(Double.init) }
            // The direction in residual space: Δw = W_U[answer] − W_U[wrong], through the norm's gain.
            let delta = norm.delta(answer: answers[b], wrong: wrongs?[b])
            let finalResid = vec(HookName.resid(dims.layers))
            let scale = norm.frozenScale(finalResid)
            func contribution(_ x: [Double]) -> Double { norm.project(x, delta: delta, scale: scale) }
            var comps: [Component] = []
            comps.append(Component(name: "embed", kind: .embed, layer: nil, head: nil, value: contribution(vec(HookName.embed))))
            if dims.maxPositions != nil {
                comps.append(Component(name: "pos_embed", kind: .posEmbed, layer: nil, head: nil, value: contribution(vec(HookName.posEmbed))))
            }
            for l in 0..<dims.layers {
                let result = cache[HookName.result(l)]!.select(axis: 0, b).select(axis: 0, pos)   // [heads, dModel]
                var headSum = [Double](repeating: 0, count: dims.dModel)
                for h in 0..<dims.heads {
                    let v = result.select(axis: 0, h).scalars.map(Double.init)
                    for i in v.indices { headSum[i] += v[i] }
                    comps.append(Component(name: "L\(l)H\(h)", kind: .head, layer: l, head: h, value: contribution(v)))
                }
                // Whatever the attention output has beyond the heads' sum: the output bias (GPT-2).
                let attn = vec(HookName.attnOut(l))
                let bias = zip(attn, headSum).map { $0 - $1 }
                if bias.contains(where: { abs($0) > 0 }) {
                    comps.append(Component(name: "L\(l) attn bias", kind: .attnBias, layer: l, head: nil, value: contribution(bias)))
                }
                comps.append(Component(name: "L\(l) MLP", kind: .mlp, layer: l, head: nil, value: contribution(vec(HookName.mlpOut(l)))))
            }
            if let nb = norm.biasTerm(delta: delta) {
                comps.append(Component(name: "ln_final bias", kind: .normBias, layer: nil, head: nil, value: nb))
            }
            let row = logits.select(axis: 0, b).select(axis: 0, pos)
            let total = Double(row[answers[b]]) - (wrongs.map { Double(row[$0[b]]) } ?? 0)
            results.append(DirectLogitAttribution(ids: ids, position: pos, answer: answers[b], wrong: wrongs?[b],
                                                  components: comps, total: total))
        }
        return results
    }
}

/// The final norm of a decoder seen as a linear map with a frozen scale.
struct FinalNorm {
    enum Kind { case rms, layer }
    let kind: Kind
    let gain: [Double]
    let bias: [Double]?
    let eps: Double
    let unembedding: Tensor   // [vocab, dModel]

    init(_ model: any TransformerModel) throws {
        if let m = model as? LlamaModel {
            kind = .rms; gain = m.finalNorm.scalars.map(Double.init); bias = nil
            eps = Double(m.config.rmsNormEps); unembedding = m.unembedding
        } else if let m = model as? GPT2Model {
            kind = .layer; gain = m.lnFinalWeight.scalars.map(Double.init); bias = m.lnFinalBias.scalars.map(Double.init)
            eps = Double(m.config.layerNormEpsilon); unembedding = m.tokenEmbedding
        } else {
            throw LensAttentionError.invalidInput("dla: supported for Llama and GPT-2 models, not \(model.architecture.rawValue)")
        }
    }

    func row(_ id: Int) -> [Double] { unembedding.select(axis: 0, id).scalars.map(Double.init) }

    /// Δw = W_U[answer] − W_U[wrong] (or W_U[answer]).
    func delta(answer: Int, wrong: Int?) -> [Double] {
        var w = row(answer)
        if let wrong { let v = row(wrong); for i in w.indices { w[i] -= v[i] } }
        return w
    }

    /// 1 / rms(x) (RMSNorm) or 1 / std(x) (LayerNorm) of the final residual.
    func frozenScale(_ x: [Double]) -> Double {
        let n = Double(x.count)
        switch kind {
        case .rms:
            return 1 / (x.reduce(0) { $0 + $1 * $1 } / n + eps).squareRoot()
        case .layer:
            let mu = x.reduce(0, +) / n
            return 1 / (x.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / n + eps).squareRoot()
        }
    }

    /// The logit contribution of a residual component x: scale · ((x or centred x) ⊙ gain) · Δw.
    func project(_ x: [Double], delta: [Double], scale: Double) -> Double {
        let mu = kind == .layer ? x.reduce(0, +) / Double(x.count) : 0
        var s = 0.0
        for i in x.indices { s += (x[i] - mu) * gain[i] * delta[i] }
        return s * scale
    }

    /// The final norm's bias through the unembedding, β · Δw (LayerNorm only).
    func biasTerm(delta: [Double]) -> Double? {
        bias.map { b in zip(b, delta).reduce(0) { $0 + $1.0 * $1.1 } }
    }
}
