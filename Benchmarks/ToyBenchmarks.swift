import Foundation
@testable import GlassboxMethods
import GlassboxTensor

// `make bench` builds with -enable-testing (the Makefile's BUILD_FLAGS), so the per-step
// functions the training loops call can be timed directly.

/// Training speed of the toy models: a superposition step, a modular-addition epoch, a TopK SAE step.
func toyBenchmarks(_ h: BenchHarness) {
    // Superposition (arXiv 2209.10652): n = 20, m = 5, batch 1024, 10 instances; 200 steps per run
    // (sampling, closed-form gradients, AdamW).
    if h.wants("toy superposition") {
        let steps = 200
        let config = SuperpositionModel.Configuration(
            features: 20, hidden: 5, importance: SuperpositionModel.Configuration.geometricImportance(features: 20, decay: 0.7),
            sparsities: SuperpositionModel.Configuration.densitySweep(count: 10), steps: steps, logEvery: steps)
        var times: [Double] = []
        for _ in 0..<3 {
            var model = try! SuperpositionModel(config)
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = model.train()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(steps))
        }
        h.record("toy superposition step (10 inst, batch 1024)", seconds: times,
                 note: String(format: "%.0f steps/s", 1 / times.sorted()[1]))
    }

    // Modular addition (arXiv 2301.05217), p = 113, 30% train: one full-batch epoch
    // (forward, backward, AdamW) over the 3,830 training pairs.
    if h.wants("toy modular addition") {
        let config = ModularAdditionTransformer.Configuration()
        let model = try! ModularAdditionTransformer(config)
        let (train, _) = ModularAdditionTransformer.split(config)
        let targets = train.map { ($0.0 + $0.1) % config.p }
        var params = model.parameters
        var opt = Adam.adamW(learningRate: .constant(1e-3), beta1: 0.9, beta2: 0.98, weightDecay: 1)
        let kernel = ModularAdditionKernel(config, parameters: model.parameters, capacity: train.count)
        h.measure("toy modular addition epoch (p 113)", runs: 20, note: "hand-written forward, backward, AdamW") {
            kernel.lossAndGradient(train)
            kernel.adamWStep(schedule: .constant(1e-3))
        }
        h.measure("toy modular addition forward (p 113)", runs: 20, note: "hand-written forward, training pairs") {
            kernel.forward(train)
        }
        h.measure("toy modular addition epoch, autodiff tables", runs: 10, note: "per-token tables under autodiff") {
            let (_, g) = valueWithGradient(at: params) { w in
                ModularAdditionTransformer.forward(w, config, pairs: train).logits.crossEntropy(targets: targets)
            }
            opt.step(&params, g)
        }
        h.measure("toy modular addition epoch, reference forward", runs: 5, note: "as written in the paper") {
            let (_, g) = valueWithGradient(at: params) { w in
                ModularAdditionTransformer.referenceForward(w, config, pairs: train).logits.crossEntropy(targets: targets)
            }
            opt.step(&params, g)
        }
    }

    // TopK SAE (arXiv 2406.04093): d_in 576, 16× (9,216 latents), k = 32, batch 4096; one step
    // (forward, backward, Adam), with the auxiliary loss active on 10% dead latents.
    if h.wants("toy topk sae") {
        let (d, latents, k, batch) = (576, 9216, 32, 4096)
        let config = SparseAutoencoder.Configuration(inputDimension: d, latents: latents,
                                                     kind: .topK(k: k, auxK: 256, auxCoefficient: 1.0 / 32, deadAfterSteps: 100),
                                                     batchSize: batch, learningRate: 1e-4, seed: 0)
        let sae = try! SparseAutoencoder(config)
        var rng = SeededGenerator(seed: 1)
        let x = Tensor.randomNormal([batch, d], using: &rng)
        let dead = (0..<latents).map { $0 % 10 == 0 ? Float(1) : 0 }
        var params = sae.parameters
        var opt = Adam(learningRate: .constant(1e-4))
        h.measure("toy topk sae step (576→9216, k 32, B 4096)", runs: 5,
                  flops: 2.0 * Double(batch * d * latents), note: "closed form; GFLOP/s counts the encoder product only") {
            let s = SparseAutoencoder.topKStep(params, k: k, auxK: 256, auxCoefficient: 1.0 / 32, x: x, dead: dead)
            opt.step(&params, s.gradients)
            params[2] = SparseAutoencoder.unitColumns(params[2])
        }
        h.measure("toy topk sae step, generic autodiff", runs: 3, note: "reference") {
            let s = SparseAutoencoder.referenceStep(params, config, x: x, dead: dead)
            opt.step(&params, s.gradients)
            params[2] = SparseAutoencoder.unitColumns(params[2])
        }
    }
}
