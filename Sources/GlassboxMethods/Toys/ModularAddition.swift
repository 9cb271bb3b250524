import Foundation
import GlassboxTensor

/// Grokking modular addition — Nanda et al. 2023, "Progress measures for grokking via
/// mechanistic interpretability", arXiv 2301.05217.
///
/// A one-layer transformer without LayerNorm reads the three tokens (a, b, =) and predicts
/// (a + b) mod p from the last position: token and learned positional embeddings, one
/// attention layer, a ReLU MLP, an untied unembedding. Trained full-batch on a seeded
/// fraction of all p² pairs with AdamW (lr 1e-3, weight decay 1, betas 0.9/0.98) and a
/// linear warm-up, it first memorises and then generalises ("groks"). The analyses follow
/// the paper: the embedding's Fourier spectrum and key frequencies, MLP neurons clustered by
/// frequency, and the restricted and excluded losses.
///
/// Only the last position's output is computed (it is the only one the loss reads, and with
/// one layer no other query affects it).
public struct ModularAdditionTransformer: Sendable {
    public struct Configuration: Codable, Sendable, Equatable {
        /// The modulus (a prime; vocabulary p + 1 with "=" as token p).
        public var p: Int
        public var trainFraction: Double
        public var dModel: Int
        public var heads: Int
        public var dHead: Int
        public var dMLP: Int
        public var learningRate: Float
        public var weightDecay: Float
        public var beta1: Float
        public var beta2: Float
        public var warmupSteps: Int
        public var epochs: Int
        public var seed: UInt64
        /// Evaluate the test set (and record the curves) every this many epochs.
        public var evalEvery: Int
        /// Stop early once test accuracy reaches this value (nil: run all epochs).
        public var stopAtTestAccuracy: Double?

        /// The paper's settings (p = 113, 30% train, d_model 128, 4 heads of 32, d_mlp 512).
        public init(p: Int = 113, trainFraction: Double = 0.3, dModel: Int = 128, heads: Int = 4, dHead: Int = 32,
                    dMLP: Int = 512, learningRate: Float = 1e-3, weightDecay: Float = 1, beta1: Float = 0.9,
                    beta2: Float = 0.98, warmupSteps: Int = 10, epochs: Int = 20_000, seed: UInt64 = 0,
                    evalEvery: Int = 100, stopAtTestAccuracy: Double? = nil) {
            self.p = p
            self.trainFraction = trainFraction
            self.dModel = dModel
            self.heads = heads
            self.dHead = dHead
            self.dMLP = dMLP
            self.learningRate = learningRate
            self.weightDecay = weightDecay
            self.beta1 = beta1
            self.beta2 = beta2
            self.warmupSteps = warmupSteps
            self.epochs = epochs
            self.seed = seed
            self.evalEvery = evalEvery
            self.stopAtTestAccuracy = stopAtTestAccuracy
        }

        func validate() throws {
            if p < 3 || p % 2 == 0 || (2..<p).contains(where: { $0 * $0 <= p && p % $0 == 0 }) {
                throw ToyModelError.invalidConfiguration(field: "p", value: "\(p)", expected: "an odd prime")
            }
            if !(trainFraction > 0 && trainFraction < 1) {
                throw ToyModelError.invalidConfiguration(field: "trainFraction", value: "\(trainFraction)", expected: "a value in (0, 1)")
            }
            for (v, f) in [(dModel, "dModel"), (heads, "heads"), (dHead, "dHead"), (dMLP, "dMLP"), (epochs, "epochs"), (evalEvery, "evalEvery")] {
                try requirePositive(v, f)
            }
        }

        /// Shapes of every parameter, by name.
        var shapes: [(String, [Int])] {
            let hd = heads * dHead
            return [("W_E", [p + 1, dModel]), ("W_pos", [3, dModel]), ("W_Q", [hd, dModel]), ("W_K", [hd, dModel]),
                    ("W_V", [hd, dModel]), ("W_O", [dModel, hd]), ("W_in", [dMLP, dModel]), ("b_in", [dMLP]),
                    ("W_out", [dModel, dMLP]), ("b_out", [dModel]), ("W_U", [p, dModel])]
        }
    }

    public let configuration: Configuration
    /// The parameters in `Configuration.shapes` order; matrices in the [out, in] layout.
    public internal(set) var parameters: [Tensor]

    /// Seeded initialisation as in the paper's code: weights N(0, 1/d_model) (the unembedding
    /// N(0, 1/d_vocab)), biases 0.
    public init(_ configuration: Configuration) throws {
        try configuration.validate()
        self.configuration = configuration
        var rng = SeededGenerator(seed: configuration.seed)
        let std = Float(1 / Double(configuration.dModel).squareRoot())
        parameters = configuration.shapes.map { name, shape in
            if name.hasPrefix("b_") { return Tensor.zeros(shape) }
            let s = name == "W_U" ? Float(1 / Double(configuration.p + 1).squareRoot()) : std
            return Tensor.randomNormal(shape, std: s, using: &rng)
        }
    }

    // MARK: Data

    /// All p² pairs (a, b), shuffled with the seed; the first ⌊fraction·p²⌋ are the training set.
    public static func split(_ c: Configuration) -> (train: [(Int, Int)], test: [(Int, Int)]) {
        var pairs: [(Int, Int)] = []
        pairs.reserveCapacity(c.p * c.p)
        for a in 0..<c.p { for b in 0..<c.p { pairs.append((a, b)) } }
        var rng = SeededGenerator(seed: c.seed &+ 0xDA7A)
        rng.shuffle(&pairs)
        let n = Int(c.trainFraction * Double(c.p * c.p))
        return (Array(pairs[..<n]), Array(pairs[n...]))
    }

    // MARK: Forward

    /// The activations of one forward pass at the last position.
    public struct Activations {
        /// [N, p]
        public var logits: Tensor
        /// [N, d_mlp], after the ReLU.
        public var neurons: Tensor
        /// [N, heads, 3]: attention from "=" to (a, b, =).
        public var pattern: Tensor
    }

    /// The forward pass from per-token tables. The key and value of a token depend only on
    /// the token and its position, and the query only on "=" at position 2, so keys, values
    /// and query are computed once for the 2p + 1 (token, position) combinations and gathered
    /// per example; the attention scores come from the gathered keys. The same function as
    /// `referenceForward` (checked in the tests) without its [3N, d]·[d, H·dh] products.
    static func forward(_ w: [Tensor], _ c: Configuration, pairs: [(Int, Int)]) -> Activations {
        let n = pairs.count, d = c.dModel, h = c.heads, dh = c.dHead, p = c.p
        let tokens = w[0].slice(axis: 0, 0..<p)                                  // [p, d]
        let last = (w[0].select(axis: 0, p) + w[1].select(axis: 0, 2)).reshaped([1, d]) // "=" at position 2
        let table = Tensor.concatenate([tokens + w[1].slice(axis: 0, 0..<1),    // rows 0..<p: a at position 0
                                        tokens + w[1].slice(axis: 0, 1..<2),    // rows p..<2p: b at position 1
                                        last], axis: 0)                          // [2p + 1, d]
        let q = last.linear(weight: w[2]).reshaped([1, h, dh])                  // [1, H, dh]
        let scale = Float(1 / Double(dh).squareRoot())
        let keyScores = (table.linear(weight: w[3]).reshaped([2 * p + 1, h, dh]) * q).sum(axes: [2]) * scale // [2p + 1, H]
        let values = table.linear(weight: w[4])                                  // [2p + 1, H·dh]
        var rows = [Int](); rows.reserveCapacity(3 * n)
        for (a, b) in pairs { rows.append(a); rows.append(p + b); rows.append(2 * p) }
        let scores = keyScores.indexSelect(rows, axis: 0).reshaped([n, 3, h])   // [N, 3, H]
        let v = values.indexSelect(rows, axis: 0).reshaped([n, 3, h, dh])        // [N, 3, H, dh]
        let pattern = scores.softmax(axis: 1)                                    // [N, 3, H]
        let z = (pattern.unsqueezed(axis: 3) * v).sum(axes: [1]).reshaped([n, h * dh]) // [N, H·dh]
        let resid = z.linear(weight: w[5]) + last                                // [N, d]
        let neurons = resid.linear(weight: w[6], bias: w[7]).relu()              // [N, d_mlp]
        let out = resid + neurons.linear(weight: w[8], bias: w[9])               // [N, d]
        let logits = out.linear(weight: w[10])                                   // [N, p]
        return Activations(logits: logits, neurons: neurons, pattern: pattern.permuted([0, 2, 1]))
    }

    /// The forward pass as written in the paper: embed the three tokens, attend from the last.
    static func referenceForward(_ w: [Tensor], _ c: Configuration, pairs: [(Int, Int)]) -> Activations {
        let n = pairs.count, d = c.dModel, h = c.heads, dh = c.dHead
        var ids = [Int](); ids.reserveCapacity(3 * n)
        for (a, b) in pairs { ids.append(a); ids.append(b); ids.append(c.p) }
        let x = Tensor.embedding(w[0], ids: ids).reshaped([n, 3, d]) + w[1]        // [N, 3, d]
        let last = x.select(axis: 1, 2)                                          // [N, d]
        let q = last.linear(weight: w[2]).reshaped([n, 1, h, dh])                // [N, 1, H, dh]
        // 2-D products: a batched [N, 3, d]·Wᵀ would form a per-example weight gradient in backward
        let flat = x.reshaped([n * 3, d])                                        // [N·3, d]
        let k = flat.linear(weight: w[3]).reshaped([n, 3, h, dh])                // [N, 3, H, dh]
        let v = flat.linear(weight: w[4]).reshaped([n, 3, h, dh])                // [N, 3, H, dh]
        let scores = (q * k).sum(axes: [3]) * Float(1 / Double(dh).squareRoot())  // [N, 3, H]
        let pattern = scores.softmax(axis: 1)                                    // [N, 3, H]
        let z = (pattern.unsqueezed(axis: 3) * v).sum(axes: [1]).reshaped([n, h * dh]) // [N, H·dh]
        let resid = last + z.linear(weight: w[5])                                // [N, d]
        let neurons = resid.linear(weight: w[6], bias: w[7]).relu()              // [N, d_mlp]
        let out = resid + neurons.linear(weight: w[8], bias: w[9])               // [N, d]
        let logits = out.linear(weight: w[10])                                   // [N, p]
        return Activations(logits: logits, neurons: neurons, pattern: pattern.permuted([0, 2, 1]))
    }

    /// Logits, neurons and attention for the given pairs.
    public func run(_ pairs: [(Int, Int)]) -> Activations { Self.forward(parameters, configuration, pairs: pairs) }

    /// Mean cross-entropy and accuracy of logits [N, p] against (a + b) mod p.
    public static func lossAndAccuracy(_ logits: Tensor, pairs: [(Int, Int)], p: Int) -> (loss: Float, accuracy: Float) {
        let targets = pairs.map { ($0.0 + $0.1) % p }
        let loss = logits.crossEntropy(targets: targets).item
        let pred = logits.argmax(axis: -1)
        let correct = zip(pred, targets).filter { $0 == $1 }.count
        return (loss, Float(correct) / Float(max(1, pairs.count)))
    }

    /// Σ of squared parameters.
    public var sumOfSquaredWeights: Float {
        parameters.reduce(0) { $0 + $1.squared().sum().item }
    }

    // MARK: Training

    /// Full-batch training; returns the curves and the final analyses.
    public mutating func train(progress: ToyProgressHandler? = nil) -> ModularAdditionResult {
        let c = configuration
        let (train, test) = Self.split(c)
        // The hand-written epoch (ModularAdditionKernel): the same loss and gradients as
        // autodiff through `referenceForward`, and AdamW as `Adam.adamW` computes it.
        let kernel = ModularAdditionKernel(c, parameters: parameters, capacity: max(train.count, test.count))
        let schedule = LearningRateSchedule.linearWarmup(peak: c.learningRate, warmupSteps: c.warmupSteps)
        var curve: [ModularAdditionCurvePoint] = []
        var trainLoss: Float = 0
        var epochsRun = 0
        for epoch in 1...c.epochs {
            trainLoss = kernel.lossAndGradient(train)
            kernel.adamWStep(schedule: schedule)
            epochsRun = epoch
            if epoch % c.evalEvery == 0 || epoch == c.epochs {
                let point = Self.evaluate(kernel, epoch: epoch, train: train, test: test)
                curve.append(point)
                progress?(ToyTrainingProgress(task: "modular-addition", step: epoch, totalSteps: c.epochs, loss: trainLoss,
                                              metrics: ["test_loss": point.testLoss, "train_accuracy": point.trainAccuracy,
                                                        "test_accuracy": point.testAccuracy, "sum_squared_weights": point.sumOfSquaredWeights]))
                if let stop = c.stopAtTestAccuracy, Double(point.testAccuracy) >= stop { break }
            }
        }
        parameters = kernel.tensors()
        return ModularAdditionResult(model: self, curve: curve, epochs: epochsRun, analysis: analyze())
    }

    static func evaluate(_ kernel: ModularAdditionKernel, epoch: Int, train: [(Int, Int)], test: [(Int, Int)]) -> ModularAdditionCurvePoint {
        kernel.forward(train)
        let tr = kernel.lossAndAccuracy(train)
        kernel.forward(test)
        let te = kernel.lossAndAccuracy(test)
        return ModularAdditionCurvePoint(epoch: epoch, trainLoss: tr.loss, testLoss: te.loss, trainAccuracy: tr.accuracy,
                                         testAccuracy: te.accuracy, sumOfSquaredWeights: kernel.sumOfSquaredWeights)
    }

    // MARK: Analyses

    /// The orthonormal Fourier basis over Z_p, [p, p]: row 0 constant, rows 2k−1 and 2k
    /// cos and sin of 2πk·x/p for k = 1…(p−1)/2.
    public static func fourierBasis(_ p: Int) -> Tensor {
        Tensor(shape: [p, p]) { out in
            let c0 = 1 / Double(p).squareRoot(), ck = (2 / Double(p)).squareRoot()
            for x in 0..<p {
                out[x] = Float(c0)
                for k in 1...(p - 1) / 2 {
                    let angle = 2 * Double.pi * Double(k * x % p) / Double(p)
                    out[(2 * k - 1) * p + x] = Float(ck * Foundation.cos(angle))
                    out[2 * k * p + x] = Float(ck * Foundation.sin(angle))
                }
            }
        }
    }

    /// Fourier analyses of the trained network.
    public func analyze() -> ModularAdditionAnalysis {
        let c = configuration, p = c.p, freqs = (p - 1) / 2
        let basis = Self.fourierBasis(p)
        // Embedding spectrum: ‖(F·W_E)[cos k]‖² + ‖(F·W_E)[sin k]‖² per frequency.
        let coeff = basis.matmul(parameters[0].slice(axis: 0, 0..<p)).squared().sum(axes: [1]).scalars // [p]
        let energy = (1...freqs).map { coeff[2 * $0 - 1] + coeff[2 * $0] }
        let total = energy.reduce(0, +)
        let share = energy.map { total > 0 ? $0 / total : 0 }
        let threshold = 2 / Float(freqs)
        let key = (1...freqs).filter { share[$0 - 1] >= threshold }.sorted { share[$0 - 1] > share[$1 - 1] }
        let keyShare = key.reduce(0) { $0 + share[$1 - 1] }

        // All p² inputs in (a, b) order.
        var all: [(Int, Int)] = []
        for a in 0..<p { for b in 0..<p { all.append((a, b)) } }
        let acts = run(all)

        // Neurons: 2-D Fourier transform over (a, b); the variance a single frequency k explains
        // is the energy in components (k or 0, k or 0) other than (0, 0).
        let dm = c.dMLP
        let na = acts.neurons.contiguous().reshaped([p, p * dm])                        // [a, (b, n)]
        let ya = basis.matmul(na).reshaped([p, p, dm]).permuted([1, 0, 2]).contiguous()  // [b, i, n]
        let spec = basis.matmul(ya.reshaped([p, p * dm])).squared().contiguous().scalars // [j, i, n]
        var neuronFrequency = [Int](repeating: 0, count: dm)
        var neuronFVE = [Float](repeating: 0, count: dm)
        for n in 0..<dm {
            var totalE: Float = 0
            for j in 0..<p { for i in 0..<p where i != 0 || j != 0 { totalE += spec[(j * p + i) * dm + n] } }
            guard totalE > 1e-12 else { continue }
            var best: Float = 0, bestK = 0
            for k in 1...freqs {
                let idx = [0, 2 * k - 1, 2 * k]
                var e: Float = 0
                for j in idx { for i in idx where i != 0 || j != 0 { e += spec[(j * p + i) * dm + n] } }
                if e > best { best = e; bestK = k }
            }
            neuronFrequency[n] = bestK
            neuronFVE[n] = best / totalE
        }
        let alive = neuronFVE.enumerated().filter { $0.element > 0 }.count
        let explained = neuronFVE.filter { $0 > 0.85 }.count

        // Restricted and excluded logits: keep / remove the components of the logits along
        // cos(w_k(a + b − c)) and sin(w_k(a + b − c)) for the key frequencies.
        let logits = acts.logits.contiguous().scalars                                  // [(a, b), c]
        var kept = [Float](repeating: 0, count: logits.count)
        for k in key {
            let w = 2 * Double.pi * Double(k) / Double(p)
            let cosT = (0..<p).map { Float(Foundation.cos(w * Double($0))) }
            let sinT = (0..<p).map { Float(Foundation.sin(w * Double($0))) }
            var dc: Double = 0, ds: Double = 0
            for a in 0..<p { for b in 0..<p {
                let row = (a * p + b) * p
                for cc in 0..<p {
                    let t = ((a + b - cc) % p + p) % p
                    dc += Double(logits[row + cc] * cosT[t]); ds += Double(logits[row + cc] * sinT[t])
                }
            } }
            let norm = Double(p * p * p) / 2
            let (ac, asn) = (Float(dc / norm), Float(ds / norm))
            for a in 0..<p { for b in 0..<p {
                let row = (a * p + b) * p
                for cc in 0..<p {
                    let t = ((a + b - cc) % p + p) % p
                    kept[row + cc] += ac * cosT[t] + asn * sinT[t]
                }
            } }
        }
        let restricted = Tensor(shape: [p * p, p], scalars: kept)
        let excluded = Tensor(shape: [p * p, p], scalars: zip(logits, kept).map { $0 - $1 })
        let (train, test) = Self.split(c)
        let trainRows = train.map { $0.0 * p + $0.1 }
        let restrictedLoss = Self.lossAndAccuracy(restricted, pairs: all, p: p).loss
        let excludedLoss = Self.lossAndAccuracy(excluded.indexSelect(trainRows, axis: 0), pairs: train, p: p).loss
        let fullLoss = Self.lossAndAccuracy(acts.logits, pairs: all, p: p).loss
        let testLoss = Self.lossAndAccuracy(run(test).logits, pairs: test, p: p).loss
        return ModularAdditionAnalysis(
            embeddingFrequencyNorms: energy.map { $0.squareRoot() }, keyFrequencies: key, keyFrequencyShare: keyShare,
            neuronFrequency: neuronFrequency, neuronFractionExplained: neuronFVE,
            fractionOfNeuronsExplained: alive > 0 ? Float(explained) / Float(alive) : 0,
            neuronsPerKeyFrequency: Dictionary(uniqueKeysWithValues: key.map { k in
                (k, zip(neuronFrequency, neuronFVE).filter { $0.0 == k && $0.1 > 0.85 }.count) }),
            restrictedLoss: restrictedLoss, excludedLoss: excludedLoss, fullLoss: fullLoss, testLoss: testLoss,
            sumOfSquaredWeights: sumOfSquaredWeights)
    }

    // MARK: Saving

    /// Saves the parameters (and the configuration, as JSON metadata) to a safetensors file.
    public func save(to url: URL) throws {
        try saveToyWeights(configuration, model: "modular-addition", names: configuration.shapes.map { $0.0 }, parameters: parameters, to: url)
    }

    /// Loads a model written by `save(to:)`.
    public static func load(from url: URL) throws -> ModularAdditionTransformer {
        let (c, params) = try loadToyWeights(Configuration.self, model: "modular-addition", from: url) { $0.shapes }
        var model = try ModularAdditionTransformer(c)
        model.parameters = params
        return model
    }
}

public struct ModularAdditionCurvePoint: Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Float
    public var testLoss: Float
    public var trainAccuracy: Float
    public var testAccuracy: Float
    public var sumOfSquaredWeights: Float
}

public struct ModularAdditionAnalysis: Sendable {
    /// ‖W_E projected on frequency k‖ for k = 1…(p−1)/2 (index k − 1); the constant term is left out.
    public var embeddingFrequencyNorms: [Float]
    /// Frequencies holding at least twice the uniform share (2 / ((p−1)/2)) of the embedding's
    /// Fourier energy, largest first.
    public var keyFrequencies: [Int]
    /// The share of the embedding's (non-constant) Fourier energy on the key frequencies.
    public var keyFrequencyShare: Float
    /// Per MLP neuron, the frequency that explains most of its variance over (a, b) (0 for a dead neuron).
    public var neuronFrequency: [Int]
    /// Per neuron, the fraction of variance that frequency explains.
    public var neuronFractionExplained: [Float]
    /// Among non-dead neurons, the fraction explained > 0.85 by one frequency.
    public var fractionOfNeuronsExplained: Float
    /// Neurons explained > 0.85 by each key frequency.
    public var neuronsPerKeyFrequency: [Int: Int]
    /// Loss over all p² inputs with the logits restricted to the key frequencies' cos/sin(w(a+b−c)) terms.
    public var restrictedLoss: Float
    /// Loss on the training set with those terms removed.
    public var excludedLoss: Float
    /// Loss over all p² inputs.
    public var fullLoss: Float
    public var testLoss: Float
    public var sumOfSquaredWeights: Float
}

public struct ModularAdditionResult: Sendable {
    public var model: ModularAdditionTransformer
    public var curve: [ModularAdditionCurvePoint]
    /// Epochs run (fewer than configured if stopped early).
    public var epochs: Int
    public var analysis: ModularAdditionAnalysis
}
