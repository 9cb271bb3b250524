import Foundation
import GlassboxTensor

/// Computation in superposition — the |x| task of Elhage et al. 2022, "Toy Models of
/// Superposition", arXiv 2209.10652 (section "Computation in Superposition").
///
/// Features xᵢ are 0 with probability S, else U[−1, 1]; the model h = ReLU(W₁x),
/// y′ = ReLU(W₂h + b) with m hidden neurons must output |x|, under the importance-weighted
/// squared error. Computing |xᵢ| takes two ReLU neurons (xᵢ⁺ and xᵢ⁻), so dense features get
/// about m/2 features; sparse ones get more, with polysemantic neurons. Instances (one per
/// sparsity) are trained at once, as batched tensors.
public struct AbsoluteValueSuperpositionModel: Sendable {
    public typealias Configuration = SuperpositionModel.Configuration

    public let configuration: Configuration
    /// W₁, [instances, hidden, features].
    public internal(set) var inputWeight: Tensor
    /// W₂, [instances, features, hidden].
    public internal(set) var outputWeight: Tensor
    /// b, [instances, features].
    public internal(set) var bias: Tensor

    /// Seeded initialisation: W₁ and W₂ xavier-normal per instance, b = 0.
    /// (`configuration.activation` is ignored: both layers are ReLU.)
    public init(_ configuration: Configuration) throws {
        try configuration.validate()
        self.configuration = configuration
        var rng = SeededGenerator(seed: configuration.seed)
        let (i, m, n) = (configuration.instances, configuration.hidden, configuration.features)
        let std = Float((2.0 / Double(m + n)).squareRoot())
        inputWeight = Tensor.randomNormal([i, m, n], std: std, using: &rng)
        outputWeight = Tensor.randomNormal([i, n, m], std: std, using: &rng)
        bias = Tensor.zeros([i, n])
    }

    static func forward(_ p: [Tensor], _ x: Tensor) -> Tensor {
        let h = x.matmul(p[0].transposed()).relu()                    // [I, B, m]
        return (h.matmul(p[1].transposed()) + p[2].unsqueezed(axis: 1)).relu() // [I, B, n]
    }

    /// y′ for x: [instances, batch, features].
    public func forward(_ x: Tensor) -> Tensor { Self.forward([inputWeight, outputWeight, bias], x) }

    public mutating func train(progress: ToyProgressHandler? = nil) -> AbsoluteValueTrainingResult {
        let c = configuration
        var rng = SeededGenerator(seed: c.seed &+ 0x5EED_DA7A)
        var opt = Adam.adamW(learningRate: .constant(c.learningRate), weightDecay: c.weightDecay)
        var params = [inputWeight, outputWeight, bias]
        let imp = Tensor(shape: [1, 1, c.features], scalars: c.importance)
        var curve: [SuperpositionCurvePoint] = []
        for step in 1...c.steps {
            let x = SuperpositionModel.sampleBatch(sparsities: c.sparsities, batch: c.batchSize, features: c.features,
                                                   signed: true, using: &rng)
            let target = x.abs()
            var losses: [Float] = []
            let (_, grads) = valueWithGradient(at: params) { p in
                let perInstance = ((Self.forward(p, x) - target).squared() * imp).mean(axes: [1, 2])
                losses = perInstance.detached().scalars
                return perInstance.sum()
            }
            opt.step(&params, grads)
            if step % c.logEvery == 0 || step == c.steps {
                curve.append(SuperpositionCurvePoint(step: step, losses: losses))
                progress?(ToyTrainingProgress(task: "superposition-abs", step: step, totalSteps: c.steps, loss: losses.reduce(0, +)))
            }
        }
        inputWeight = params[0]; outputWeight = params[1]; bias = params[2]
        return AbsoluteValueTrainingResult(model: self, lossCurve: curve, analyses: analyses())
    }

    /// Per instance: which features have an input direction (‖W₁ column‖ > 0.5) and how many
    /// neurons are monosemantic (one feature carries ≥ 90% of the neuron's squared input weights).
    public func analyses() -> [AbsoluteValueAnalysis] {
        let (m, n) = (configuration.hidden, configuration.features)
        return (0..<configuration.instances).map { i in
            let w = inputWeight.select(axis: 0, i).scalars            // [m, n]
            var colNorm = [Float](repeating: 0, count: n)
            var mono = 0
            var featuresPerNeuron = [Int](repeating: 0, count: m)
            for j in 0..<m {
                var total: Float = 0, top: Float = 0
                for f in 0..<n {
                    let v = w[j * n + f] * w[j * n + f]
                    colNorm[f] += v; total += v; top = Swift.max(top, v)
                }
                if total > 0 && top >= 0.9 * total { mono += 1 }
                featuresPerNeuron[j] = (0..<n).filter { total > 0 && w[j * n + $0] * w[j * n + $0] >= 0.1 * total }.count
            }
            let norms = colNorm.map { $0.squareRoot() }
            return AbsoluteValueAnalysis(sparsity: configuration.sparsities[i], inputNorms: norms,
                                         representedFeatures: norms.filter { $0 > 0.5 }.count,
                                         monosemanticNeurons: mono, featuresPerNeuron: featuresPerNeuron)
        }
    }

    public func save(to url: URL) throws {
        try saveToyWeights(configuration, model: "superposition-abs", names: ["W1", "W2", "b"],
                           parameters: [inputWeight, outputWeight, bias], to: url)
    }

    public static func load(from url: URL) throws -> AbsoluteValueSuperpositionModel {
        let (c, p) = try loadToyWeights(Configuration.self, model: "superposition-abs", from: url) {
            [("W1", [$0.instances, $0.hidden, $0.features]), ("W2", [$0.instances, $0.features, $0.hidden]),
             ("b", [$0.instances, $0.features])]
        }
        var model = try AbsoluteValueSuperpositionModel(c)
        model.inputWeight = p[0]; model.outputWeight = p[1]; model.bias = p[2]
        return model
    }
}

public struct AbsoluteValueAnalysis: Sendable {
    public var sparsity: Float
    /// ‖W₁ column i‖ per feature.
    public var inputNorms: [Float]
    public var representedFeatures: Int
    public var monosemanticNeurons: Int
    /// Per neuron, how many features carry ≥ 10% of its squared input weights.
    public var featuresPerNeuron: [Int]
}

public struct AbsoluteValueTrainingResult: Sendable {
    public var model: AbsoluteValueSuperpositionModel
    public var lossCurve: [SuperpositionCurvePoint]
    public var analyses: [AbsoluteValueAnalysis]
}
