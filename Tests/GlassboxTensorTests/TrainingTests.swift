import Foundation
import Testing
@testable import GlassboxTensor

/// End-to-end: a small MLP trained with AdamW on a seeded two-moons set.
@Suite("Training end to end")
struct TrainingTests {
    /// Two interleaved half circles with Gaussian noise, labels 0/1.
    static func twoMoons(count: Int, noise: Float, seed: UInt64) -> (x: Tensor, y: [Int]) {
        var rng = SeededGenerator(seed: seed)
        var xs = [Float](), ys = [Int]()
        for i in 0..<count {
            let label = i % 2
            let t = Float.pi * rng.nextFloat()
            var px = Foundation.cos(t), py = Foundation.sin(t)
            if label == 1 { px = 1 - px; py = 0.5 - py }
            xs += [px + noise * rng.nextNormal(), py + noise * rng.nextNormal()]
            ys.append(label)
        }
        return (Tensor(shape: [count, 2], scalars: xs), ys)
    }

    static func train(seed: UInt64, steps: Int) -> (losses: [Float], accuracy: Double) {
        let data = twoMoons(count: 256, noise: 0.1, seed: 11)
        var rng = SeededGenerator(seed: seed)
        func layer(_ fanIn: Int, _ fanOut: Int) -> [Tensor] {
            [Tensor.randomNormal([fanOut, fanIn], std: (2 / Float(fanIn)).squareRoot(), using: &rng), Tensor.zeros([fanOut])]
        }
        var params = layer(2, 32) + layer(32, 32) + layer(32, 2)
        var optimizer = Adam.adamW(learningRate: .cosine(peak: 0.02, warmupSteps: 20, totalSteps: steps, floor: 0.002), weightDecay: 1e-4)
        func forward(_ p: [Tensor]) -> Tensor {
            let h1 = data.x.linear(weight: p[0], bias: p[1]).relu()
            let h2 = h1.linear(weight: p[2], bias: p[3]).tanh()
            return h2.linear(weight: p[4], bias: p[5])
        }
        var losses = [Float]()
        for _ in 0..<steps {
            var (loss, grads) = valueWithGradient(at: params) { forward($0).crossEntropy(targets: data.y) }
            clipGradientNorm(&grads, maxNorm: 5)
            optimizer.step(&params, grads)
            losses.append(loss.item)
        }
        let predictions = forward(params).argmax(axis: 1)
        let correct = zip(predictions, data.y).filter { $0 == $1 }.count
        return (losses, Double(correct) / Double(data.y.count))
    }

    @Test func mlpLearnsTwoMoonsDeterministically() {
        let first = Self.train(seed: 3, steps: 400)
        let second = Self.train(seed: 3, steps: 400)
        #expect(first.accuracy == 1.0, "accuracy \(first.accuracy), final loss \(first.losses.last!)")
        #expect(first.losses == second.losses, "losses differ between two runs with the same seed")
        #expect(first.losses.last! < 0.05 * first.losses.first!)
    }

    @Test func sgdWithMomentumMinimisesAQuadratic() {
        // f(w) = ½‖Aw − b‖²: the minimiser solves the normal equations; here A is diagonal.
        var params = [Tensor([5, -3])]
        var sgd = SGD(learningRate: .constant(0.1), momentum: 0.9)
        let a = Tensor([2, 0.5]), b = Tensor([4, 1])
        for _ in 0..<300 {
            let (_, g) = valueWithGradient(at: params) { (($0[0] * a - b).squared() * 0.5).sum() }
            sgd.step(&params, g)
        }
        expectClose(params[0].scalars, [2, 2], atol: 1e-3)
    }

    @Test func adamMatchesAHandComputedStep() {
        // One Adam step moves each weight by lr·sign(g) (bias-corrected m/√v = ±1).
        var params = [Tensor([1, -2, 3])]
        var adam = Adam(learningRate: .constant(0.1))
        adam.step(&params, [Tensor([0.5, -4, 0])])
        expectClose(params[0].scalars, [0.9, -1.9, 3], atol: 1e-6)
        // AdamW decays the weights by lr·λ before the moment update.
        var p2 = [Tensor([2])]
        var adamW = Adam.adamW(learningRate: .constant(0.1), weightDecay: 0.5)
        adamW.step(&p2, [Tensor([1])])
        expectClose(p2[0].scalars, [2 * (1 - 0.05) - 0.1], atol: 1e-6)
    }

    @Test func schedulesAndClipping() {
        let cosine = LearningRateSchedule.cosine(peak: 1, warmupSteps: 10, totalSteps: 110, floor: 0)
        #expect(abs(cosine.rate(at: 4) - 0.5) < 1e-6)
        #expect(abs(cosine.rate(at: 10) - 1) < 1e-6)
        #expect(abs(cosine.rate(at: 60) - 0.5) < 1e-6)
        #expect(abs(cosine.rate(at: 110)) < 1e-6)
        #expect(LearningRateSchedule.linearWarmup(peak: 2, warmupSteps: 4).rate(at: 1) == 1)
        var grads = [Tensor([3, 0]), Tensor([4])]
        let norm = clipGradientNorm(&grads, maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        expectClose(grads[0].scalars + grads[1].scalars, [0.6, 0, 0.8], atol: 1e-5)
    }
}

@Suite("Misuse is reported with the op and the shapes")
struct MisuseTests {
    @Test func shapeMismatchNamesBothShapesAndTheOp() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }.map { result in
            let text = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(text.contains("add: shapes [2, 3] and [4] cannot be broadcast together"), "stderr: \(text)")
        }
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([2, 3]))
        }.map { result in
            let text = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(text.contains("matmul: inner dimensions differ: [2, 3] × [2, 3]"), "stderr: \(text)")
        }
    }
}
