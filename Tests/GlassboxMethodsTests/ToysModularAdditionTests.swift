import Foundation
import Testing
import GlassboxTensor
@testable import GlassboxMethods

@Suite struct ToysModularAdditionTests {
    typealias Config = ModularAdditionTransformer.Configuration

    @Test func fourierBasisIsOrthonormal() {
        let f = ModularAdditionTransformer.fourierBasis(7)
        expectToyClose(f.matmul(f.transposed()).scalars, Tensor.eye(7).scalars, atol: 1e-5, "F·Fᵀ")
    }

    @Test func splitIsSeededAndDisjoint() {
        let c = Config(p: 13, trainFraction: 0.3)
        let (train, test) = ModularAdditionTransformer.split(c)
        #expect(train.count == Int(0.3 * 169) && train.count + test.count == 169)
        #expect(Set(train.map { $0.0 * 13 + $0.1 }).isDisjoint(with: test.map { $0.0 * 13 + $0.1 }))
        #expect(ModularAdditionTransformer.split(c).train.map { $0.0 } == train.map { $0.0 })
    }

    /// The paper's recipe scaled down so it groks in well under a minute in release: p = 31,
    /// 60% of the pairs for training, d_model 64, d_mlp 256, lr 3e-3 (paper: p = 113, 30%,
    /// 128 / 512, lr 1e-3); stops once test accuracy reaches 99.5%. Other settings as in the paper.
    @Test func groksAtSmallModulus() throws {
        let config = Config(p: 31, trainFraction: 0.6, dModel: 64, heads: 4, dHead: 16, dMLP: 256, learningRate: 3e-3,
                            epochs: 4000, seed: 0, evalEvery: 100, stopAtTestAccuracy: 0.995)
        var model = try ModularAdditionTransformer(config)
        let result = model.train()
        let a = result.analysis
        let curve = result.curve
        #expect(curve.last!.testAccuracy >= 0.99)
        // memorisation first, generalisation later
        let memorised = curve.first { $0.trainAccuracy >= 0.99 }!.epoch
        let generalised = curve.first { $0.testAccuracy >= 0.99 }!.epoch
        #expect(generalised >= memorised + 500, "memorised at \(memorised), generalised at \(generalised)")
        // a few key frequencies (of 15) carry the embedding
        #expect((2...6).contains(a.keyFrequencies.count), "key frequencies \(a.keyFrequencies)")
        #expect(a.keyFrequencyShare >= 0.8)
        #expect(a.restrictedLoss < a.testLoss)
        #expect(a.excludedLoss > 10 * curve.last!.trainLoss)
        #expect(a.fractionOfNeuronsExplained > 0.5)

        let dir = try toyTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("modadd.safetensors")
        try result.model.save(to: url)
        let loaded = try ModularAdditionTransformer.load(from: url)
        let pairs = [(3, 5), (30, 30), (0, 17)]
        #expect(loaded.run(pairs).logits.scalars == result.model.run(pairs).logits.scalars)
    }

    @Test func trainingIsSeeded() throws {
        let config = Config(p: 7, trainFraction: 0.5, dModel: 8, heads: 2, dHead: 4, dMLP: 16, epochs: 20, seed: 5, evalEvery: 10)
        var a = try ModularAdditionTransformer(config), b = try ModularAdditionTransformer(config)
        let (ra, rb) = (a.train(), b.train())
        #expect(ra.curve == rb.curve)
        #expect(ra.model.parameters.map(\.scalars) == rb.model.parameters.map(\.scalars))
        #expect(throws: ToyModelError.self) { try ModularAdditionTransformer(Config(p: 9)) }
    }
}
