import Foundation
import GlassboxModels
import GlassboxTensor

/// A direction in the residual stream entering block `layer` (`blocks.<layer>.hook_resid_pre`,
/// residual index r = layer), computed from contrast prompts as the difference of the mean
/// activations of the positive and the negative prompts.
///
/// This is the steering vector of Activation Addition (Turner et al., arXiv 2308.10248),
/// averaged over several contrast pairs, and the difference-in-means refusal direction of
/// Arditi et al. (arXiv 2406.11717) when the two sets are harmful and harmless instructions.
public struct SteeringVector: Sendable, Codable, Equatable {
    /// The block whose input (resid_pre) the vector is read at and added to.
    public var layer: Int
    /// [dModel]: mean(positive) − mean(negative).
    public var vector: [Float]
    /// How each prompt was read.
    public var readout: TokenReadout
    public var positiveCount: Int
    public var negativeCount: Int

    public init(layer: Int, vector: [Float], readout: TokenReadout = .last, positiveCount: Int = 0, negativeCount: Int = 0) {
        self.layer = layer
        self.vector = vector
        self.readout = readout
        self.positiveCount = positiveCount
        self.negativeCount = negativeCount
    }

    /// The hook point the vector belongs to.
    public var hookName: String { HookName.residPre(layer) }

    /// Euclidean norm of `vector`.
    public var norm: Double { Vectors.norm(vector.map(Double.init)) }

    /// `vector` scaled to unit norm (the zero vector stays zero).
    public var unit: [Float] {
        let n = norm
        return n > 0 ? vector.map { Float(Double($0) / n) } : vector
    }

    /// Difference of means at `layer` between `positive` and `negative` prompts (token ids).
    public static func differenceOfMeans(_ model: any TransformerModel, positive: [[Int]], negative: [[Int]],
                                         layer: Int, readout: TokenReadout = .last, batchSize: Int = 16) throws -> SteeringVector {
        let layers = model.dimensions.layers
        guard layer >= 0 && layer < layers else {
            throw SteeringProbeError.invalidArgument(name: "layer", value: "\(layer)", expected: "0..<\(layers) (the block whose resid_pre is steered)")
        }
        guard !positive.isEmpty, !negative.isEmpty else {
            throw SteeringProbeError.invalidArgument(name: "contrast prompts", value: "\(positive.count) positive, \(negative.count) negative", expected: "at least one of each")
        }
        let pos = try ResidualActivations.collect(model, prompts: positive, indices: [layer], readout: readout, batchSize: batchSize)
        let neg = try ResidualActivations.collect(model, prompts: negative, indices: [layer], readout: readout, batchSize: batchSize)
        return differenceOfMeans(positive: pos[layer], negative: neg[layer], layer: layer, readout: readout)
    }

    /// Difference of means of already collected activations ([n][dModel] each).
    public static func differenceOfMeans(positive: [[Float]], negative: [[Float]], layer: Int, readout: TokenReadout = .last) -> SteeringVector {
        let mp = Vectors.mean(positive), mn = Vectors.mean(negative)
        return SteeringVector(layer: layer, vector: zip(mp, mn).map { Float($0 - $1) }, readout: readout,
                              positiveCount: positive.count, negativeCount: negative.count)
    }
}

/// An edit of the forward pass by a direction.
public enum SteeringIntervention: Sendable {
    /// Activation addition (arXiv 2308.10248): `x ← x + coefficient · v` at the vector's
    /// resid_pre, at every position (prompt and generated tokens).
    case add(SteeringVector, coefficient: Float)
    /// Directional ablation (arXiv 2406.11717 §2.4): `x ← x − (x·r̂) r̂` with r̂ the unit
    /// direction, at every layer (resid_pre, resid_mid and resid_post of each block) and every
    /// position, so no component along r̂ is ever written to the residual stream.
    case ablate(direction: [Float])

    /// The hooks that apply the intervention to a model with `layers` blocks.
    public func hooks(layers: Int) -> Hooks {
        var hooks = Hooks()
        switch self {
        case let .add(v, coefficient):
            let delta = Tensor(shape: [v.vector.count], scalars: v.vector.map { $0 * coefficient })  // [dModel]
            hooks.addTo(v.hookName, delta)
        case let .ablate(direction):
            let n = Vectors.norm(direction.map(Double.init))
            guard n > 0 else { return hooks }
            let unit = Tensor(shape: [direction.count, 1], scalars: direction.map { Float(Double($0) / n) })  // [dModel, 1]
            let row = unit.reshaped([1, direction.count])                                                  // [1, dModel]
            let project: HookFunction = { x in
                let d = x.shape[x.rank - 1]
                let flat = x.reshaped([x.count / d, d])            // [b·t, dModel]
                let coefficient = flat.matmul(unit)                 // [b·t, 1]
                return (flat - coefficient * row).reshaped(x.shape)  // [b, t, dModel]
            }
            for l in 0..<layers {
                hooks.add(HookName.residPre(l), project)
                hooks.add(HookName.residMid(l), project)
                hooks.add(HookName.residPost(l), project)
            }
        }
        return hooks
    }
}

/// Steered and unsteered continuations of one prompt.
public struct SteeredGeneration: Sendable, Codable, Equatable {
    public var unsteered: GenerationResult
    public var steered: GenerationResult

    /// Greedy (deterministic) generation of `prompt` with and without `intervention`
    /// (the hooks apply at every decoding step).
    public static func run(_ model: any TransformerModel, prompt: [Int], intervention: SteeringIntervention,
                           maxTokens: Int, stopTokens: Set<Int> = []) throws -> SteeredGeneration {
        let plain = try model.generate(prompt: prompt, maxTokens: maxTokens, sampling: .greedy, stopTokens: stopTokens)
        let steered = try model.generate(prompt: prompt, maxTokens: maxTokens, sampling: .greedy, stopTokens: stopTokens,
                                         hooks: intervention.hooks(layers: model.dimensions.layers))
        return SteeredGeneration(unsteered: plain, steered: steered)
    }
}

/// Next-token log-probabilities at the last position of prompts under an intervention.
public enum SteeredLogProbs {
    /// For each prompt, the log-probability of each of `tokens` at its last position
    /// (`[prompt][token]`), with `hooks` applied; prompts run in right-padded batches.
    public static func logProbs(_ model: any TransformerModel, prompts: [[Int]], tokens: [Int], hooks: Hooks = Hooks(),
                                batchSize: Int = 16) throws -> [[Double]] {
        var out: [[Double]] = []
        var start = 0
        while start < prompts.count {
            let chunk = Array(prompts[start..<min(prompts.count, start + batchSize)])
            let batch = TokenBatch(sequences: chunk, padding: .right)
            let logits = try model.runWithHooks(batch, hooks: hooks).logits!   // [b, t, vocab]
            for b in 0..<chunk.count {
                let row = logits.select(axis: 0, b).select(axis: 0, batch.lastPosition(b)).logSoftmax().scalars  // [vocab]
                out.append(tokens.map { Double(row[$0]) })
            }
            start += chunk.count
        }
        return out
    }
}
