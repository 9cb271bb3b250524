import Foundation
import Testing
@testable import GlassboxReproductions
import GlassboxModels

enum SAERecipeModel {
    static let availability = DefaultModelResolver.registry("smollm2-135m-instruct", cache: .default)
    static var hasSmol: Bool { if case .available = availability { return true } else { return false } }
}

/// `sae.smollm2-activations` on SmolLM2 at a small size (skipped when the model is not cached).
@Suite struct SAERecipeTests {
    @Test(.enabled(if: SAERecipeModel.hasSmol, "smollm2-135m-instruct is not in the model cache; run `glassbox models fetch smollm2-135m-instruct`"))
    func smallRunReportsTheMetrics() throws {
        let manifest = try Manifest.parse(yaml: """
            id: sae-small
            paper: "2406.04093"
            claim: "TopK keeps exactly k latents."
            source: "test"
            recipe: sae.smollm2-activations
            model: smollm2-135m-instruct
            tier: fast
            seed: 1
            parameters: { resid_index: 4, window: 32, expansion: 1, k: 8, aux_k: 32, steps: 80, batch: 64 }
            expect:
              - { metric: topk_l0, published: 8, check: { equals: 8 }, kind: exact, why: "TopK" }
            """, file: "inline")
        let runner = Runner(registry: .builtIn, resolver: StaticModelResolver(["smollm2-135m-instruct": SAERecipeModel.availability]),
                            environment: RunEnvironment(commit: nil, machine: "test"))
        let r = runner.runOne(manifest).result
        #expect(r.status == .passed, "\(r.reason ?? "")")
        let m = r.metrics
        // 31 positions (the first of each 32-token window left out) per window
        #expect(m["tokens"].map { $0 > 1000 && Int($0) % 31 == 0 } == true, "\(m)")
        #expect(m["topk_l0"] == 8)
        for key in ["topk_fve", "relu_fve"] { #expect(m[key].map { $0 > 0 && $0 < 1 } == true, "\(key): \(m)") }
        for key in ["topk_dead_fraction", "relu_dead_fraction"] { #expect(m[key].map { $0 >= 0 && $0 <= 1 } == true, "\(key)") }
        #expect(m["relu_l0"].map { $0 > 0 } == true)
        #expect(r.figures.count == 2)
    }
}
