import Foundation
import Testing
import GlassboxTensor
@testable import GlassboxMethods

@Suite struct ToysSparseAutoencoderTests {
    typealias Config = SparseAutoencoder.Configuration

    static let kinds: [SparseAutoencoder.Kind] = [
        .relu(l1: 0.3),
        .topK(k: 4, auxK: 16, auxCoefficient: 1.0 / 32, deadAfterSteps: 50),
        .gated(l1: 1.0),
    ]

    /// d_in 32, 64 planted features (about 3 active per sample), 128 latents, 1500 steps of batch 256;
    /// L1 coefficients chosen so each kind reaches an L0 of a few latents.
    @Test(arguments: kinds)
    func recoversPlantedFeatures(_ kind: SparseAutoencoder.Kind) throws {
        let data = try PlantedFeatureData(inputDimension: 32, features: 64, meanActive: 3, samples: 8192, seed: 1)
        var sae = try SparseAutoencoder(Config(inputDimension: 32, latents: 128, kind: kind, steps: 1500, batchSize: 256, seed: 2))
        let result = try sae.train(on: data.samples)
        let mmcs = try result.model.meanMaxCosineSimilarity(to: data.features)
        let m = result.metrics
        #expect(mmcs.truthToLearned >= 0.9, "MMCS \(mmcs)")
        #expect(m.fractionOfVarianceExplained > 0.75, "\(m)")
        #expect(m.deadFraction < 0.05)
        #expect(result.curve.last!.reconstruction < result.curve.first!.reconstruction)
        switch kind {
        case .relu: #expect(m.shrinkage > 1.05, "L1 shrinks the reconstruction: \(m.shrinkage)")
        case .gated: #expect(abs(m.shrinkage - 1) < 0.05, "Gated removes shrinkage: \(m.shrinkage)")
        case .topK: #expect(abs(m.shrinkage - 1) < 0.05)
        }
        if case .topK(let k, _, _, _) = kind {
            #expect(m.l0 == Float(k))
            let codes = try result.model.encode(data.samples.slice(axis: 0, 0..<100))
            let perRow = codes.stepMask { $0 .!= 0 }.sum(axes: [1]).scalars
            #expect(perRow.allSatisfy { $0 == Float(k) })
        }
    }

    @Test func topKMaskPicksTheLargest() {
        let x = Tensor([[0.1, 3, -2, 5, 0.2], [1, 1, 1, 0, 2]])
        #expect(SparseAutoencoder.topKMask(x, k: 2).scalars == [0, 1, 0, 1, 0, 1, 0, 0, 0, 1])
    }

    @Test func savesLoadsAndIsSeeded() throws {
        let data = try PlantedFeatureData(inputDimension: 8, features: 12, meanActive: 2, samples: 256, seed: 3)
        let config = Config(inputDimension: 8, latents: 16, kind: .gated(l1: 0.5), steps: 20, batchSize: 32, seed: 4)
        var a = try SparseAutoencoder(config), b = try SparseAutoencoder(config)
        let (ra, rb) = (try a.train(on: data.samples), try b.train(on: data.samples))
        #expect(ra.curve == rb.curve)
        let dir = try toyTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("sae.safetensors")
        try ra.model.save(to: url)
        let loaded = try SparseAutoencoder.load(from: url)
        #expect(loaded.configuration == config)
        #expect(try loaded.encode(data.samples).scalars == (try ra.model.encode(data.samples)).scalars)
    }

    @Test func rejectsWrongInputs() throws {
        #expect(throws: ToyModelError.self) {
            try SparseAutoencoder(Config(inputDimension: 4, latents: 8, kind: .topK(k: 9, auxK: 0, auxCoefficient: 0, deadAfterSteps: 1)))
        }
        var sae = try SparseAutoencoder(Config(inputDimension: 4, latents: 8, kind: .relu(l1: 0.01), steps: 2))
        #expect(throws: ToyModelError.self) { try sae.train(on: Tensor.zeros([10, 5])) }
    }
}
