import Foundation
import Testing
@testable import GlassboxReproductions

/// The repository's toy-model manifests and cheap runs of the toy recipes (tiny parameters:
/// the full runs are the targets themselves, `glassbox reproduce <slug>`).
@Suite struct ToyRecipesTests {
    static let slugs = ["tms-basic", "tms-pentagon", "tms-dimensionality", "grokking-small", "grokking-p113",
                        "induction-toy", "sae-ground-truth", "sae-topk-vs-relu"]

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test(arguments: slugs)
    func manifestValidatesAgainstItsRecipe(_ slug: String) throws {
        let url = Self.repositoryRoot.appendingPathComponent("reproductions/\(slug).yaml")
        let manifest = try Manifest.load(contentsOf: url, displayName: "reproductions/\(slug).yaml")
        #expect(manifest.id == slug)
        let resolved = try RecipeRegistry.builtIn.validate(manifest)
        #expect(!resolved.values.isEmpty)
        #expect(ToyRecipes.all.contains { $0.name == manifest.recipe })
        if manifest.tier == .fast { #expect(manifest.model == "toy") }
    }

    @Test func frontierInterpolation() {
        let points: [(x: Double, y: Double)] = [(2, 0.4), (4, 0.2), (8, 0.1)]
        #expect(abs(SAETopKVersusReLURecipe.interpolate(points, at: 3)! - 0.3) < 1e-12)
        #expect(abs(SAETopKVersusReLURecipe.interpolate(points, at: 6)! - 0.15) < 1e-12)
        #expect(SAETopKVersusReLURecipe.interpolate(points, at: 8) == 0.1)
        #expect(SAETopKVersusReLURecipe.interpolate(points, at: 1.9) == nil)
        #expect(SAETopKVersusReLURecipe.interpolate(points, at: 9) == nil)
    }

    @Test func pentagonAnglesAndFigureNames() {
        // columns of a [2, 5] weight: a regular pentagon rotated by 10°, one vector scaled
        let n = 5
        var w = [Float](repeating: 0, count: 2 * n)
        for i in 0..<n {
            let a = (10 + 72 * Double(i)) * .pi / 180, r = i == 2 ? 0.5 : 1.0
            w[i] = Float(r * cos(a)); w[n + i] = Float(r * sin(a))
        }
        let gaps = adjacentAngleGaps(w, features: n)
        #expect(gaps.count == 5)
        #expect(gaps.allSatisfy { abs($0 - 72) < 1e-4 }, "\(gaps)")
        w[0] = 1; w[n] = 1   // feature 0 moved to 45°: its neighbours' gaps change, the sum stays 360°
        let moved = adjacentAngleGaps(w, features: n)
        #expect(abs(moved.reduce(0, +) - 360) < 1e-9)
        #expect(moved.contains { abs($0 - 72) > 30 })
        #expect(sparsityTag(0) == "s0" && sparsityTag(0.999) == "s0999" && sparsityTag(0.9) == "s09")
    }

    /// An inline toy manifest with one expectation line.
    private func yaml(_ id: String, _ recipe: String, seed: Int = 0, parameters: String, expect: String) -> String {
        """
        id: \(id)
        paper: "2209.10652"
        claim: c
        source: s
        recipe: \(recipe)
        model: toy
        tier: fast
        seed: \(seed)
        parameters: \(parameters)
        expect:
          - \(expect)
        """
    }

    private func run(_ yaml: String) throws -> Runner.Outcome {
        let manifest = try Manifest.parse(yaml: yaml, file: "inline")
        let runner = Runner(registry: .builtIn, resolver: StaticModelResolver(["toy": .available(nil)]),
                            environment: RunEnvironment(commit: nil, machine: "test"))
        return runner.runOne(manifest)
    }

    /// A tiny SAE run: TopK has exactly k active latents on every sample, and the same seed gives the same metrics.
    @Test func saeGroundTruthSmallRunIsExactAndSeeded() throws {
        let text = yaml("sae-small", "sae.ground-truth", seed: 3,
                        parameters: "{ input_dimension: 8, features: 12, mean_active: 2, samples: 512, latents: 24, steps: 60, batch_size: 64, k: 3, aux_k: 4 }",
                        expect: "{ metric: topk_l0_max_deviation, published: 0, check: { equals: 0 }, kind: exact }")
        let a = try run(text), b = try run(text)
        #expect(a.result.status == .passed, "\(a.result.reason ?? "")")
        #expect(a.result.metrics["topk_l0"] == 3)
        #expect(a.result.metrics == b.result.metrics)
        #expect(Set(a.result.metrics.keys) == Set(SAEGroundTruthRecipe.metrics.map(\.name)))
        #expect(a.result.figures == ["sae-small-max-cosine.svg"])
        #expect(a.result.metrics["untrained_mmcs"]! < 1 && a.result.metrics["relu_mmcs"]! <= 1)
        let other = try run(text.replacingOccurrences(of: "seed: 3", with: "seed: 4"))
        #expect(other.result.metrics["relu_mmcs"] != a.result.metrics["relu_mmcs"])
    }

    /// A short pentagon run: every declared metric comes back, the figures are named as the tour links them.
    @Test func pentagonSmallRunReportsItsMetricsAndFigures() throws {
        let outcome = try run(yaml("tms-small", "superposition.pentagon", parameters: "{ instances: 3, steps: 300, batch_size: 128 }",
                                   expect: "{ metric: represented_features_sparsest, published: 5, check: { at_least: 0 }, kind: exact }"))
        let r = outcome.result
        #expect(r.status == .passed, "\(r.reason ?? "")")
        #expect(Set(r.metrics.keys) == Set(SuperpositionPentagonRecipe.metrics.map(\.name)))
        #expect(r.figures == ["tms-small-geometry-sparsest.svg", "tms-small-geometry-dense.svg"])
        #expect(r.metrics["max_angle_deviation_sparsest"]! >= 0 && r.metrics["max_angle_deviation_sparsest"]! <= 288)
    }

    @Test func badParametersNameTheParameter() throws {
        let outcome = try run(yaml("tms-bad", "superposition.basic", parameters: "{ features: 5, hidden: 5, steps: 10 }",
                                   expect: "{ metric: represented_features_at_dense, published: 5, check: { equals: 5 }, kind: exact }"))
        #expect(outcome.result.status == .error)
        #expect(outcome.result.reason?.contains("parameter 'hidden'") == true, "\(outcome.result.reason ?? "")")
    }
}
