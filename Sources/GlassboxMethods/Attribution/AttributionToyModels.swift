import Foundation
import GlassboxTensor

/// Small seeded networks for checking attribution axioms (tests and reproduction targets).
public enum AttributionToyModels {
    /// A smooth scalar network f(x) = v · tanh(W x + b) + ½ softplus(u · x), weights from
    /// `seed` (W ~ N(0, 0.8²), b ~ N(0, 0.3²), v, u ~ N(0, 1)), as a batched function [k, n] → [k].
    public static func smooth(inputs n: Int, hidden: Int = 16, seed: UInt64) -> BatchedFunction {
        var rng = SeededGenerator(seed: seed)
        let w = Tensor.randomNormal([hidden, n], std: 0.8, using: &rng)   // [hidden, n]
        let b = Tensor.randomNormal([hidden], std: 0.3, using: &rng)      // [hidden]
        let v = Tensor.randomNormal([1, hidden], using: &rng)             // [1, hidden]
        let u = Tensor.randomNormal([1, n], using: &rng)                  // [1, n]
        return BatchedFunction(batched: { x in
            let k = x.shape[0]
            let h = x.linear(weight: w, bias: b).tanh().linear(weight: v)  // [k, 1]
            let s = x.linear(weight: u).softplus() * 0.5                   // [k, 1]
            return (h + s).reshaped([k])
        })
    }

    /// A seeded Gaussian vector.
    public static func vector(_ n: Int, seed: UInt64, std: Float = 1) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor.randomNormal([n], std: std, using: &rng)
    }

    /// A `ReLUNetwork` classifier trained with Adam (full batch, cross-entropy) on a seeded
    /// synthetic task: `samples` Gaussian inputs of `sizes[0]` features, the class is which of
    /// `sizes.last` fixed sparse linear scores (4 features each) is largest. Returns the network
    /// and its training accuracy.
    public static func trainedClassifier(sizes: [Int], samples: Int = 512, steps: Int = 300, seed: UInt64)
        -> (network: ReLUNetwork, accuracy: Double) {
        precondition(sizes.count >= 2 && sizes[0] >= 4, "trainedClassifier: need ≥ 4 inputs and an output layer")
        var rng = SeededGenerator(seed: seed)
        let n = sizes[0], classes = sizes[sizes.count - 1]
        let x = Tensor.randomNormal([samples, n], using: &rng)                                    // [samples, n]
        // Class scores: each class reads 4 random features with random signs.
        var readout = [Float](repeating: 0, count: classes * n)
        for c in 0..<classes {
            var features = Array(0..<n)
            rng.shuffle(&features)
            for f in features.prefix(4) { readout[c * n + f] = rng.next() & 1 == 0 ? 1 : -1 }
        }
        let scores = x.linear(weight: Tensor(shape: [classes, n], scalars: readout))              // [samples, classes]
        let labels = scores.argmax(axis: -1)
        var net = ReLUNetwork.random(sizes: sizes, seed: rng.next())
        var params = net.layers.flatMap { [$0.weight, $0.bias] }
        var adam = Adam(learningRate: .constant(0.01))
        for _ in 0..<steps {
            let tape = GradientTape()
            let watched = params.map { tape.watch($0) }
            let current = ReLUNetwork(layers: stride(from: 0, to: watched.count, by: 2).map {
                ReLUNetwork.Layer(weight: watched[$0], bias: watched[$0 + 1])
            })
            let loss = current(x).crossEntropy(targets: labels)
            let grads = tape.gradient(of: loss, withRespectTo: watched)
            adam.step(&params, grads)
        }
        net = ReLUNetwork(layers: stride(from: 0, to: params.count, by: 2).map { ReLUNetwork.Layer(weight: params[$0].detached(), bias: params[$0 + 1].detached()) })
        let predicted = net(x).argmax(axis: -1)
        let accuracy = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(samples)
        return (net, accuracy)
    }
}

