import Foundation
import Testing
import GlassboxTensor
@testable import GlassboxMethods

/// The hand-written fast paths of the toy models against the generic autodiff they replace.
@Suite struct ToysFastPathTests {
    /// A TopK SAE with non-zero biases, so every gradient term is exercised.
    static func topKSetup(auxK: Int, deadEvery: Int) throws -> (params: [Tensor], config: SparseAutoencoder.Configuration, x: Tensor, dead: [Float]) {
        let config = SparseAutoencoder.Configuration(inputDimension: 24, latents: 96,
                                                     kind: .topK(k: 5, auxK: auxK, auxCoefficient: 0.25, deadAfterSteps: 10),
                                                     batchSize: 40, seed: 7)
        let sae = try SparseAutoencoder(config)
        var rng = SeededGenerator(seed: 11)
        var params = sae.parameters
        params[0] = (params[0] + Tensor.randomNormal([96, 24], std: 0.3, using: &rng)).contiguous()
        params[1] = Tensor.randomNormal([96], std: 0.2, using: &rng)
        params[3] = Tensor.randomNormal([24], std: 0.5, using: &rng)
        let x = Tensor.randomNormal([40, 24], using: &rng)
        let dead = (0..<96).map { deadEvery > 0 && $0 % deadEvery == 3 ? Float(1) : 0 }
        return (params, config, x, dead)
    }

    /// auxK below the dead count, auxK above it (all dead latents used), and no dead latents.
    @Test(arguments: [(8, 4), (40, 6), (8, 0)])
    func topKStepMatchesAutodiff(_ auxK: Int, _ deadEvery: Int) throws {
        let (params, config, x, dead) = try Self.topKSetup(auxK: auxK, deadEvery: deadEvery)
        let reference = SparseAutoencoder.referenceStep(params, config, x: x, dead: dead)
        let fast = SparseAutoencoder.topKStep(params, k: 5, auxK: auxK, auxCoefficient: 0.25, x: x, dead: dead)
        #expect(abs(fast.loss - reference.loss) <= 1e-4 * abs(reference.loss), "loss \(fast.loss) vs \(reference.loss)")
        #expect(abs(fast.reconstruction - reference.reconstruction) <= 1e-4 * reference.reconstruction)
        #expect(abs(fast.auxiliary - reference.auxiliary) <= 1e-4 * Swift.max(reference.auxiliary, 1e-6))
        if deadEvery > 0 { #expect(reference.auxiliary > 0) } else { #expect(fast.auxiliary == 0) }
        #expect(fast.fired == reference.fired)
        for (i, name) in ["W_enc", "b_enc", "W_dec", "b_dec"].enumerated() {
            #expect(fast.gradients[i].shape == reference.gradients[i].shape, "\(name)")
            let scale = reference.gradients[i].scalars.map(abs).max() ?? 1
            expectToyClose(fast.gradients[i].scalars, reference.gradients[i].scalars, atol: 1e-5 * scale, rtol: 1e-4, name)
        }
    }

    /// Training a TopK SAE through the fast step equals training it through the generic one.
    @Test func topKTrainingFollowsTheReference() throws {
        let data = try PlantedFeatureData(inputDimension: 16, features: 32, meanActive: 2, samples: 512, seed: 5)
        let config = SparseAutoencoder.Configuration(inputDimension: 16, latents: 48,
                                                     kind: .topK(k: 3, auxK: 8, auxCoefficient: 1.0 / 32, deadAfterSteps: 1),
                                                     steps: 30, batchSize: 64, learningRate: 1e-3, seed: 6)
        var sae = try SparseAutoencoder(config)
        let trained = try sae.train(on: data.samples)
        // the same loop, through the reference step
        var params = try SparseAutoencoder(config).parameters
        params[3] = data.samples.mean(axes: [0]).contiguous()
        var opt = Adam(learningRate: .constant(config.learningRate))
        var rng = SeededGenerator(seed: config.seed &+ 0xDA7A)
        var order = Array(0..<512), cursor = 512
        var sinceFired = [Int](repeating: 0, count: 48)
        var losses: [Float] = []
        var deadSteps = 0
        for _ in 0..<config.steps {
            var rows: [Int] = []
            while rows.count < 64 {
                if cursor == 512 { rng.shuffle(&order); cursor = 0 }
                let take = Swift.min(64 - rows.count, 512 - cursor)
                rows += order[cursor..<(cursor + take)]; cursor += take
            }
            let dead = sinceFired.map { $0 >= 1 ? Float(1) : 0 }
            if dead.contains(1) { deadSteps += 1 }
            let s = SparseAutoencoder.referenceStep(params, config, x: data.samples.indexSelect(rows, axis: 0), dead: dead)
            losses.append(s.loss)
            opt.step(&params, s.gradients)
            params[2] = SparseAutoencoder.unitColumns(params[2])
            for j in 0..<48 { sinceFired[j] = s.fired[j] ? 0 : sinceFired[j] + 1 }
        }
        #expect(deadSteps > 0, "some latents go dead, so the auxiliary loss is exercised")
        expectToyClose([trained.curve.last!.loss], [losses.last!], atol: 0, rtol: 1e-3, "final loss")
        for i in 0..<4 {
            expectToyClose(trained.model.parameters[i].scalars, params[i].scalars, atol: 1e-4, rtol: 1e-3, "parameter \(i)")
        }
    }

    @Test func topKIndicesPicksTheLargestWithEarliestOnTies() {
        var values: [Float] = [0.5, 2, 2, -1, 7, 2, 0.1]
        var hv = [Float](repeating: 0, count: 3), hi = [Int32](repeating: 0, count: 3)
        values.withUnsafeMutableBufferPointer { v in
            SparseAutoencoder.topKIndices(v.baseAddress!, v.count, 3, &hv, &hi)
        }
        #expect(Set(hi) == [1, 2, 4])
    }

    /// A p = 31 model with every weight and bias perturbed by N(0, 0.1²), and its training pairs.
    static func perturbedModularAddition(seed: UInt64) throws -> (ModularAdditionTransformer.Configuration, [Tensor], [(Int, Int)]) {
        let config = ModularAdditionTransformer.Configuration(p: 31, dModel: 32, heads: 4, dHead: 8, dMLP: 64, seed: 3)
        let model = try ModularAdditionTransformer(config)
        var rng = SeededGenerator(seed: seed)
        let params = model.parameters.map { ($0 + Tensor.randomNormal($0.shape, std: 0.1, using: &rng)).contiguous() }
        return (config, params, ModularAdditionTransformer.split(config).train)
    }

    /// The table-based modular-addition forward against the paper's formulation: activations
    /// and the gradients of the training loss (random weights and biases, p = 31).
    @Test func modularAdditionTablesMatchTheReference() throws {
        let (config, params, train) = try Self.perturbedModularAddition(seed: 4)
        let fast = ModularAdditionTransformer.forward(params, config, pairs: train)
        let reference = ModularAdditionTransformer.referenceForward(params, config, pairs: train)
        expectToyClose(fast.logits.scalars, reference.logits.scalars, atol: 1e-4, rtol: 1e-4, "logits")
        expectToyClose(fast.neurons.scalars, reference.neurons.scalars, atol: 1e-4, rtol: 1e-4, "neurons")
        expectToyClose(fast.pattern.scalars, reference.pattern.scalars, atol: 1e-5, "pattern")
        #expect(fast.pattern.shape == reference.pattern.shape)
        let targets = train.map { ($0.0 + $0.1) % config.p }
        let (lf, gf) = valueWithGradient(at: params) { ModularAdditionTransformer.forward($0, config, pairs: train).logits.crossEntropy(targets: targets) }
        let (lr, gr) = valueWithGradient(at: params) { ModularAdditionTransformer.referenceForward($0, config, pairs: train).logits.crossEntropy(targets: targets) }
        expectToyClose([lf.item], [lr.item], atol: 1e-5, rtol: 1e-5, "loss")
        for (i, (name, _)) in config.shapes.enumerated() {
            let scale = gr[i].scalars.map(abs).max() ?? 1
            #expect(scale > 0, "\(name) has a gradient")
            expectToyClose(gf[i].scalars, gr[i].scalars, atol: 1e-4 * scale, rtol: 1e-3, name)
        }
    }

    /// The hand-written epoch against autodiff through the paper's formulation: logits,
    /// neurons, attention, loss and every gradient (random weights and biases, p = 31).
    @Test func modularAdditionKernelMatchesAutodiff() throws {
        let (config, params, train) = try Self.perturbedModularAddition(seed: 5)
        let kernel = ModularAdditionKernel(config, parameters: params, capacity: train.count)
        let loss = kernel.lossAndGradient(train)
        let gradients = kernel.tensors(gradients: true)
        kernel.forward(train)
        let n = train.count
        let reference = ModularAdditionTransformer.referenceForward(params, config, pairs: train)
        expectToyClose(Array(UnsafeBufferPointer(start: kernel.logits, count: n * 31)), reference.logits.scalars, atol: 1e-4, rtol: 1e-4, "logits")
        expectToyClose(Array(UnsafeBufferPointer(start: kernel.neurons, count: n * 64)), reference.neurons.scalars, atol: 1e-4, rtol: 1e-4, "neurons")
        // kernel pattern is [N, 3, H]; the reference's is [N, H, 3]
        expectToyClose(Array(UnsafeBufferPointer(start: kernel.pattern, count: n * 12)),
                       reference.pattern.permuted([0, 2, 1]).contiguous().scalars, atol: 1e-5, "pattern")
        let targets = train.map { ($0.0 + $0.1) % config.p }
        let (lr, gr) = valueWithGradient(at: params) { ModularAdditionTransformer.referenceForward($0, config, pairs: train).logits.crossEntropy(targets: targets) }
        expectToyClose([loss], [lr.item], atol: 1e-5, rtol: 1e-5, "loss")
        let evaluated = kernel.lossAndAccuracy(train)
        let expected = ModularAdditionTransformer.lossAndAccuracy(reference.logits, pairs: train, p: 31)
        expectToyClose([evaluated.loss], [expected.loss], atol: 1e-5, rtol: 1e-5, "evaluated loss")
        #expect(evaluated.accuracy == expected.accuracy)
        for (i, (name, _)) in config.shapes.enumerated() {
            let scale = gr[i].scalars.map(abs).max() ?? 1
            #expect(scale > 0, "\(name) has a gradient")
            #expect(gradients[i].shape == gr[i].shape)
            expectToyClose(gradients[i].scalars, gr[i].scalars, atol: 1e-5 * scale, rtol: 1e-4, name)
        }
    }

    /// Training through the kernel follows autodiff + `Adam.adamW` step for step, and is
    /// bitwise deterministic for a seed.
    @Test func modularAdditionTrainingFollowsAutodiffAndIsDeterministic() throws {
        let config = ModularAdditionTransformer.Configuration(p: 23, dModel: 32, heads: 4, dHead: 8, dMLP: 64,
                                                              warmupSteps: 5, epochs: 30, seed: 2, evalEvery: 10)
        var a = try ModularAdditionTransformer(config), b = try ModularAdditionTransformer(config)
        let ra = a.train(), rb = b.train()
        for (x, y) in zip(ra.model.parameters, rb.model.parameters) { #expect(x.scalars == y.scalars) }
        #expect(ra.curve == rb.curve)
        #expect(ra.curve.map(\.epoch) == [10, 20, 30])
        // the same 30 epochs through autodiff and the tensor optimizer
        let (train, test) = ModularAdditionTransformer.split(config)
        let targets = train.map { ($0.0 + $0.1) % config.p }
        var params = try ModularAdditionTransformer(config).parameters
        var opt = Adam.adamW(learningRate: .linearWarmup(peak: config.learningRate, warmupSteps: config.warmupSteps),
                             beta1: config.beta1, beta2: config.beta2, weightDecay: config.weightDecay)
        var lastLoss: Float = 0
        for _ in 0..<config.epochs {
            let (l, g) = valueWithGradient(at: params) { ModularAdditionTransformer.referenceForward($0, config, pairs: train).logits.crossEntropy(targets: targets) }
            lastLoss = l.item
            opt.step(&params, g)
        }
        for (i, (name, _)) in config.shapes.enumerated() {
            expectToyClose(ra.model.parameters[i].scalars, params[i].scalars, atol: 1e-4, rtol: 1e-3, name)
        }
        let testLogits = ModularAdditionTransformer.referenceForward(params, config, pairs: test).logits
        let testLoss = ModularAdditionTransformer.lossAndAccuracy(testLogits, pairs: test, p: config.p).loss
        expectToyClose([ra.curve.last!.testLoss], [testLoss], atol: 1e-4, rtol: 1e-3, "test loss")
        #expect(lastLoss > 0)
    }
}
