import Foundation
import GlassboxModels
import GlassboxTensor

/// The scalar an attribution explains, read from the model's output at the last position of
/// the prompt (the next-token prediction).
public enum AttributionTarget: @unchecked Sendable {
    /// The logit of a token.
    case logit(Int)
    /// The log-probability of a token (log-softmax over the vocabulary).
    case logProb(Int)
    /// logit[a] − logit[b].
    case logitDifference(Int, Int)
    /// Any scalar function of the output: given the output of a batch of k runs, returns [k].
    /// Its `logits` cover every position ([k, length, vocab]).
    case custom((ModelOutput) -> Tensor)

    /// The token ids the target reads (for range checks and display).
    public var tokens: [Int] {
        switch self {
        case .logit(let a), .logProb(let a): return [a]
        case .logitDifference(let a, let b): return [a, b]
        case .custom: return []
        }
    }

    /// Positions to project to logits: only the last one unless the target is custom.
    func logitPositions(length: Int) -> [Int]? {
        if case .custom = self { return nil }
        return [length - 1]
    }

    /// The target's value per batch row [k] from an output whose logits are [k, 1, vocab]
    /// (or all positions for `.custom`).
    func value(_ out: ModelOutput) -> Tensor {
        if case .custom(let f) = self { return f(out) }
        let logits = out.logits!
        let k = logits.shape[0], vocab = logits.shape[logits.rank - 1]
        let last = logits.select(axis: 1, logits.shape[1] - 1)      // [k, vocab]
        switch self {
        case .logit(let a): return last.gatherLast([Int](repeating: a, count: k))
        case .logProb(let a): return last.logSoftmax(axis: -1).gatherLast([Int](repeating: a, count: k))
        case .logitDifference(let a, let b):
            return last.gatherLast([Int](repeating: a, count: k)) - last.gatherLast([Int](repeating: b, count: k))
        case .custom: fatalError("unreachable (vocab \(vocab))")
        }
    }
}

/// The baseline of an attribution over a model's token embeddings.
public enum EmbeddingBaseline: @unchecked Sendable, Equatable {
    /// The all-zero embedding.
    case zero
    /// The embedding of one token (pad, unk, `<|endoftext|>` …) at every position — Captum's
    /// `LayerIntegratedGradients` with baseline ids.
    case token(Int)
    /// The mean of the embedding table at every position.
    case mean
    /// Any tensor of the activation's shape [length, dModel].
    case tensor(Tensor)

    public static func == (a: EmbeddingBaseline, b: EmbeddingBaseline) -> Bool {
        switch (a, b) {
        case (.zero, .zero), (.mean, .mean): return true
        case let (.token(x), .token(y)): return x == y
        case let (.tensor(x), .tensor(y)): return x.shape == y.shape && x.scalars == y.scalars
        default: return false
        }
    }
}

/// Attribution over a language model's input: the token embeddings (`hook_embed`, the
/// default) or any other hook point (layer attribution, as Captum's `Layer*` methods). The
/// model is run with the hook's activation replaced by the tensor being attributed; the
/// attributions per token are sums over the activation's last axis (d_model).
public struct ModelAttribution: @unchecked Sendable {
    public let model: any TransformerModel
    public let ids: [Int]
    public let target: AttributionTarget
    /// The hook point whose activation [length, ...] is attributed.
    public let hook: String

    public init(model: any TransformerModel, ids: [Int], target: AttributionTarget, hook: String = HookName.embed) throws {
        guard !ids.isEmpty else { throw AttributionError.invalidArgument("no tokens to attribute") }
        let vocab = model.dimensions.vocabularySize
        for id in ids + target.tokens where id < 0 || id >= vocab {
            throw AttributionError.invalidArgument("token id \(id) is out of range 0..<\(vocab)")
        }
        guard model.hookNames.contains(hook) else {
            throw AttributionError.invalidArgument("no hook point named '\(hook)' in \(model.architecture.rawValue)")
        }
        guard model.isCausal || { if case .custom = target { return true }; return false }() else {
            throw AttributionError.invalidArgument("\(model.architecture.rawValue) is an encoder: only a custom target applies")
        }
        self.model = model
        self.ids = ids
        self.target = target
        self.hook = hook
    }

    /// The target as a batched function of the hook's activation ([k, length, ...] → [k]).
    public var function: BatchedFunction {
        let model = self.model, ids = self.ids, target = self.target, hook = self.hook
        let positions = target.logitPositions(length: ids.count)
        return BatchedFunction(batched: { activation in
            let k = activation.shape[0]
            var hooks = Hooks()
            hooks.add(hook) { _ in activation }
            let out = model.forward(TokenBatch(sequences: [[Int]](repeating: ids, count: k)),
                                    run: HookRun(hooks: hooks, logitPositions: positions), cache: nil)
            return target.value(out)
        })
    }

    /// The hook's activation [length, ...] for the prompt (or for `other` ids of the same length).
    public func activation(for other: [Int]? = nil) throws -> Tensor {
        let prompt = other ?? ids
        let run = try model.runWithCache(TokenBatch(prompt), names: [hook],
                                         logitPositions: model.isCausal ? [prompt.count - 1] : nil)
        guard let a = run.cache[hook] else { throw AttributionError.invalidArgument("hook '\(hook)' was not reached") }
        return a.select(axis: 0, 0)
    }

    /// The baseline activation: for `hook_embed` any baseline; for other hooks, `.zero`,
    /// `.tensor`, or `.token(id)` — the activation of the prompt with every token set to id.
    public func baselineActivation(_ baseline: EmbeddingBaseline) throws -> Tensor {
        try baselineActivation(baseline, shape: try activation().shape)
    }

    /// The baseline for an activation of `shape` (already known: no forward pass to find it).
    func baselineActivation(_ baseline: EmbeddingBaseline, shape: [Int]) throws -> Tensor {
        switch baseline {
        case .zero: return Tensor.zeros(shape)
        case .tensor(let t):
            guard t.shape == shape else { throw AttributionError.invalidArgument("baseline tensor shape \(t.shape), expected \(shape) (the activation at \(hook))") }
            return t
        case .token(let id):
            guard id >= 0 && id < model.dimensions.vocabularySize else {
                throw AttributionError.invalidArgument("baseline token id \(id) is out of range 0..<\(model.dimensions.vocabularySize)")
            }
            return try activation(for: [Int](repeating: id, count: ids.count))
        case .mean:
            guard hook == HookName.embed, let table = ModelAttribution.embeddingTable(model) else {
                throw AttributionError.invalidArgument("the mean-embedding baseline applies to hook_embed of a model with a token embedding table")
            }
            let mean = table.mean(axes: [0], keepingDimensions: true)                 // [1, dModel]
            return (mean + Tensor.zeros(shape)).detached()
        }
    }

    /// The token embedding table [vocab, dModel] of the architectures Glassbox implements.
    public static func embeddingTable(_ model: any TransformerModel) -> Tensor? {
        if let m = model as? LlamaModel { return m.embed }
        if let m = model as? GPT2Model { return m.tokenEmbedding }
        if let m = model as? BERTModel { return m.wordEmbedding }
        return nil
    }

    /// Per-token sums over every axis but the first ([length, ...] → [length]).
    public static func perToken(_ attributions: Tensor) -> [Double] {
        let t = attributions.shape[0], inner = attributions.count / Swift.max(t, 1)
        let v = attributions.scalars
        return (0..<t).map { p in (0..<inner).reduce(0.0) { $0 + Double(v[p * inner + $1]) } }
    }

    // MARK: Methods

    /// Integrated gradients over the hook's activation.
    public func integratedGradients(baseline: EmbeddingBaseline = .zero, steps: Int = 50, rule: IntegrationRule = .gaussLegendre,
                                    internalBatchSize: Int = 50) throws -> IntegratedGradientsResult {
        let x = try activation()
        return try IntegratedGradients(function, steps: steps, rule: rule, internalBatchSize: internalBatchSize)
            .attribute(x, baseline: try baselineActivation(baseline, shape: x.shape))
    }

    public func saliency(absolute: Bool = true) throws -> GradientAttribution {
        Saliency(function, absolute: absolute).attribute(try activation())
    }

    public func gradientTimesInput() throws -> GradientAttribution {
        GradientTimesInput(function).attribute(try activation())
    }

    public func smoothGrad(samples: Int = 50, noiseLevel: Double = 0.15, seed: UInt64 = 0, internalBatchSize: Int = 25) throws -> GradientAttribution {
        try SmoothGrad(function, samples: samples, noiseLevel: noiseLevel, seed: seed, internalBatchSize: internalBatchSize)
            .attribute(try activation())
    }

    /// The coalition game over tokens: a token absent from a coalition has its activation row
    /// replaced by the baseline's (a replacement token, the mean embedding, zeros).
    public func game(baseline: EmbeddingBaseline, internalBatchSize: Int = 32) throws -> CoalitionGame {
        let x = try activation()
        return try CoalitionGame(function: function, input: x, baseline: try baselineActivation(baseline, shape: x.shape),
                                 internalBatchSize: internalBatchSize)
    }
}
