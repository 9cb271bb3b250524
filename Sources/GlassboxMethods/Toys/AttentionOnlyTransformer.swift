import Foundation
import GlassboxTensor

/// Attention-only transformers and induction heads — Olsson et al. 2022, "In-context Learning
/// and Induction Heads", arXiv 2209.11895.
///
/// A transformer with only attention layers (token and learned positional embeddings, L
/// layers of multi-head attention added to the residual stream, an unembedding; no MLP, no
/// LayerNorm) is trained on next-token prediction over sequences made of random tokens whose
/// last part repeats a random segment: [noise][segment][segment]. The segment length is drawn
/// per sequence, so the second copy can be predicted only by finding the current token's
/// earlier occurrence and copying the token after it: an induction head, which needs a
/// previous-token head in an earlier layer. Two layers form one; one layer cannot.
public struct AttentionOnlyTransformer: Sendable {
    public struct Configuration: Codable, Sendable, Equatable {
        public var vocabulary: Int
        public var sequenceLength: Int
        /// The repeated segment's length is uniform in this closed range.
        public var minSegment: Int
        public var maxSegment: Int
        public var layers: Int
        public var heads: Int
        public var dModel: Int
        public var dHead: Int
        public var steps: Int
        public var batchSize: Int
        public var learningRate: Float
        public var weightDecay: Float
        public var seed: UInt64
        /// Measure the scores on the evaluation batch every this many steps.
        public var evalEvery: Int
        public var evalBatchSize: Int

        public init(vocabulary: Int = 32, sequenceLength: Int = 24, minSegment: Int = 4, maxSegment: Int = 10,
                    layers: Int = 2, heads: Int = 2, dModel: Int = 32, dHead: Int = 16, steps: Int = 2000,
                    batchSize: Int = 64, learningRate: Float = 1e-2, weightDecay: Float = 0.01, seed: UInt64 = 0,
                    evalEvery: Int = 100, evalBatchSize: Int = 64) {
            self.vocabulary = vocabulary
            self.sequenceLength = sequenceLength
            self.minSegment = minSegment
            self.maxSegment = maxSegment
            self.layers = layers
            self.heads = heads
            self.dModel = dModel
            self.dHead = dHead
            self.steps = steps
            self.batchSize = batchSize
            self.learningRate = learningRate
            self.weightDecay = weightDecay
            self.seed = seed
            self.evalEvery = evalEvery
            self.evalBatchSize = evalBatchSize
        }

        func validate() throws {
            for (v, f) in [(vocabulary, "vocabulary"), (layers, "layers"), (heads, "heads"), (dModel, "dModel"), (dHead, "dHead"),
                           (steps, "steps"), (batchSize, "batchSize"), (evalEvery, "evalEvery"), (evalBatchSize, "evalBatchSize")] {
                try requirePositive(v, f)
            }
            if minSegment < 2 || maxSegment < minSegment {
                throw ToyModelError.invalidConfiguration(field: "minSegment…maxSegment", value: "\(minSegment)…\(maxSegment)",
                                                         expected: "2 ≤ minSegment ≤ maxSegment")
            }
            if 2 * maxSegment > sequenceLength {
                throw ToyModelError.invalidConfiguration(field: "sequenceLength", value: "\(sequenceLength)",
                                                         expected: "at least 2 × maxSegment = \(2 * maxSegment)")
            }
        }

        var shapes: [(String, [Int])] {
            let hd = heads * dHead
            var s: [(String, [Int])] = [("W_E", [vocabulary, dModel]), ("W_pos", [sequenceLength, dModel])]
            for l in 0..<layers {
                s += [("blocks.\(l).attn.W_Q", [hd, dModel]), ("blocks.\(l).attn.W_K", [hd, dModel]),
                      ("blocks.\(l).attn.W_V", [hd, dModel]), ("blocks.\(l).attn.W_O", [dModel, hd])]
            }
            return s + [("W_U", [vocabulary, dModel])]
        }
    }

    /// A batch of sequences [noise][segment][segment]; `segmentLengths[i]` is L for sequence i,
    /// whose second copy starts at position sequenceLength − L.
    public struct Batch: Sendable {
        public var tokens: [[Int]]
        public var segmentLengths: [Int]
    }

    public let configuration: Configuration
    public internal(set) var parameters: [Tensor]

    /// Seeded initialisation: embeddings N(0, 0.1²), every other matrix N(0, 1/fan-in).
    public init(_ configuration: Configuration) throws {
        try configuration.validate()
        self.configuration = configuration
        var rng = SeededGenerator(seed: configuration.seed)
        parameters = configuration.shapes.map { name, shape in
            let std: Float = name == "W_E" || name == "W_pos" ? 0.1 : Float(1 / Double(shape[1]).squareRoot())
            return Tensor.randomNormal(shape, std: std, using: &rng)
        }
    }

    public static func sampleBatch(_ c: Configuration, size: Int, using rng: inout SeededGenerator) -> Batch {
        var tokens: [[Int]] = [], lengths: [Int] = []
        for _ in 0..<size {
            let l = c.minSegment + rng.nextInt(below: c.maxSegment - c.minSegment + 1)
            var seq = (0..<(c.sequenceLength - l)).map { _ in rng.nextInt(below: c.vocabulary) }
            seq += seq[(c.sequenceLength - 2 * l)..<(c.sequenceLength - l)]
            tokens.append(seq); lengths.append(l)
        }
        return Batch(tokens: tokens, segmentLengths: lengths)
    }

    /// Logits [B, T, vocab] and attention patterns per layer [B, H, T(query), T(key)].
    /// `ablated` heads (layer, head) have their output zeroed.
    static func forward(_ w: [Tensor], _ c: Configuration, tokens: [[Int]], ablated: Set<[Int]> = []) -> (logits: Tensor, patterns: [Tensor]) {
        let b = tokens.count, t = c.sequenceLength, h = c.heads, dh = c.dHead, d = c.dModel
        var x = Tensor.embedding(w[0], ids: tokens.flatMap { $0 }).reshaped([b, t, d]) + w[1]   // [B, T, d]
        var patterns: [Tensor] = []
        let scale = Float(1 / Double(dh).squareRoot())
        for l in 0..<c.layers {
            let base = 2 + 4 * l
            // 2-D products: a batched [B, T, d]·Wᵀ would form a per-sequence weight gradient in backward
            let flat = x.reshaped([b * t, d])                                                   // [B·T, d]
            let q = flat.linear(weight: w[base]).reshaped([b, t, h, dh]).permuted([0, 2, 1, 3])     // [B, H, T, dh]
            let k = flat.linear(weight: w[base + 1]).reshaped([b, t, h, dh]).permuted([0, 2, 3, 1]) // [B, H, dh, T]
            let v = flat.linear(weight: w[base + 2]).reshaped([b, t, h, dh]).permuted([0, 2, 1, 3]) // [B, H, T, dh]
            let pattern = (q.matmul(k) * scale).causallyMasked().softmax(axis: -1)              // [B, H, T, T]
            patterns.append(pattern.detached())
            var z = pattern.matmul(v)                                                            // [B, H, T, dh]
            let dropped = (0..<h).filter { ablated.contains([l, $0]) }
            if !dropped.isEmpty {
                z = z * Tensor(shape: [1, h, 1, 1], scalars: (0..<h).map { dropped.contains($0) ? 0 : 1 })
            }
            let merged = z.permuted([0, 2, 1, 3]).contiguous().reshaped([b * t, h * dh])         // [B·T, H·dh]
            x = x + merged.linear(weight: w[base + 3]).reshaped([b, t, d])                       // [B, T, d]
        }
        return (x.reshaped([b * t, d]).linear(weight: w[w.count - 1]).reshaped([b, t, c.vocabulary]), patterns) // [B, T, vocab]
    }

    /// Next-token cross-entropy at every position but the last.
    static func loss(_ logits: Tensor, tokens: [[Int]], vocabulary: Int) -> Tensor {
        let b = tokens.count, t = tokens[0].count
        let flat = logits.slice(axis: 1, 0..<(t - 1)).reshaped([b * (t - 1), vocabulary])
        return flat.crossEntropy(targets: tokens.flatMap { $0.dropFirst() })
    }

    /// Attention patterns per layer, [B, H, T(query), T(key)], of the current weights on `tokens`.
    public func attentionPatterns(_ tokens: [[Int]]) -> [Tensor] {
        Self.forward(parameters, configuration, tokens: tokens).patterns
    }

    /// Scores and losses of the current weights on a batch.
    public func evaluate(_ batch: Batch, ablated: Set<[Int]> = []) -> InductionMeasurement {
        let c = configuration, t = c.sequenceLength
        let (logits, patterns) = Self.forward(parameters, c, tokens: batch.tokens, ablated: ablated)
        let logp = logits.logSoftmax(axis: -1).contiguous().scalars   // [B, T, V]
        var second: Double = 0, nSecond = 0, first: Double = 0, nFirst = 0
        for (i, seq) in batch.tokens.enumerated() {
            let l = batch.segmentLengths[i], start2 = t - l, start1 = t - 2 * l
            for pos in 0..<(t - 1) {
                let nll = -Double(logp[(i * t + pos) * c.vocabulary + seq[pos + 1]])
                if pos + 1 > start2 { second += nll; nSecond += 1 }          // predictable from the first copy
                else if pos + 1 > start1 && pos + 1 < start2 { first += nll; nFirst += 1 }
            }
        }
        var induction: [[Float]] = [], previous: [[Float]] = []
        for p in patterns {
            let a = p.contiguous().scalars                              // [B, H, T, T]
            var ind = [Float](repeating: 0, count: c.heads), prev = [Float](repeating: 0, count: c.heads)
            for hh in 0..<c.heads {
                var si: Double = 0, ni = 0, sp: Double = 0, np = 0
                for i in 0..<batch.tokens.count {
                    let l = batch.segmentLengths[i]
                    let m = ((i * c.heads) + hh) * t * t
                    for q in 1..<t { sp += Double(a[m + q * t + q - 1]); np += 1 }
                    for q in (t - l)..<t { si += Double(a[m + q * t + q - l + 1]); ni += 1 }
                }
                ind[hh] = Float(si / Double(max(ni, 1))); prev[hh] = Float(sp / Double(max(np, 1)))
            }
            induction.append(ind); previous.append(prev)
        }
        let secondLoss = Float(second / Double(max(nSecond, 1))), firstLoss = Float(first / Double(max(nFirst, 1)))
        return InductionMeasurement(loss: Self.loss(logits, tokens: batch.tokens, vocabulary: c.vocabulary).item,
                                    secondCopyLoss: secondLoss, firstCopyLoss: firstLoss,
                                    inContextLearningScore: secondLoss - firstLoss,
                                    inductionScores: induction, previousTokenScores: previous)
    }

    public mutating func train(progress: ToyProgressHandler? = nil) -> AttentionOnlyResult {
        let c = configuration
        var rng = SeededGenerator(seed: c.seed &+ 0xDA7A)
        var evalRng = SeededGenerator(seed: c.seed &+ 0xE7A1)
        let evalBatch = Self.sampleBatch(c, size: c.evalBatchSize, using: &evalRng)
        var opt = Adam.adamW(learningRate: .constant(c.learningRate), weightDecay: c.weightDecay)
        var params = parameters
        parameters = []
        var curve: [AttentionOnlyCurvePoint] = []
        for step in 1...c.steps {
            let batch = Self.sampleBatch(c, size: c.batchSize, using: &rng)
            let (loss, grads) = valueWithGradient(at: params) { w in
                Self.loss(Self.forward(w, c, tokens: batch.tokens).logits, tokens: batch.tokens, vocabulary: c.vocabulary)
            }
            opt.step(&params, grads)
            if step % c.evalEvery == 0 || step == c.steps {
                parameters = params
                let m = evaluate(evalBatch)
                parameters = []
                curve.append(AttentionOnlyCurvePoint(step: step, trainLoss: loss.item, measurement: m))
                progress?(ToyTrainingProgress(task: "attention-only-\(c.layers)L", step: step, totalSteps: c.steps, loss: loss.item,
                                              metrics: ["second_copy_loss": m.secondCopyLoss, "max_induction_score": m.maxInductionScore]))
            }
        }
        parameters = params
        let final = evaluate(evalBatch)
        var ablation: [HeadAblation] = []
        for l in 0..<c.layers {
            for hh in 0..<c.heads {
                let m = evaluate(evalBatch, ablated: [[l, hh]])
                ablation.append(HeadAblation(layer: l, head: hh, secondCopyLoss: m.secondCopyLoss,
                                             increase: m.secondCopyLoss - final.secondCopyLoss))
            }
        }
        return AttentionOnlyResult(model: self, curve: curve, final: final, headAblations: ablation)
    }

    /// Saves the parameters (and the configuration, as JSON metadata) to a safetensors file.
    public func save(to url: URL) throws {
        try saveToyWeights(configuration, model: "attention-only", names: configuration.shapes.map { $0.0 }, parameters: parameters, to: url)
    }

    /// Loads a model written by `save(to:)`.
    public static func load(from url: URL) throws -> AttentionOnlyTransformer {
        let (c, params) = try loadToyWeights(Configuration.self, model: "attention-only", from: url) { $0.shapes }
        var model = try AttentionOnlyTransformer(c)
        model.parameters = params
        return model
    }
}

/// Losses and head scores on an evaluation batch.
public struct InductionMeasurement: Sendable, Equatable {
    /// Mean next-token loss over all positions.
    public var loss: Float
    /// Mean loss on tokens of the second copy that the first copy predicts.
    public var secondCopyLoss: Float
    /// Mean loss on tokens of the first copy (unpredictable: about ln vocabulary).
    public var firstCopyLoss: Float
    /// secondCopyLoss − firstCopyLoss: the paper's "late minus early loss", negative when the
    /// model learns in context.
    public var inContextLearningScore: Float
    /// [layer][head]: mean attention from a second-copy token to the token after its earlier occurrence.
    public var inductionScores: [[Float]]
    /// [layer][head]: mean attention to the previous token.
    public var previousTokenScores: [[Float]]

    public var maxInductionScore: Float { inductionScores.flatMap { $0 }.max() ?? 0 }
}

public struct AttentionOnlyCurvePoint: Sendable, Equatable {
    public var step: Int
    public var trainLoss: Float
    public var measurement: InductionMeasurement
}

public struct HeadAblation: Sendable, Equatable {
    public var layer: Int
    public var head: Int
    /// Second-copy loss with this head's output zeroed.
    public var secondCopyLoss: Float
    /// Its rise over the unablated model.
    public var increase: Float
}

public struct AttentionOnlyResult: Sendable {
    public var model: AttentionOnlyTransformer
    public var curve: [AttentionOnlyCurvePoint]
    public var final: InductionMeasurement
    public var headAblations: [HeadAblation]
}
