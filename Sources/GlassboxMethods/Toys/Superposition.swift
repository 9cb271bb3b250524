import Foundation
import GlassboxTensor

/// Toy models of superposition — Elhage et al. 2022, "Toy Models of Superposition",
/// arXiv 2209.10652.
///
/// n sparse features are squeezed through m < n hidden dimensions and reconstructed with
/// x′ = ReLU(WᵀWx + b) (or, for `.linear`, x′ = WᵀWx + b). Feature i has importance Iᵢ; each
/// feature is 0 with probability S (the sparsity) and otherwise drawn from U[0, 1]. The loss is
/// the importance-weighted squared error, averaged over the batch and the features and
/// summed over instances. Several instances (one per sparsity) are trained at once, as
/// batched tensors `W: [instances, m, n]`, `b: [instances, n]`, with AdamW as in the paper's
/// notebook (lr 1e-3, batch 1024, 10,000 steps, W xavier-normal, b = 0).
///
/// The training step is written in closed form: three batched matrix products on BLAS for the
/// forward pass and three for the gradient, and one fused loop over the elementwise part
/// (`trainingStepGradients` is checked against the generic autodiff in the tests).
public struct SuperpositionModel: Sendable {
    public enum Activation: String, Codable, Sendable { case relu, linear }

    public struct Configuration: Codable, Sendable, Equatable {
        public var features: Int
        public var hidden: Int
        /// Iᵢ, one per feature.
        public var importance: [Float]
        /// S, one per instance.
        public var sparsities: [Float]
        public var activation: Activation
        public var steps: Int
        public var batchSize: Int
        public var learningRate: Float
        /// AdamW's decoupled weight decay (PyTorch's default 0.01, which the notebook keeps).
        public var weightDecay: Float
        public var seed: UInt64
        /// Record the loss curve (and call the progress handler) every this many steps.
        public var logEvery: Int

        public init(features: Int, hidden: Int, importance: [Float], sparsities: [Float],
                    activation: Activation = .relu, steps: Int = 10_000, batchSize: Int = 1024,
                    learningRate: Float = 1e-3, weightDecay: Float = 0.01, seed: UInt64 = 0, logEvery: Int = 100) {
            self.features = features
            self.hidden = hidden
            self.importance = importance
            self.sparsities = sparsities
            self.activation = activation
            self.steps = steps
            self.batchSize = batchSize
            self.learningRate = learningRate
            self.weightDecay = weightDecay
            self.seed = seed
            self.logEvery = logEvery
        }

        /// Iᵢ = decayⁱ for i = 0..<n.
        public static func geometricImportance(features n: Int, decay: Float) -> [Float] {
            (0..<n).map { Float(Foundation.pow(Double(decay), Double($0))) }
        }

        /// The notebook's sweep: feature density 1 − S = 20^(−t) for t = linspace(0, 1, count).
        public static func densitySweep(count: Int) -> [Float] {
            (0..<count).map { i in
                let t = count == 1 ? 0 : Double(i) / Double(count - 1)
                return Float(1 - Foundation.pow(20, -t))
            }
        }

        public var instances: Int { sparsities.count }

        func validate() throws {
            try requirePositive(features, "features")
            try requirePositive(hidden, "hidden")
            try requirePositive(steps, "steps")
            try requirePositive(batchSize, "batchSize")
            try requirePositive(logEvery, "logEvery")
            if sparsities.isEmpty {
                throw ToyModelError.invalidConfiguration(field: "sparsities", value: "[]", expected: "at least one sparsity")
            }
            if importance.count != features {
                throw ToyModelError.invalidConfiguration(field: "importance", value: "\(importance.count) values",
                                                         expected: "one per feature (\(features))")
            }
            for s in sparsities where !(s >= 0 && s < 1) {
                throw ToyModelError.invalidConfiguration(field: "sparsities", value: "\(s)", expected: "a value in [0, 1)")
            }
        }
    }

    public let configuration: Configuration
    /// W, [instances, hidden, features]: column i of each instance is feature i's direction.
    public internal(set) var weight: Tensor
    /// b, [instances, features].
    public internal(set) var bias: Tensor

    /// A model at its seeded initialisation: W xavier-normal per instance
    /// (std √(2 / (m + n))), b = 0.
    public init(_ configuration: Configuration) throws {
        try configuration.validate()
        self.configuration = configuration
        var rng = SeededGenerator(seed: configuration.seed)
        let (i, m, n) = (configuration.instances, configuration.hidden, configuration.features)
        let std = Float((2.0 / Double(m + n)).squareRoot())
        weight = Tensor.randomNormal([i, m, n], std: std, using: &rng)
        bias = Tensor.zeros([i, n])
    }

    /// A model with the given weights (checked against the configuration's shapes).
    public init(_ configuration: Configuration, weight: Tensor, bias: Tensor) throws {
        try configuration.validate()
        let (i, m, n) = (configuration.instances, configuration.hidden, configuration.features)
        try checkWeights(["W": weight, "b": bias], expected: [("W", [i, m, n]), ("b", [i, n])], file: "(weights)")
        self.configuration = configuration
        self.weight = weight.plain
        self.bias = bias.plain
    }

    // MARK: Data

    /// A batch of synthetic features, [instances, batch, features]: feature f of instance i is
    /// 0 with probability Sᵢ, else U[0, 1]. One uniform draw u per entry: 0 if u < S, else (u − S)/(1 − S).
    public static func sampleBatch(sparsities: [Float], batch: Int, features: Int, signed: Bool = false,
                                   using rng: inout SeededGenerator) -> Tensor {
        let per = batch * features
        return Tensor(shape: [sparsities.count, batch, features]) { out in
            for (i, s) in sparsities.enumerated() {
                let sd = Double(s), scale = 1 / (1 - sd)
                let base = out.baseAddress! + i * per
                for j in 0..<per {
                    let u = Double(rng.next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
                    let v = Swift.max(0, (u - sd) * scale)            // 0 exactly when u < S
                    base[j] = Float(signed && u >= sd ? 2 * v - 1 : v)
                }
            }
        }
    }

    // MARK: Forward and gradient

    /// x′ for a batch x: [instances, batch, features].
    public func forward(_ x: Tensor) -> Tensor {
        let h = x.matmul(weight.transposed())                         // [I, B, m]
        let z = h.matmul(weight) + bias.unsqueezed(axis: 1)            // [I, B, n]
        return configuration.activation == .relu ? z.relu() : z
    }

    /// Loss per instance: mean over batch and features of Iᶠ (x′ − x)².
    public func instanceLosses(_ x: Tensor) -> [Float] {
        let imp = Tensor(shape: [1, 1, configuration.features], scalars: configuration.importance)
        return ((forward(x) - x).squared() * imp).mean(axes: [1, 2]).scalars
    }

    /// The loss (summed over instances) built from generic tensor ops, differentiable by the tape.
    static func referenceLoss(weight: Tensor, bias: Tensor, x: Tensor, importance: [Float], activation: Activation) -> Tensor {
        let h = x.matmul(weight.transposed())
        let z = h.matmul(weight) + bias.unsqueezed(axis: 1)
        let out = activation == .relu ? z.relu() : z
        let imp = Tensor(shape: [1, 1, importance.count], scalars: importance)
        return ((out - x).squared() * imp).mean(axes: [1, 2]).sum()
    }

    /// Per-instance losses and the gradients (dW, db) of their sum, in closed form.
    public func trainingStepGradients(_ x: Tensor) -> (losses: [Float], weight: Tensor, bias: Tensor) {
        let (ni, nb, nf) = (x.shape[0], x.shape[1], x.shape[2])
        let xc = x.contiguous()
        let h = xc.matmul(weight.transposed())                        // [I, B, m]
        var dz = h.matmul(weight).contiguous()                        // [I, B, n]: z, then dL/dz in place
        var losses = [Float](repeating: 0, count: ni)
        var db = Tensor.zeros([ni, nf])
        let relu = configuration.activation == .relu
        let scale = 2 / Float(nb * nf)
        configuration.importance.withUnsafeBufferPointer { imp in
            bias.withUnsafeBufferPointer { bb in
                xc.withUnsafeBufferPointer { xb in
                    db.withUnsafeMutableBufferPointer { dbb in
                        dz.withUnsafeMutableBufferPointer { zb in
                            // per-feature accumulators keep the inner loop free of a serial
                            // reduction and of branches, so it vectorizes over features
                            var acc = [Float](repeating: 0, count: nf)
                            let floor: Float = relu ? 0 : -.infinity
                            acc.withUnsafeMutableBufferPointer { accb in
                                let a = accb.baseAddress!, w = imp.baseAddress!
                                for i in 0..<ni {
                                    for f in 0..<nf { a[f] = 0 }
                                    let bi = bb.baseAddress! + i * nf, dbi = dbb.baseAddress! + i * nf
                                    for r in 0..<nb {
                                        let o = (i * nb + r) * nf
                                        let zr = zb.baseAddress! + o, xr = xb.baseAddress! + o
                                        for f in 0..<nf {
                                            let z = zr[f] + bi[f]
                                            let y = Swift.max(z, floor)
                                            let d = y - xr[f]
                                            a[f] += w[f] * d * d
                                            let g = z > floor ? scale * w[f] * d : 0
                                            zr[f] = g
                                            dbi[f] += g
                                        }
                                    }
                                    var total: Float = 0
                                    for f in 0..<nf { total += a[f] }
                                    losses[i] = total / Float(nb * nf)
                                }
                            }
                        }
                    }
                }
            }
        }
        // z = h·W with h = x·Wᵀ:  dW = hᵀ·dz + (dz·Wᵀ)ᵀ·x
        let dh = dz.matmul(weight.transposed())                       // [I, B, m]
        let dw = h.transposed().matmul(dz) + dh.transposed().matmul(xc) // [I, m, n]
        return (losses, dw, db)
    }

    // MARK: Training

    /// Trains the model from its current weights and returns the curves and analyses.
    public mutating func train(progress: ToyProgressHandler? = nil) -> SuperpositionTrainingResult {
        let c = configuration
        var rng = SeededGenerator(seed: c.seed &+ 0x5EED_DA7A)
        var opt = Adam.adamW(learningRate: .constant(c.learningRate), weightDecay: c.weightDecay)
        var params = [weight, bias]
        weight = Tensor(0); bias = Tensor(0)   // drop references so the optimizer updates in place
        var curve: [SuperpositionCurvePoint] = []
        for step in 1...c.steps {
            let x = Self.sampleBatch(sparsities: c.sparsities, batch: c.batchSize, features: c.features, using: &rng)
            weight = params[0]; bias = params[1]
            let g = trainingStepGradients(x)
            weight = Tensor(0); bias = Tensor(0)
            opt.step(&params, [g.weight, g.bias])
            if step % c.logEvery == 0 || step == c.steps {
                curve.append(SuperpositionCurvePoint(step: step, losses: g.losses))
                progress?(ToyTrainingProgress(task: "superposition", step: step, totalSteps: c.steps,
                                              loss: g.losses.reduce(0, +)))
            }
        }
        weight = params[0]; bias = params[1]
        return SuperpositionTrainingResult(model: self, lossCurve: curve, analyses: analyses())
    }

    // MARK: Analyses

    /// The analyses of every instance.
    public func analyses() -> [SuperpositionAnalysis] {
        (0..<configuration.instances).map { analysis(instance: $0) }
    }

    /// Represented features, interference, dimensionality and WᵀW of one instance.
    public func analysis(instance i: Int) -> SuperpositionAnalysis {
        let (m, n) = (configuration.hidden, configuration.features)
        let w = weight.select(axis: 0, i).contiguous()                // [m, n]
        let gram = w.transposed().matmul(w).contiguous()              // [n, n]: Wᵢ·Wⱼ
        let g = gram.scalars
        let norms = (0..<n).map { g[$0 * n + $0].squareRoot() }
        var interference = [Float](repeating: 0, count: n)
        var dimensionality = [Float](repeating: 0, count: n)
        for a in 0..<n where norms[a] > 1e-6 {
            var other: Float = 0
            for b in 0..<n where b != a {
                let p = g[a * n + b] / norms[a]                      // Ŵa·Wb
                other += p * p
            }
            interference[a] = other
            let own = norms[a] * norms[a]
            dimensionality[a] = own / (own + other)
        }
        let frob = norms.reduce(0) { $0 + $1 * $1 }
        return SuperpositionAnalysis(
            sparsity: configuration.sparsities[i], featureNorms: norms,
            representedFeatures: norms.filter { $0 > 0.5 }.count,
            interference: interference, dimensionality: dimensionality,
            dimensionsPerFeature: frob > 0 ? Float(m) / frob : .infinity,
            gram: gram, bias: bias.select(axis: 0, i).scalars)
    }

    // MARK: Saving

    /// Saves W and b (and the configuration, as JSON metadata) to a safetensors file.
    public func save(to url: URL) throws {
        try saveToyWeights(configuration, model: "superposition", names: ["W", "b"], parameters: [weight, bias], to: url)
    }

    /// Loads a model written by `save(to:)`.
    public static func load(from url: URL) throws -> SuperpositionModel {
        let (c, p) = try loadToyWeights(Configuration.self, model: "superposition", from: url) {
            [("W", [$0.instances, $0.hidden, $0.features]), ("b", [$0.instances, $0.features])]
        }
        return try SuperpositionModel(c, weight: p[0], bias: p[1])
    }
}

/// The per-instance training losses at one step.
public struct SuperpositionCurvePoint: Sendable, Equatable {
    public var step: Int
    public var losses: [Float]
}

/// The analyses of one trained instance (arXiv 2209.10652).
public struct SuperpositionAnalysis: Sendable {
    public var sparsity: Float
    /// ‖Wᵢ‖ per feature.
    public var featureNorms: [Float]
    /// Features with ‖Wᵢ‖ > 0.5.
    public var representedFeatures: Int
    /// Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)² per feature (0 for an unrepresented feature).
    public var interference: [Float]
    /// Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)² per feature (0 for an unrepresented feature).
    public var dimensionality: [Float]
    /// m / ‖W‖²_F.
    public var dimensionsPerFeature: Float
    /// WᵀW, [features, features].
    public var gram: Tensor
    public var bias: [Float]

    /// The largest |WᵀW| entry off the diagonal.
    public var maxOffDiagonal: Float {
        let n = featureNorms.count, g = gram.scalars
        var worst: Float = 0
        for a in 0..<n { for b in 0..<n where a != b { worst = Swift.max(worst, Swift.abs(g[a * n + b])) } }
        return worst
    }
}

public struct SuperpositionTrainingResult: Sendable {
    public var model: SuperpositionModel
    /// Per-instance loss every `logEvery` steps.
    public var lossCurve: [SuperpositionCurvePoint]
    public var analyses: [SuperpositionAnalysis]
}
