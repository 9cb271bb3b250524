import Foundation
import Testing
import GlassboxTensor
@testable import GlassboxMethods

@Suite struct ToysInductionTests {
    typealias Config = AttentionOnlyTransformer.Configuration

    /// Vocabulary 32, length 24, segments of 4–10 tokens, 2 heads of 16, d_model 32, AdamW lr 1e-2,
    /// 2000 steps of 64 sequences (the defaults).
    @Test(arguments: [1, 2])
    func inductionHeads(layers: Int) throws {
        var model = try AttentionOnlyTransformer(Config(layers: layers, seed: 0))
        let result = model.train()
        let f = result.final
        #expect(f.firstCopyLoss > 3, "the first copy is random: about ln 32 = 3.47")
        if layers == 2 {
            #expect(f.maxInductionScore > 0.5, "induction scores \(f.inductionScores)")
            // near zero next to the unpredictable first copy; the floor comes from tokens that
            // occur more than once before the second copy (random tokens from 32)
            #expect(f.secondCopyLoss < 0.15 * f.firstCopyLoss, "second copy \(f.secondCopyLoss), first \(f.firstCopyLoss)")
            #expect(f.inContextLearningScore < -2.5)
            // a previous-token head in layer 0 feeds the induction head in layer 1
            #expect(f.previousTokenScores[0].max()! > 0.4, "previous-token scores \(f.previousTokenScores)")
            #expect(f.inductionScores[1].max()! == f.maxInductionScore)
            // the induction score rises abruptly during training
            let scores = result.curve.map { $0.measurement.maxInductionScore }
            #expect(scores.first! < 0.2)
            // some single head of the circuit is necessary: ablating it gives back more than half
            // of the gap between the first and second copy
            let best = result.headAblations.max { $0.increase < $1.increase }!
            #expect(best.increase > 0.5 * (f.firstCopyLoss - f.secondCopyLoss), "ablations \(result.headAblations)")
        } else {
            #expect(f.maxInductionScore < 0.2, "induction scores \(f.inductionScores)")
            #expect(f.secondCopyLoss > 0.5 * f.firstCopyLoss)
        }
    }

    @Test func batchesRepeatTheirSegment() throws {
        let c = Config(seed: 1)
        var rng = SeededGenerator(seed: 2)
        let batch = AttentionOnlyTransformer.sampleBatch(c, size: 50, using: &rng)
        for (seq, l) in zip(batch.tokens, batch.segmentLengths) {
            #expect(seq.count == c.sequenceLength && (c.minSegment...c.maxSegment).contains(l))
            #expect(Array(seq[(c.sequenceLength - l)...]) == Array(seq[(c.sequenceLength - 2 * l)..<(c.sequenceLength - l)]))
        }
        #expect(Set(batch.segmentLengths).count > 3)
    }

    @Test func savesLoadsAndIsSeeded() throws {
        let config = Config(layers: 2, steps: 5, batchSize: 4, evalEvery: 5, evalBatchSize: 4)
        var a = try AttentionOnlyTransformer(config), b = try AttentionOnlyTransformer(config)
        let (ra, rb) = (a.train(), b.train())
        #expect(ra.curve == rb.curve)
        let dir = try toyTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("attn.safetensors")
        try ra.model.save(to: url)
        let loaded = try AttentionOnlyTransformer.load(from: url)
        var rng = SeededGenerator(seed: 3)
        let batch = AttentionOnlyTransformer.sampleBatch(config, size: 3, using: &rng)
        #expect(loaded.evaluate(batch) == ra.model.evaluate(batch))
        #expect(throws: ToyModelError.self) { try AttentionOnlyTransformer(Config(sequenceLength: 10, maxSegment: 6)) }
    }
}
