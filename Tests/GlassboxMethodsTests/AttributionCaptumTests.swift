import Foundation
import Testing
@testable import GlassboxMethods
import GlassboxModels
import GlassboxTensor

/// Integrated gradients over SmolLM2's token embeddings against Captum 0.9
/// (`Tests/Fixtures/models/prompt_*.json`, field `integrated_gradients`; see the README there).
@Suite("Attribution vs Captum on SmolLM2", .enabled(if: MethodModels.hasSmol, MethodModels.skipSmol))
struct AttributionCaptumTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var prompt: String          // fixture file
        var baseline: String        // fixture key prefix
        var rule: String            // fixture key suffix
        var testDescription: String { "\(prompt) \(baseline) \(rule)" }
    }

    static let cases: [Case] = ["prompt_france.json", "prompt_ioi_clean.json"].flatMap { p in
        ["zero_embedding_baseline", "token_id0_baseline"].flatMap { b in
            ["gausslegendre", "riemann_right"].map { Case(prompt: p, baseline: b, rule: $0) }
        }
    }

    @Test(arguments: cases)
    func integratedGradientsMatchCaptum(_ c: Case) throws {
        let smol = try #require(MethodModels.smolLM2)
        let fixture = try MethodFixtures.json(MethodFixtures.models(c.prompt))
        let ids = flatNumbers(fixture["ids"]).map { Int($0) }
        let ig = try #require(fixture["integrated_gradients"] as? [String: Any])
        let reference = try #require(ig["\(c.baseline)__\(c.rule)"] as? [String: Any])
        let target = Int(flatNumbers(ig["target_id"])[0])
        let attribution = try ModelAttribution(model: smol.model, ids: ids, target: .logit(target))
        let r = try attribution.integratedGradients(baseline: c.baseline.hasPrefix("zero") ? .zero : .token(0),
                                                    steps: 50, rule: c.rule == "gausslegendre" ? .gaussLegendre : .riemannRight)
        let expected = flatNumbers(reference["attr_per_token"])
        let bound = 1e-3 * expected.map(Swift.abs).max()! + 0.05
        let perToken = ModelAttribution.perToken(r.attributions)
        expectAllClose(perToken, expected, atol: bound, "\(c.testDescription) per-token attributions")
        let delta = flatNumbers(reference["delta"])[0]
        #expect(Swift.abs(r.delta - delta) <= bound, "\(c.testDescription): delta \(r.delta), Captum \(delta) (bound \(bound))")
        #expect(Swift.abs(r.valueAtInput - flatNumbers(reference["f_input"])[0]) < 1e-3)
        #expect(Swift.abs(r.valueAtBaseline - flatNumbers(reference["f_baseline"])[0]) < 1e-3)
        #expect(r.nonFiniteGradients == 0)
    }

    @Test func logitPositionsLeaveTheProjectedLogitsUnchanged() throws {
        let smol = try #require(MethodModels.smolLM2)
        let input = TokenBatch(sequences: [[504, 3575, 282, 4649, 314], [504, 3575, 282, 4649, 1]])
        let all = smol.model.forward(input, run: HookRun(), cache: nil).logits!              // [2, 5, vocab]
        let some = smol.model.forward(input, run: HookRun(logitPositions: [4, 1]), cache: nil).logits!   // [2, 2, vocab]
        #expect(some.shape == [2, 2, all.shape[2]])
        let pick = all.indexSelect([4, 1], axis: 1)
        expectAllClose(some.scalars.map(Double.init), pick.scalars.map(Double.init), atol: 1e-4, "logits at selected positions")
    }

    @Test func targetsAndOtherMethodsOnTheModel() throws {
        let smol = try #require(MethodModels.smolLM2)
        let ids = [504, 3575, 282, 4649, 314]   // "The capital of France is"
        let paris = 7042, london = 4528
        let a = try ModelAttribution(model: smol.model, ids: ids, target: .logit(paris))
        let b = try ModelAttribution(model: smol.model, ids: ids, target: .logit(london))
        let d = try ModelAttribution(model: smol.model, ids: ids, target: .logitDifference(paris, london))
        // IG is linear in the function: IG(a − b) = IG(a) − IG(b).
        let ia = try a.integratedGradients(baseline: .token(0), steps: 8, rule: .riemannMiddle).attributions.scalars
        let ib = try b.integratedGradients(baseline: .token(0), steps: 8, rule: .riemannMiddle).attributions.scalars
        let id = try d.integratedGradients(baseline: .token(0), steps: 8, rule: .riemannMiddle).attributions.scalars
        let scale = Double(id.map(Swift.abs).max()!)
        expectAllClose(id.map(Double.init), zip(ia, ib).map { Double($0 - $1) }, atol: 1e-3 * scale + 1e-4, "IG of a logit difference")
        // Log-probability target: the value is log softmax.
        let lp = try ModelAttribution(model: smol.model, ids: ids, target: .logProb(paris))
        let logits = try smol.model(TokenBatch(ids)).logits!.select(axis: 0, 0).select(axis: 0, ids.count - 1)
        let expected = Double(logits.logSoftmax().scalars[paris])
        let g = try lp.gradientTimesInput()
        #expect(Swift.abs(g.value - expected) < 1e-4)
        // Occlusion with the mean embedding and Kernel SHAP on 5 tokens (exhaustive = exact).
        let game = try a.game(baseline: .mean)
        let occ = Occlusion(game).attribute()
        #expect(occ.attributions.count == 5 && occ.attributions.allSatisfy { $0.isFinite })
        let ks = try KernelSHAP(game).attribute(), ex = try ExactShapley(game).attribute()
        // Same coalitions, but evaluated in other batch compositions: BLAS rounds differently (~1e-6 of the logits).
        expectAllClose(ks.attributions, ex.attributions, atol: 1e-4 * max(1, ex.attributions.map(Swift.abs).max()!), "Kernel SHAP vs exact on SmolLM2")
        #expect(Swift.abs(ks.delta) < 1e-6 && Swift.abs(ex.delta) < 1e-6)
        // Layer attribution: IG over blocks.3.hook_resid_pre with a zero baseline is complete up to its delta.
        let layer = try ModelAttribution(model: smol.model, ids: ids, target: .logit(paris), hook: HookName.residPre(3))
        let lr = try layer.integratedGradients(baseline: .token(0), steps: 8)
        #expect(lr.attributions.shape == [5, 576] && lr.delta.isFinite)
        #expect(throws: AttributionError.self) { try layer.baselineActivation(.mean) }
    }
}
