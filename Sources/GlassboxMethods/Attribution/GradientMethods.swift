import Foundation
import GlassboxTensor

/// What a single-gradient method returns.
public struct GradientAttribution: @unchecked Sendable {
    /// The attribution map, the input's shape.
    public var attributions: Tensor
    /// F(x).
    public var value: Double
    /// Gradient entries that were NaN or ±∞ and were set to 0.
    public var nonFiniteGradients: Int
}

/// Saliency maps (Simonyan, Vedaldi & Zisserman, "Deep Inside Convolutional Networks",
/// arXiv 1312.6034): the gradient of the output with respect to the input, by default its
/// absolute value (as the paper and Captum's `abs=True`).
public struct Saliency: Sendable {
    public var function: BatchedFunction
    public var absolute: Bool

    public init(_ function: BatchedFunction, absolute: Bool = true) {
        self.function = function
        self.absolute = absolute
    }

    public func attribute(_ input: Tensor) -> GradientAttribution {
        let r = function.valuesAndGradients(input.unsqueezed(axis: 0))
        let g = r.gradients.reshaped(input.shape)
        return GradientAttribution(attributions: absolute ? g.abs() : g, value: r.values[0], nonFiniteGradients: r.nonFinite)
    }
}

/// Gradient × input (Shrikumar et al., arXiv 1605.01713; discussed as a DeepLIFT/LRP
/// relative in arXiv 1704.02685): x ⊙ ∇F(x). For a linear F without bias it sums to F(x).
public struct GradientTimesInput: Sendable {
    public var function: BatchedFunction

    public init(_ function: BatchedFunction) { self.function = function }

    public func attribute(_ input: Tensor) -> GradientAttribution {
        let r = function.valuesAndGradients(input.unsqueezed(axis: 0))
        return GradientAttribution(attributions: r.gradients.reshaped(input.shape) * input.detached(), value: r.values[0],
                                   nonFiniteGradients: r.nonFinite)
    }
}

/// SmoothGrad (Smilkov et al., arXiv 1706.03825): the gradient averaged over `samples` copies
/// of the input with Gaussian noise N(0, σ²) added, σ = `noiseLevel` × (max − min) of the
/// input (the paper's 10–20 %). Noise comes from `seed`; samples are evaluated
/// `internalBatchSize` at a time. `squared` averages squared gradients (SmoothGrad²).
public struct SmoothGrad: Sendable {
    public var function: BatchedFunction
    public var samples: Int
    public var noiseLevel: Double
    public var seed: UInt64
    public var squared: Bool
    public var internalBatchSize: Int

    public init(_ function: BatchedFunction, samples: Int = 50, noiseLevel: Double = 0.15, seed: UInt64 = 0,
                squared: Bool = false, internalBatchSize: Int = 50) {
        self.function = function
        self.samples = samples
        self.noiseLevel = noiseLevel
        self.seed = seed
        self.squared = squared
        self.internalBatchSize = internalBatchSize
    }

    public func attribute(_ input: Tensor) throws -> GradientAttribution {
        guard samples >= 1 else { throw AttributionError.invalidArgument("SmoothGrad samples = \(samples): expected ≥ 1") }
        guard noiseLevel >= 0, noiseLevel.isFinite else { throw AttributionError.invalidArgument("SmoothGrad noise level \(noiseLevel): expected a finite number ≥ 0") }
        let x = input.scalars, n = x.count
        let range = (x.max() ?? 0) - (x.min() ?? 0)
        let sigma = Float(noiseLevel) * (range > 0 ? range : 1)
        var rng = SeededGenerator(seed: seed)
        var total = [Double](repeating: 0, count: n)
        var nonFinite = 0
        for chunk in chunks(samples, size: internalBatchSize) {
            let rows = chunk.map { _ in x.map { $0 + sigma * rng.nextNormal() } }
            let r = function.valuesAndGradients(stackRows(rows, shape: input.shape))
            nonFinite += r.nonFinite
            r.gradients.withUnsafeBufferPointer { g in
                for k in 0..<chunk.count {
                    for j in 0..<n {
                        let v = Double(g[k * n + j])
                        total[j] += squared ? v * v : v
                    }
                }
            }
        }
        let value = function.values(input.unsqueezed(axis: 0))[0]
        return GradientAttribution(attributions: Tensor(shape: input.shape, scalars: total.map { Float($0 / Double(samples)) }),
                                   value: value, nonFiniteGradients: nonFinite)
    }
}
