import Foundation
import GlassboxTensor

/// A feed-forward network of dense layers with a ReLU after every layer but the last:
/// y = W_L · relu(… relu(W_1 x + b_1) …) + b_L. Weights are [out, in].
public struct ReLUNetwork: @unchecked Sendable {
    public struct Layer: @unchecked Sendable {
        public var weight: Tensor   // [out, in]
        public var bias: Tensor     // [out]
        public init(weight: Tensor, bias: Tensor) {
            precondition(weight.rank == 2 && bias.shape == [weight.shape[0]], "ReLUNetwork.Layer: weight \(weight.shape) and bias \(bias.shape) do not fit")
            self.weight = weight
            self.bias = bias
        }
    }
    public var layers: [Layer]

    public init(layers: [Layer]) {
        precondition(!layers.isEmpty, "ReLUNetwork: no layers")
        for (a, b) in zip(layers, layers.dropFirst()) {
            precondition(a.weight.shape[0] == b.weight.shape[1], "ReLUNetwork: layer widths \(a.weight.shape) then \(b.weight.shape) do not chain")
        }
        self.layers = layers
    }

    /// Layers of the given widths (`sizes[0]` inputs … `sizes.last` outputs) with weights
    /// N(0, 2/fan_in) and biases N(0, 0.1²) from `seed`.
    public static func random(sizes: [Int], seed: UInt64) -> ReLUNetwork {
        precondition(sizes.count >= 2, "ReLUNetwork.random: need at least input and output sizes")
        var rng = SeededGenerator(seed: seed)
        return ReLUNetwork(layers: zip(sizes, sizes.dropFirst()).map { fanIn, fanOut in
            Layer(weight: Tensor.randomNormal([fanOut, fanIn], std: Float((2.0 / Double(fanIn)).squareRoot()), using: &rng),
                  bias: Tensor.randomNormal([fanOut], std: 0.1, using: &rng))
        })
    }

    public var inputSize: Int { layers[0].weight.shape[1] }
    public var outputSize: Int { layers[layers.count - 1].weight.shape[0] }

    /// The forward pass on [..., in] → [..., out] (differentiable).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (i, l) in layers.enumerated() {
            h = h.linear(weight: l.weight, bias: l.bias)
            if i < layers.count - 1 { h = h.relu() }
        }
        return h
    }

    /// The scalar output `output` as a batched function ([k, in] → [k]).
    public func function(output: Int = 0) -> BatchedFunction {
        let net = self
        return BatchedFunction(batched: { x in net(x).select(axis: -1, output) })
    }
}

/// What DeepLIFT returns.
public struct DeepLIFTResult: @unchecked Sendable {
    /// Contribution scores C_{Δxᵢ Δy} = mᵢ · (xᵢ − x′ᵢ), the input's shape.
    public var attributions: Tensor
    /// Δy = y(x) − y(x′).
    public var outputDifference: Double
    /// Σ attributions − Δy: zero by the summation-to-delta property, up to rounding.
    public var delta: Double
}

/// DeepLIFT with the Rescale rule (Shrikumar, Greenside & Kundaje, "Learning Important
/// Features Through Propagating Activation Differences", arXiv 1704.02685) on a
/// `ReLUNetwork`. Multipliers are propagated backwards from the output: a dense layer maps
/// them through Wᵀ; a ReLU scales them by Δrelu(z)/Δz (the Rescale rule), or by the
/// gradient at z when |Δz| < 1e-7, where the ratio is numerically undefined (its limit).
/// Computed in Double, so summation-to-delta, Σᵢ Cᵢ = Δy, holds to rounding.
public struct DeepLIFT: Sendable {
    public var network: ReLUNetwork
    public var output: Int

    public init(_ network: ReLUNetwork, output: Int = 0) {
        self.network = network
        self.output = output
    }

    public func attribute(_ input: Tensor, baseline: Tensor? = nil) throws -> DeepLIFTResult {
        guard input.shape == [network.inputSize] else {
            throw AttributionError.invalidArgument("DeepLIFT: input shape \(input.shape), expected [\(network.inputSize)]")
        }
        guard output >= 0 && output < network.outputSize else {
            throw AttributionError.invalidArgument("DeepLIFT: output \(output) out of range 0..<\(network.outputSize)")
        }
        let base = baseline ?? Tensor.zeros(input.shape)
        try checkSameShape(input, base, "DeepLIFT")
        let weights = network.layers.map { $0.weight.scalars.map(Double.init) }
        let biases = network.layers.map { $0.bias.scalars.map(Double.init) }
        // Forward passes for input and reference, keeping every layer's pre-activation z.
        func forward(_ x: [Double]) -> [[Double]] {
            var pre: [[Double]] = []
            var h = x
            for l in 0..<weights.count {
                let rows = biases[l].count, cols = h.count
                var z = biases[l]
                for r in 0..<rows { for c in 0..<cols { z[r] += weights[l][r * cols + c] * h[c] } }
                pre.append(z)
                h = l < weights.count - 1 ? z.map { Swift.max(0, $0) } : z
            }
            return pre
        }
        let x = input.scalars.map(Double.init), x0 = base.scalars.map(Double.init)
        let z = forward(x), z0 = forward(x0)
        let last = weights.count - 1
        // Multipliers of the chosen output with respect to the last layer's pre-activation.
        var m = [Double](repeating: 0, count: biases[last].count)
        m[output] = 1
        for l in stride(from: last, through: 0, by: -1) {
            if l < last {
                for i in 0..<m.count {   // ReLU on z[l] (Rescale rule)
                    let dz = z[l][i] - z0[l][i]
                    let ratio = Swift.abs(dz) >= 1e-7
                        ? (Swift.max(0, z[l][i]) - Swift.max(0, z0[l][i])) / dz
                        : (z[l][i] > 0 ? 1.0 : 0.0)
                    m[i] *= ratio
                }
            }
            let rows = biases[l].count, cols = weights[l].count / rows
            var back = [Double](repeating: 0, count: cols)
            for r in 0..<rows where m[r] != 0 { for c in 0..<cols { back[c] += weights[l][r * cols + c] * m[r] } }
            m = back
        }
        let contributions = (0..<x.count).map { m[$0] * (x[$0] - x0[$0]) }
        let dy = z[last][output] - z0[last][output]
        return DeepLIFTResult(attributions: Tensor(shape: input.shape, scalars: contributions.map(Float.init)),
                              outputDifference: dy, delta: contributions.reduce(0, +) - dy)
    }
}
