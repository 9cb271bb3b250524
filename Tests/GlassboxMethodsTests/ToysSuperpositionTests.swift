import Foundation
import Testing
import GlassboxTensor
@testable import GlassboxMethods

@Suite struct ToysSuperpositionTests {
    typealias Config = SuperpositionModel.Configuration

    @Test(arguments: [SuperpositionModel.Activation.relu, .linear])
    func closedFormGradientMatchesAutodiff(_ activation: SuperpositionModel.Activation) throws {
        let config = Config(features: 7, hidden: 3, importance: Config.geometricImportance(features: 7, decay: 0.8),
                            sparsities: [0, 0.5, 0.9], activation: activation, seed: 3)
        var model = try SuperpositionModel(config)
        var rng = SeededGenerator(seed: 9)
        model.bias = Tensor.randomNormal([3, 7], std: 0.3, using: &rng)   // some pre-activations negative
        let x = SuperpositionModel.sampleBatch(sparsities: config.sparsities, batch: 16, features: 7, using: &rng)
        let fast = model.trainingStepGradients(x)
        let (loss, grads) = valueWithGradient(at: [model.weight, model.bias]) { p in
            SuperpositionModel.referenceLoss(weight: p[0], bias: p[1], x: x, importance: config.importance, activation: activation)
        }
        #expect(abs(fast.losses.reduce(0, +) - loss.item) < 1e-5)
        expectToyClose(fast.losses, model.instanceLosses(x), atol: 1e-6, "per-instance losses")
        expectToyClose(fast.weight.scalars, grads[0].scalars, atol: 1e-5, rtol: 1e-4, "dW")
        expectToyClose(fast.bias.scalars, grads[1].scalars, atol: 1e-5, rtol: 1e-4, "db")
    }

    @Test func samplingHasTheRequestedSparsity() {
        var rng = SeededGenerator(seed: 1)
        let x = SuperpositionModel.sampleBatch(sparsities: [0, 0.9], batch: 2000, features: 10, using: &rng)
        let dense = x.select(axis: 0, 0).scalars, sparse = x.select(axis: 0, 1).scalars
        #expect(dense.allSatisfy { $0 > 0 && $0 <= 1 })
        let zeros = Float(sparse.filter { $0 == 0 }.count) / Float(sparse.count)
        #expect(abs(zeros - 0.9) < 0.01)
        let mean = dense.reduce(0, +) / Float(dense.count)
        #expect(abs(mean - 0.5) < 0.01)
    }

    /// n = 20, m = 5, Iᵢ = 0.7ⁱ (the paper's "Demonstrating superposition"), 10,000 steps at batch 1024.
    @Test func basicResultReLUAndLinear() throws {
        let importance = Config.geometricImportance(features: 20, decay: 0.7)
        let sparsities: [Float] = [0, 0.9, 0.99, 0.999]
        var relu = try SuperpositionModel(Config(features: 20, hidden: 5, importance: importance, sparsities: sparsities, seed: 0))
        let r = relu.train()
        let dense = r.analyses[0]
        #expect(dense.representedFeatures == 5)
        #expect(dense.maxOffDiagonal < 0.05)
        #expect(Array(dense.featureNorms.prefix(5)).allSatisfy { $0 > 0.9 }, "the five most important features")
        for a in r.analyses where 1 - a.sparsity <= 0.01 + 1e-6 {
            #expect(a.representedFeatures > 5, "S = \(a.sparsity): \(a.representedFeatures) represented")
            #expect(a.interference.max()! > 0.05)
        }
        #expect(r.analyses.last!.dimensionsPerFeature < dense.dimensionsPerFeature)

        var linear = try SuperpositionModel(Config(features: 20, hidden: 5, importance: importance, sparsities: sparsities,
                                                   activation: .linear, seed: 0))
        for a in linear.train().analyses {
            #expect(a.representedFeatures == 5, "linear, S = \(a.sparsity)")
        }
        // the loss goes down
        #expect(r.lossCurve.last!.losses[0] < r.lossCurve.first!.losses[0])
    }

    /// n = 5, m = 2, Iᵢ = 0.9ⁱ, 10 instances over the notebook's density sweep: the sparsest is a pentagon.
    @Test func pentagonAtHighSparsity() throws {
        let config = Config(features: 5, hidden: 2, importance: Config.geometricImportance(features: 5, decay: 0.9),
                            sparsities: Config.densitySweep(count: 10), seed: 0)
        var model = try SuperpositionModel(config)
        let result = model.train()
        #expect(result.analyses[0].representedFeatures == 2, "dense: the two most important features")
        let sparsest = result.analyses[9]
        #expect(sparsest.featureNorms.allSatisfy { $0 >= 0.8 }, "norms \(sparsest.featureNorms)")
        let w = result.model.weight.select(axis: 0, 9).scalars       // [2, 5]
        let angles = (0..<5).map { atan2(Double(w[5 + $0]), Double(w[$0])) * 180 / .pi }.sorted()
        let gaps = (0..<5).map { $0 == 4 ? angles[0] + 360 - angles[4] : angles[$0 + 1] - angles[$0] }
        for g in gaps { #expect(abs(g - 72) <= 8, "adjacent angles \(gaps)") }
        #expect(sparsest.dimensionality.allSatisfy { abs($0 - 0.4) < 0.1 }, "pentagon: Dᵢ ≈ 2/5, got \(sparsest.dimensionality)")
    }

    @Test func absoluteValueVariantPacksMoreFeaturesWhenSparse() throws {
        let config = Config(features: 20, hidden: 10, importance: Config.geometricImportance(features: 20, decay: 0.9),
                            sparsities: [0, 0.99], steps: 3000, batchSize: 512, seed: 1)
        var model = try AbsoluteValueSuperpositionModel(config)
        let result = model.train()
        let (dense, sparse) = (result.analyses[0], result.analyses[1])
        #expect(dense.representedFeatures <= 6, "dense: about m/2 features, got \(dense.representedFeatures)")
        #expect(sparse.representedFeatures > dense.representedFeatures + 3)
        #expect(result.lossCurve.last!.losses[0] < result.lossCurve.first!.losses[0])
    }

    @Test func trainingIsSeededAndSavesAndLoads() throws {
        let config = Config(features: 6, hidden: 2, importance: Config.geometricImportance(features: 6, decay: 0.9),
                            sparsities: [0.5, 0.9], steps: 50, batchSize: 64, seed: 42, logEvery: 10)
        var a = try SuperpositionModel(config), b = try SuperpositionModel(config)
        var reports = 0
        let ra = a.train { _ in reports += 1 }
        let rb = b.train()
        #expect(reports == 5)
        #expect(ra.model.weight.scalars == rb.model.weight.scalars)
        #expect(ra.lossCurve == rb.lossCurve)
        var c = try SuperpositionModel(Config(features: 6, hidden: 2, importance: config.importance, sparsities: [0.5, 0.9],
                                              steps: 50, batchSize: 64, seed: 43, logEvery: 10))
        #expect(c.train().model.weight.scalars != ra.model.weight.scalars)

        let dir = try toyTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tms.safetensors")
        try ra.model.save(to: url)
        let loaded = try SuperpositionModel.load(from: url)
        #expect(loaded.configuration == config)
        #expect(loaded.weight.scalars == ra.model.weight.scalars)
        #expect(loaded.bias.scalars == ra.model.bias.scalars)

        try ToySafetensors.write(["W": Tensor.zeros([1, 2, 3])], metadata: ["configuration": String(decoding: try JSONEncoder().encode(config), as: UTF8.self)], to: url)
        #expect(throws: ToyModelError.self) { try SuperpositionModel.load(from: url) }
        try Data([1, 2, 3]).write(to: url)
        #expect(throws: ToyModelError.self) { try SuperpositionModel.load(from: url) }
    }

    @Test func absoluteValueModelSavesAndLoads() throws {
        let config = Config(features: 4, hidden: 3, importance: [1, 1, 1, 1], sparsities: [0.5], steps: 5, batchSize: 8, seed: 7)
        var model = try AbsoluteValueSuperpositionModel(config)
        let trained = model.train().model
        let dir = try toyTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("abs.safetensors")
        try trained.save(to: url)
        let loaded = try AbsoluteValueSuperpositionModel.load(from: url)
        var rng = SeededGenerator(seed: 1)
        let x = SuperpositionModel.sampleBatch(sparsities: [0.5], batch: 4, features: 4, signed: true, using: &rng)
        #expect(loaded.forward(x).scalars == trained.forward(x).scalars)
        #expect(x.scalars.contains { $0 < 0 })
        #expect(throws: ToyModelError.self) { try SuperpositionModel.load(from: url) }
    }

    @Test func badConfigurationThrows() {
        #expect(throws: ToyModelError.self) {
            try SuperpositionModel(Config(features: 3, hidden: 2, importance: [1, 1], sparsities: [0]))
        }
        #expect(throws: ToyModelError.self) {
            try SuperpositionModel(Config(features: 2, hidden: 1, importance: [1, 1], sparsities: [1.0]))
        }
    }
}
