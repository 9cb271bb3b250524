import Foundation
import GlassboxTensor

/// Sparse autoencoders for dictionary learning on activations [n, d_in].
///
/// - `.relu`: ReLU encoder with an L1 penalty and unit-norm decoder columns — Cunningham et al.
///   2023, "Sparse Autoencoders Find Highly Interpretable Features in Language Models", arXiv 2309.08600.
/// - `.topK`: keep the k largest pre-activations, with the auxiliary loss that reconstructs the
///   residual from the top dead latents — Gao et al. 2024, "Scaling and evaluating sparse
///   autoencoders", arXiv 2406.04093.
/// - `.gated`: a gate path (Heaviside, carrying the L1 and an auxiliary reconstruction through a
///   frozen decoder) and a magnitude path sharing its directions (W_mag = exp(r_mag) ⊙ W_gate) —
///   Rajamanoharan et al. 2024, "Improving Dictionary Learning with Gated Sparse Autoencoders",
///   arXiv 2404.16014.
///
/// All take x − b_dec as the encoder input and reconstruct x̂ = f·W_decᵀ + b_dec, with decoder
/// columns renormalised to unit norm after every step. Train on any activation matrix.
public struct SparseAutoencoder: Sendable {
    public enum Kind: Codable, Sendable, Equatable {
        /// ReLU + L1 with coefficient `l1` (on Σ f per example).
        case relu(l1: Float)
        /// TopK with k active latents; `auxK` dead latents reconstruct the residual, weighted
        /// `auxCoefficient`; a latent is dead when it has not fired for `deadAfterSteps` steps.
        case topK(k: Int, auxK: Int, auxCoefficient: Float, deadAfterSteps: Int)
        /// Gated, with L1 coefficient `l1` on ReLU(π_gate).
        case gated(l1: Float)
    }

    public struct Configuration: Codable, Sendable, Equatable {
        public var inputDimension: Int
        public var latents: Int
        public var kind: Kind
        public var steps: Int
        public var batchSize: Int
        public var learningRate: Float
        public var seed: UInt64
        public var logEvery: Int

        public init(inputDimension: Int, latents: Int, kind: Kind, steps: Int = 2000, batchSize: Int = 256,
                    learningRate: Float = 1e-3, seed: UInt64 = 0, logEvery: Int = 100) {
            self.inputDimension = inputDimension
            self.latents = latents
            self.kind = kind
            self.steps = steps
            self.batchSize = batchSize
            self.learningRate = learningRate
            self.seed = seed
            self.logEvery = logEvery
        }

        func validate() throws {
            for (v, f) in [(inputDimension, "inputDimension"), (latents, "latents"), (steps, "steps"),
                           (batchSize, "batchSize"), (logEvery, "logEvery")] {
                try requirePositive(v, f)
            }
            if case .topK(let k, let auxK, _, let dead) = kind {
                if k <= 0 || k > latents {
                    throw ToyModelError.invalidConfiguration(field: "kind.topK.k", value: "\(k)", expected: "1…\(latents) (the latent count)")
                }
                if auxK < 0 || auxK > latents || dead <= 0 {
                    throw ToyModelError.invalidConfiguration(field: "kind.topK.auxK/deadAfterSteps", value: "\(auxK)/\(dead)",
                                                             expected: "auxK in 0…\(latents) and deadAfterSteps > 0")
                }
            }
        }

        var shapes: [(String, [Int])] {
            var s: [(String, [Int])] = [("W_enc", [latents, inputDimension]), ("b_enc", [latents]),
                                        ("W_dec", [inputDimension, latents]), ("b_dec", [inputDimension])]
            if case .gated = kind { s += [("r_mag", [latents]), ("b_mag", [latents])] }
            return s
        }
    }

    public let configuration: Configuration
    /// In `Configuration.shapes` order: W_enc [latents, d_in], b_enc, W_dec [d_in, latents]
    /// (column j is latent j's direction), b_dec, and for `.gated` r_mag, b_mag.
    public internal(set) var parameters: [Tensor]

    /// Seeded initialisation: random unit decoder columns, W_enc = W_decᵀ, biases 0.
    public init(_ configuration: Configuration) throws {
        try configuration.validate()
        self.configuration = configuration
        var rng = SeededGenerator(seed: configuration.seed)
        let dec = Self.unitColumns(Tensor.randomNormal([configuration.inputDimension, configuration.latents], using: &rng))
        parameters = [dec.transposed().contiguous(), Tensor.zeros([configuration.latents]), dec,
                      Tensor.zeros([configuration.inputDimension])]
        if case .gated = configuration.kind {
            parameters += [Tensor.zeros([configuration.latents]), Tensor.zeros([configuration.latents])]
        }
    }

    static func unitColumns(_ w: Tensor) -> Tensor {
        (w / (w.squared().sum(axes: [0], keepingDimensions: true).sqrt() + 1e-8)).plain
    }

    // MARK: Encoding

    /// A [rows, latents] 0/1 mask of the k largest entries of each row (first index on ties).
    public static func topKMask(_ x: Tensor, k: Int) -> Tensor {
        let n = x.shape[x.rank - 1], rows = x.count / max(n, 1)
        let c = x.contiguous()
        return Tensor(shape: x.shape) { out in
            out.initialize(repeating: 0)
            if k <= 0 || n == 0 { return }
            c.withUnsafeBufferPointer { src in
                var heapV = [Float](repeating: 0, count: k), heapI = [Int32](repeating: 0, count: k)
                heapV.withUnsafeMutableBufferPointer { hv in
                    heapI.withUnsafeMutableBufferPointer { hi in
                        for r in 0..<rows {
                            topKIndices(src.baseAddress! + r * n, n, Swift.min(k, n), hv.baseAddress!, hi.baseAddress!)
                            for i in 0..<Swift.min(k, n) { out[r * n + Int(hi[i])] = 1 }
                        }
                    }
                }
            }
        }
    }

    /// The pre-activations and the latent codes f for x [N, d_in]; differentiable in `w`.
    static func encode(_ w: [Tensor], _ c: Configuration, _ x: Tensor) -> (pre: Tensor, codes: Tensor) {
        let centred = x - w[3]                                                   // [N, d_in]
        let pre = centred.linear(weight: w[0], bias: w[1])                       // [N, latents]
        switch c.kind {
        case .relu:
            return (pre, pre.relu())
        case .topK(let k, _, _, _):
            return (pre, pre * topKMask(pre.detached(), k: k))
        case .gated:
            let gate = pre.detached().stepMask { $0 .> 0 }                       // Heaviside(π_gate)
            let wMag = w[0] * w[4].exp().unsqueezed(axis: 1)                     // exp(r_mag) ⊙ W_gate
            let magnitude = centred.linear(weight: wMag, bias: w[5]).relu()
            return (pre, gate * magnitude)
        }
    }

    /// Latent codes f, [N, latents].
    public func encode(_ x: Tensor) throws -> Tensor {
        try checkInput(x)
        return Self.encode(parameters, configuration, x).codes.plain
    }

    /// x̂ = f·W_decᵀ + b_dec, [N, d_in].
    public func decode(_ codes: Tensor) -> Tensor { codes.linear(weight: parameters[2], bias: parameters[3]).plain }

    func checkInput(_ x: Tensor) throws {
        if x.rank != 2 || x.shape[1] != configuration.inputDimension {
            throw ToyModelError.invalidInput(name: "activations", shape: x.shape, expected: "[n, \(configuration.inputDimension)]")
        }
    }

    // MARK: Training

    /// Trains on the rows of `data` [n, d_in], drawn in seeded shuffled order (one pass =
    /// ⌈n / batch⌉ steps; passes repeat until `steps`). b_dec starts at the data mean.
    public mutating func train(on data: Tensor, progress: ToyProgressHandler? = nil) throws -> SparseAutoencoderResult {
        try checkInput(data)
        let c = configuration, n = data.shape[0]
        if n == 0 { throw ToyModelError.invalidInput(name: "activations", shape: data.shape, expected: "at least one row") }
        let data = data.plain
        var rng = SeededGenerator(seed: c.seed &+ 0xDA7A)
        var params = parameters
        parameters = []
        params[3] = data.mean(axes: [0]).plain
        var opt = Adam(learningRate: .constant(c.learningRate))
        var order = Array(0..<n), cursor = n
        var sinceFired = [Int](repeating: 0, count: c.latents)
        var curve: [SparseAutoencoderCurvePoint] = []
        for step in 1...c.steps {
            var rows: [Int] = []
            while rows.count < c.batchSize {
                if cursor == n { rng.shuffle(&order); cursor = 0 }
                let take = min(c.batchSize - rows.count, n - cursor)
                rows += order[cursor..<(cursor + take)]; cursor += take
            }
            let x = data.indexSelect(rows, axis: 0)                              // [B, d_in]
            let dead = sinceFired.map { $0 >= (c.kind.deadAfter ?? .max) ? Float(1) : 0 }
            let outcome: SparseAutoencoderStep
            if case .topK(let k, let auxK, let coefficient, _) = c.kind {
                outcome = Self.topKStep(params, k: k, auxK: auxK, auxCoefficient: coefficient, x: x, dead: dead)
            } else {
                outcome = Self.referenceStep(params, c, x: x, dead: dead)
            }
            let fired = outcome.fired
            let parts = (recon: outcome.reconstruction, sparsity: outcome.sparsity, aux: outcome.auxiliary)
            let loss = Tensor(outcome.loss)
            opt.step(&params, outcome.gradients)
            params[2] = Self.unitColumns(params[2])
            for j in 0..<c.latents { sinceFired[j] = fired[j] ? 0 : sinceFired[j] + 1 }
            if step % c.logEvery == 0 || step == c.steps {
                let deadFraction = Float(sinceFired.filter { $0 >= (c.kind.deadAfter ?? c.logEvery) }.count) / Float(c.latents)
                curve.append(SparseAutoencoderCurvePoint(step: step, loss: loss.item, reconstruction: parts.recon,
                                                         sparsity: parts.sparsity, auxiliary: parts.aux, deadFraction: deadFraction))
                progress?(ToyTrainingProgress(task: "sae", step: step, totalSteps: c.steps, loss: loss.item,
                                              metrics: ["mse": parts.recon, "dead_fraction": deadFraction]))
            }
        }
        parameters = params
        return SparseAutoencoderResult(model: self, curve: curve, metrics: try metrics(on: data))
    }

    // MARK: Metrics

    /// L0, MSE, FVE, dead latents and shrinkage of the autoencoder on `data` [n, d_in].
    public func metrics(on data: Tensor) throws -> SparseAutoencoderMetrics {
        try checkInput(data)
        let codes = try encode(data)
        let xHat = decode(codes)
        let n = Float(data.shape[0])
        let active = codes.stepMask { $0 .!= 0 }
        let l0 = active.sum().item / n
        let perLatent = active.sum(axes: [0]).scalars
        let errorEnergy = (xHat - data).squared().sum().item
        let centred = data - data.mean(axes: [0], keepingDimensions: true)
        let variance = centred.squared().sum().item
        let dot = (xHat * data).sum().item, hatNorm = xHat.squared().sum().item
        return SparseAutoencoderMetrics(
            l0: l0, meanSquaredError: errorEnergy / (n * Float(configuration.inputDimension)),
            fractionOfVarianceExplained: variance > 0 ? 1 - errorEnergy / variance : 0,
            deadFraction: Float(perLatent.filter { $0 == 0 }.count) / Float(configuration.latents),
            shrinkage: hatNorm > 0 ? dot / hatNorm : 0)
    }

    /// Mean max cosine similarity between the decoder columns and ground-truth feature rows
    /// `truth` [features, d_in], both ways.
    public func meanMaxCosineSimilarity(to truth: Tensor) throws -> (learnedToTruth: Float, truthToLearned: Float) {
        if truth.rank != 2 || truth.shape[1] != configuration.inputDimension {
            throw ToyModelError.invalidInput(name: "ground-truth features", shape: truth.shape, expected: "[features, \(configuration.inputDimension)]")
        }
        let t = truth / (truth.squared().sum(axes: [1], keepingDimensions: true).sqrt() + 1e-8)
        let cos = t.matmul(Self.unitColumns(parameters[2]))                     // [features, latents]
        let learned = cos.max(axis: 0).mean().item, truthSide = cos.max(axis: 1).mean().item
        return (learned, truthSide)
    }

    // MARK: Saving

    /// Saves the parameters (and the configuration, as JSON metadata) to a safetensors file.
    public func save(to url: URL) throws {
        try saveToyWeights(configuration, model: "sae", names: configuration.shapes.map { $0.0 }, parameters: parameters, to: url)
    }

    /// Loads a model written by `save(to:)`.
    public static func load(from url: URL) throws -> SparseAutoencoder {
        let (c, params) = try loadToyWeights(Configuration.self, model: "sae", from: url) { $0.shapes }
        var model = try SparseAutoencoder(c)
        model.parameters = params
        return model
    }
}

extension SparseAutoencoder.Kind {
    var deadAfter: Int? {
        if case .topK(_, _, _, let d) = self { return d }
        return nil
    }
}

public struct SparseAutoencoderCurvePoint: Sendable, Equatable {
    public var step: Int
    public var loss: Float
    /// Mean ‖x − x̂‖² per example.
    public var reconstruction: Float
    /// Mean L1 of the codes (ReLU) or of ReLU(π_gate) (Gated).
    public var sparsity: Float
    /// The auxiliary loss (TopK: dead-latent residual; Gated: frozen-decoder reconstruction).
    public var auxiliary: Float
    /// Latents not fired for `deadAfterSteps` steps (TopK) or `logEvery` steps.
    public var deadFraction: Float
}

public struct SparseAutoencoderMetrics: Sendable, Equatable {
    /// Mean number of nonzero latents per example.
    public var l0: Float
    /// Mean squared error per element.
    public var meanSquaredError: Float
    /// 1 − Σ‖x − x̂‖² / Σ‖x − x̄‖².
    public var fractionOfVarianceExplained: Float
    /// Latents that never fire on the data.
    public var deadFraction: Float
    /// (x̂·x) / ‖x̂‖² over the data: above 1 when the reconstruction is shrunk.
    public var shrinkage: Float
}

public struct SparseAutoencoderResult: Sendable {
    public var model: SparseAutoencoder
    public var curve: [SparseAutoencoderCurvePoint]
    public var metrics: SparseAutoencoderMetrics
}

/// Synthetic activations with planted sparse features: `features` random unit directions in
/// d_in; each is active in a sample with probability `meanActive / features`, with a
/// magnitude from U[0, 1]; a sample is the sum of its active features.
public struct PlantedFeatureData: Sendable {
    /// [features, d_in], unit rows.
    public var features: Tensor
    /// [samples, d_in].
    public var samples: Tensor
    /// [samples, features], the true coefficients.
    public var coefficients: Tensor

    public init(inputDimension: Int, features: Int, meanActive: Double, samples: Int, seed: UInt64) throws {
        try requirePositive(inputDimension, "inputDimension")
        try requirePositive(features, "features")
        try requirePositive(samples, "samples")
        if !(meanActive > 0 && meanActive <= Double(features)) {
            throw ToyModelError.invalidConfiguration(field: "meanActive", value: "\(meanActive)", expected: "a value in (0, \(features)]")
        }
        var rng = SeededGenerator(seed: seed)
        let raw = Tensor.randomNormal([features, inputDimension], using: &rng)
        self.features = (raw / raw.squared().sum(axes: [1], keepingDimensions: true).sqrt()).plain
        let p = meanActive / Double(features)
        coefficients = Tensor(shape: [samples, features]) { out in
            for i in 0..<out.count {
                let u = rng.nextDouble()
                out[i] = u < p ? Float(u / p) : 0                                // given u < p, u/p ~ U[0, 1]
            }
        }
        self.samples = coefficients.matmul(self.features).plain
    }
}
