import Foundation
import GlassboxModels
import GlassboxTensor

/// Causal tracing (arXiv 2202.05262, "Locating and Editing Factual Associations in GPT", §2.1):
/// corrupt a factual prompt by adding Gaussian noise to the embeddings of the subject's
/// tokens, then restore one clean state at a time and measure how much of the probability of
/// the correct answer comes back. The noise standard deviation is `noiseMultiplier` (3 in the
/// paper) times the standard deviation of subject-token embeddings over a prompt set; each
/// restoration is averaged over `samples` seeded noise draws.
///
/// Kinds: the hidden state (residual stream after block l, `hook_resid_post`) at one layer,
/// or the MLP / attention outputs of a window of `window` layers centred on l (the paper's 10),
/// at one token position.
public struct CausalTracing {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case hidden, mlp, attention
    }

    public let model: any TransformerModel
    /// The absolute noise standard deviation (multiplier × subject-embedding std).
    public var noiseStd: Float
    public var samples: Int
    public var window: Int
    public var seed: UInt64
    /// Copies per forward pass.
    public var batchSize: Int

    public init(model: any TransformerModel, noiseStd: Float, samples: Int = 10, window: Int = 10, seed: UInt64 = 0, batchSize: Int? = nil) throws {
        try PatchRun.requireLogits(model)
        guard samples >= 1 else { throw PatchingError.invalidInput("causal tracing needs at least one noise sample, got \(samples)") }
        guard window >= 1 else { throw PatchingError.invalidInput("the restoration window must be at least 1 layer, got \(window)") }
        guard noiseStd.isFinite, noiseStd >= 0 else { throw PatchingError.invalidInput("noise std must be a finite non-negative number, got \(noiseStd)") }
        self.model = model
        self.noiseStd = noiseStd
        self.samples = samples
        self.window = window
        self.seed = seed
        self.batchSize = batchSize ?? 256
    }

    /// The standard deviation of the embedding entries of all subject tokens of a prompt set
    /// (the paper's σ: "3 times the empirical standard deviation of embeddings").
    public static func subjectEmbeddingStd(model: any TransformerModel, subjects: [[Int]]) throws -> Float {
        let ids = subjects.flatMap { $0 }
        guard !ids.isEmpty else { throw PatchingError.invalidInput("no subject tokens to measure the embedding spread on") }
        let embedded = try model.runWithCache(TokenBatch(ids), names: [HookName.embed]).cache[HookName.embed]!
        let v = embedded.scalars.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count)
        return Float(variance.squareRoot())
    }

    /// Where `subject` occurs in `ids` (the last occurrence), or nil.
    public static func locate(_ subject: [Int], in ids: [Int]) -> Range<Int>? {
        guard !subject.isEmpty, subject.count <= ids.count else { return nil }
        for start in stride(from: ids.count - subject.count, through: 0, by: -1) where Array(ids[start..<(start + subject.count)]) == subject {
            return start..<(start + subject.count)
        }
        return nil
    }

    /// The layers restored together for a cell at `layer`: [l − w/2, l + w/2) clipped (the paper's code).
    public func windowLayers(_ layer: Int) -> [Int] {
        let n = model.dimensions.layers
        return Array(max(0, layer - window / 2)..<min(n, layer + (window + 1) / 2))
    }

    /// Traces `ids` with the subject at `subject`, measuring the probability of `answer` at the
    /// last position, for `kind`. Positions before the subject are not run: restoring them
    /// cannot change anything (the noise only reaches later positions), so their effect is 0.
    /// `positions` limits the traced positions (nil: all); the others are NaN in the grid.
    public func run(ids: [Int], subject: Range<Int>, answer: Int, kind: Kind, positions only: [Int]? = nil,
                    progress: (Double) -> Void = { _ in }) throws -> CausalTraceResult {
        let dims = model.dimensions
        guard subject.lowerBound >= 0, subject.upperBound <= ids.count, !subject.isEmpty else {
            throw PatchingError.invalidInput("subject tokens \(subject) are not inside the prompt's \(ids.count) tokens")
        }
        guard answer >= 0 && answer < dims.vocabularySize else {
            throw PatchingError.invalidInput("answer token id \(answer) is outside the vocabulary (0..<\(dims.vocabularySize))")
        }
        let t = ids.count, d = dims.dModel
        let hook: (Int) -> String = { l in
            switch kind {
            case .hidden: return HookName.residPost(l)
            case .mlp: return HookName.mlpOut(l)
            case .attention: return HookName.attnOut(l)
            }
        }
        let (cleanOut, cache) = try model.runWithCache(TokenBatch(ids), names: Set((0..<dims.layers).map(hook)),
                                                       logitPositions: PatchRun.lastOnly(t))
        let cleanP = Double(PatchMetric.probability(answer: answer).evaluate(PatchRun.lastLogits(cleanOut), cleanLogProbs: nil).scalars[0])

        // Noise [samples, t, d]: zero outside the subject, seeded per sample.
        var g = SeededGenerator(seed: seed)
        let noise = Tensor(shape: [samples, t * d]) { buf in
            buf.initialize(repeating: 0)
            for s in 0..<samples {
                for p in subject { for i in 0..<d { buf[(s * t + p) * d + i] = noiseStd * g.nextNormal() } }
            }
        }

        // Cells: (layer, position) for positions from the subject on; copies: cell × sample (+ the unrestored runs).
        struct Copy { var layer: Int?; var position: Int; var sample: Int }
        var copies = (0..<samples).map { Copy(layer: nil, position: 0, sample: $0) }
        let positions = Array(subject.lowerBound..<t).filter { only?.contains($0) ?? true }
        for l in 0..<dims.layers { for p in positions { for s in 0..<samples { copies.append(Copy(layer: l, position: p, sample: s)) } } }

        // Positions before the subject are the clean run's own: run them once (a KV cache) and
        // every copy from the subject on.
        let s0 = subject.lowerBound, n = t - s0
        var prefixCache: KVCache?
        if s0 > 0 {
            let cache = KVCache(layers: dims.layers, batch: 1)
            _ = model.forward(TokenBatch(ids), run: HookRun(logitPositions: PatchRun.lastOnly(t)), cache: cache)
            prefixCache = cache
        }
        let suffixNoise = noise.reshaped([samples, t, d]).slice(axis: 1, s0..<t).contiguous().reshaped([samples, n * d])
        var probs = [Double](repeating: 0, count: copies.count)
        var start = 0
        while start < copies.count {
            let chunk = Array(copies[start..<min(copies.count, start + batchSize)])
            var hooks = Hooks()
            let chunkNoise = suffixNoise.indexSelect(chunk.map(\.sample), axis: 0).reshaped([chunk.count, n, d])   // [copies, n, d]
            hooks.add(HookName.embed) { $0 + chunkNoise }
            var masks: [Int: [Float]] = [:]                               // layer → [copies * t]
            for (c, copy) in chunk.enumerated() {
                guard let l = copy.layer else { continue }
                for r in (kind == .hidden ? [l] : windowLayers(l)) {
                    masks[r, default: [Float](repeating: 0, count: chunk.count * n)][c * n + copy.position - s0] = 1
                }
            }
            for (r, values) in masks {
                let mask = Tensor(shape: [chunk.count, n, 1], scalars: values)
                let keep = 1 - mask, restored = cache[hook(r)]!.slice(axis: 1, s0..<t).contiguous() * mask
                hooks.add(hook(r)) { $0 * keep + restored }
            }
            let suffix = PatchRun.replicated(Array(ids[s0...]), chunk.count)
            let out = model.forward(suffix, run: HookRun(hooks: hooks, logitPositions: PatchRun.lastOnly(n)),
                                    cache: prefixCache?.prefix(s0, copies: chunk.count))
            let p = PatchMetric.probability(answer: answer).evaluate(PatchRun.lastLogits(out), cleanLogProbs: nil).scalars
            for (c, v) in p.enumerated() { probs[start + c] = Double(v) }
            start += chunk.count
            progress(Double(start) / Double(copies.count))
        }

        let corruptP = Statistics.mean(Array(probs[0..<samples]))
        var grid = [[Double]](repeating: (0..<t).map { $0 < subject.lowerBound ? corruptP : .nan }, count: dims.layers)
        var k = samples
        for l in 0..<dims.layers {
            for p in positions {
                grid[l][p] = Statistics.mean(Array(probs[k..<(k + samples)]))
                k += samples
            }
        }
        return CausalTraceResult(kind: kind.rawValue, clean: cleanP, corrupt: corruptP, subject: subject.lowerBound..<subject.upperBound,
                                 grid: grid, noiseStd: Double(noiseStd), samples: samples, window: kind == .hidden ? 1 : window)
    }
}

/// The restored probability of the answer per layer × position, averaged over noise samples.
public struct CausalTraceResult: Sendable, Codable, Equatable {
    public var kind: String
    /// p(answer) on the clean prompt and on the noised prompt (mean over samples).
    public var clean: Double
    public var corrupt: Double
    /// The subject's token positions.
    public var subject: Range<Int>
    /// grid[layer][position]: p(answer) with that state restored.
    public var grid: [[Double]]
    public var noiseStd: Double
    public var samples: Int
    public var window: Int

    /// The indirect effect of each state: restored p − corrupted p.
    public var indirectEffect: [[Double]] { grid.map { $0.map { $0 - corrupt } } }
}
