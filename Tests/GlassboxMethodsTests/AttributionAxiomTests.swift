import Foundation
import Testing
@testable import GlassboxMethods
import GlassboxTensor

/// Toy functions with hand-derivable attributions.
enum AttributionToys {
    /// f(x) = w·x + b on a batch [k, n] → [k].
    static func linear(_ w: [Float], bias: Float = 0) -> BatchedFunction {
        let wt = Tensor(shape: [w.count, 1], scalars: w)
        return BatchedFunction(batched: { x in (x.matmul(wt) + bias).reshaped([x.shape[0]]) })
    }

    /// The library's smooth toy network, batched and as a one-input function.
    static func smooth(inputs n: Int, hidden: Int = 16, seed: UInt64) -> (function: BatchedFunction, single: (Tensor) -> Tensor) {
        let f = AttributionToyModels.smooth(inputs: n, hidden: hidden, seed: seed)
        return (f, { x in f.evaluate(x.unsqueezed(axis: 0)).reshaped([]) })
    }

    static func vector(_ n: Int, seed: UInt64, std: Float = 1) -> Tensor {
        AttributionToyModels.vector(n, seed: seed, std: std)
    }
}

@Suite("Attribution axioms")
struct AttributionAxiomTests {
    @Test func gaussLegendreNodesMatchTheClosedForm() {
        let (x, w) = IntegrationRule.gaussLegendre(5)
        let expectedX = [-0.9061798459386640, -0.5384693101056831, 0, 0.5384693101056831, 0.9061798459386640]
        let expectedW = [0.2369268850561891, 0.4786286704993665, 0.5688888888888889, 0.4786286704993665, 0.2369268850561891]
        expectAllClose(x, expectedX, atol: 1e-14, "nodes")
        expectAllClose(w, expectedW, atol: 1e-14, "weights")
        // ∫₀¹ α⁹⁹ dα = 1/100 exactly with 50 nodes (exact to degree 99).
        let (a, wt) = IntegrationRule.gaussLegendre.nodes(50)
        let integral = zip(a, wt).reduce(0.0) { $0 + $1.1 * Foundation.pow($1.0, 99) }
        #expect(Swift.abs(integral - 0.01) < 1e-13)
    }

    @Test(arguments: IntegrationRule.allCases)
    func weightsSumToOneOnTheUnitInterval(rule: IntegrationRule) {
        for n in [2, 7, 50] {
            let (a, w) = rule.nodes(n)
            #expect(a.count == n && w.count == n)
            #expect(Swift.abs(w.reduce(0, +) - 1) < 1e-12, "\(rule) n=\(n)")
            #expect(a.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        #expect(IntegrationRule.riemannRight.nodes(4).alphas == [0.25, 0.5, 0.75, 1])
        #expect(IntegrationRule.riemannLeft.nodes(4).alphas == [0, 0.25, 0.5, 0.75])
    }

    @Test(arguments: IntegrationRule.allCases)
    func integratedGradientsOfALinearModelIsDifferenceTimesWeights(rule: IntegrationRule) throws {
        let n = 12
        let w = AttributionToys.vector(n, seed: 1).scalars
        let x = AttributionToys.vector(n, seed: 2), x0 = AttributionToys.vector(n, seed: 3, std: 0.5)
        let ig = IntegratedGradients(AttributionToys.linear(w, bias: 0.7), steps: 7, rule: rule, internalBatchSize: 3)
        let r = try ig.attribute(x, baseline: x0)
        let expected = (0..<n).map { Double(x.scalars[$0] - x0.scalars[$0]) * Double(w[$0]) }
        expectAllClose(r.attributions.scalars.map(Double.init), expected, atol: 1e-6, "IG of w·x + b")
        #expect(Swift.abs(r.delta) < 1e-5)
    }

    /// Completeness within 5% at ≤ 300 steps, with an error that does not grow with the steps.
    @Test(arguments: IntegrationRule.allCases)
    func completenessConvergesOnASmoothNetwork(rule: IntegrationRule) throws {
        for seed in [UInt64(5), 6] {
            let (f, _) = AttributionToys.smooth(inputs: 8, seed: seed)
            let x = AttributionToys.vector(8, seed: seed + 100, std: 1.5)
            var errors: [Double] = []
            for steps in [20, 50, 100, 200, 300] {
                let r = try IntegratedGradients(f, steps: steps, rule: rule).attribute(x)
                errors.append(r.relativeError)
            }
            #expect(errors.last! < 0.05, "\(rule) seed \(seed): errors \(errors)")
            for (a, b) in zip(errors, errors.dropFirst()) {
                #expect(b <= a + 2e-5, "\(rule) seed \(seed): error grew from \(a) to \(b) (\(errors))")
            }
        }
    }

    @Test func symmetricInputsGetEqualAttributions() throws {
        // f(x) = tanh(x0·x1) + 0.3·x2²: x0 and x1 are symmetric variables.
        let f = BatchedFunction(perInput: { x in (x.select(axis: 0, 0) * x.select(axis: 0, 1)).tanh() + x.select(axis: 0, 2).squared() * 0.3 })
        let x = Tensor([0.8, 0.8, -1.2]), x0 = Tensor([0.1, 0.1, 0.4])
        for rule in IntegrationRule.allCases {
            let a = try IntegratedGradients(f, steps: 40, rule: rule).attribute(x, baseline: x0).attributions.scalars
            #expect(Swift.abs(a[0] - a[1]) <= 1e-6, "\(rule): \(a)")
            #expect(Swift.abs(a[0]) > 1e-3)
        }
        // Kernel SHAP and exact Shapley values treat them alike too.
        let game = try CoalitionGame(function: f, input: x, baseline: x0)
        let phi = try ExactShapley(game).attribute().attributions
        #expect(Swift.abs(phi[0] - phi[1]) < 1e-7)
    }

    @Test func kernelSHAPOverAllCoalitionsEqualsExactShapley() throws {
        let (f, _) = AttributionToys.smooth(inputs: 10, hidden: 12, seed: 11)
        let x = AttributionToys.vector(10, seed: 12, std: 1.5), x0 = AttributionToys.vector(10, seed: 13, std: 0.3)
        let game = try CoalitionGame(function: f, input: x, baseline: x0)
        let exact = try ExactShapley(game).attribute()
        let kernel = try KernelSHAP(game).attribute()
        #expect(exact.evaluations == 1024)
        expectAllClose(kernel.attributions, exact.attributions, atol: 1e-6, "Kernel SHAP vs exact Shapley")
        #expect(Swift.abs(exact.delta) < 1e-9, "efficiency of exact Shapley: \(exact.delta)")
        #expect(Swift.abs(kernel.delta) < 1e-9, "efficiency of Kernel SHAP: \(kernel.delta)")
        // Sampled coalitions: seeded, efficient, and near the exact values.
        let s1 = try KernelSHAP(game, samples: 600, seed: 4).attribute()
        let s2 = try KernelSHAP(game, samples: 600, seed: 4).attribute()
        #expect(s1 == s2)
        #expect(Swift.abs(s1.delta) < 1e-9)
        let scale = exact.attributions.map(Swift.abs).max()!
        expectAllClose(s1.attributions, exact.attributions, atol: 0.15 * scale, "sampled Kernel SHAP")
    }

    @Test func shapleyOfALinearModelIsDifferenceTimesWeights() throws {
        let w: [Float] = [1.5, -2, 0.25, 3]
        let x = Tensor([1, 1, 2, -1]), x0 = Tensor([0, 0.5, 0, 0])
        let game = try CoalitionGame(function: AttributionToys.linear(w, bias: 1), input: x, baseline: x0)
        let expected = [1.5, -1.0, 0.5, -3.0]
        expectAllClose(try ExactShapley(game).attribute().attributions, expected, atol: 1e-6, "Shapley")
        expectAllClose(Occlusion(game).attribute().attributions, expected, atol: 1e-6, "occlusion")
        let lime = try LIME(game, samples: 200, ridge: 0, seed: 1).attribute()
        expectAllClose(lime.coefficients, expected, atol: 1e-5, "LIME on a linear model")
        #expect(Swift.abs(lime.score - 1) < 1e-9)
        let sparse = try LIME(game, samples: 200, maxFeatures: 2, ridge: 0, seed: 1).attribute()
        #expect(sparse.selected == [3, 0])
        #expect(sparse.coefficients.filter { $0 != 0 }.count == 2)
    }

    @Test func exactShapleyRefusesTooManyFeatures() throws {
        let game = CoalitionGame(players: 21) { $0.map { _ in 0 } }
        #expect(throws: AttributionError.self) { try ExactShapley(game).attribute() }
    }

    @Test func deepLIFTSumsToDelta() throws {
        for seed in UInt64(0)..<5 {
            let net = ReLUNetwork.random(sizes: [10, 32, 16, 3], seed: seed)
            let x = AttributionToys.vector(10, seed: seed + 50), x0 = AttributionToys.vector(10, seed: seed + 60, std: 0.2)
            for output in 0..<3 {
                let r = try DeepLIFT(net, output: output).attribute(x, baseline: x0)
                #expect(Swift.abs(r.delta) < 1e-5, "seed \(seed) output \(output): Σ C = \(r.outputDifference + r.delta), Δy = \(r.outputDifference)")
                let y = net(Tensor(shape: [2, 10], scalars: x.scalars + x0.scalars)).scalars
                #expect(Swift.abs(r.outputDifference - Double(y[output] - y[3 + output])) < 1e-4)
            }
        }
        // One dense layer: DeepLIFT = (x − x′) ⊙ w.
        let lin = ReLUNetwork(layers: [.init(weight: Tensor([[2, -1, 0.5]]), bias: Tensor([0.3]))])
        let r = try DeepLIFT(lin).attribute(Tensor([1, 2, 3]))
        expectAllClose(r.attributions.scalars.map(Double.init), [2, -2, 1.5], atol: 1e-6, "DeepLIFT of a linear layer")
    }

    @Test func undefinedGradientsBecomeZeroNotNaN() throws {
        // ‖x‖ has no gradient at 0; riemann-left evaluates there (α = 0 with a zero baseline).
        let norm = BatchedFunction(perInput: { $0.norm() })
        let x = Tensor([3, 4])
        let r = try IntegratedGradients(norm, steps: 100, rule: .riemannLeft).attribute(x)
        #expect(r.nonFiniteGradients == 2)
        // Elsewhere ∇‖x‖ = x/‖x‖, so the 99 other nodes give 0.99 · x²/‖x‖.
        expectAllClose(r.attributions.scalars.map(Double.init), [0.99 * 9 / 5, 0.99 * 16 / 5], atol: 1e-5, "IG of ‖x‖")
        #expect(r.delta.isFinite && r.attributions.scalars.allSatisfy { $0.isFinite })
        let s = Saliency(norm).attribute(Tensor([0, 0]))
        #expect(s.attributions.scalars == [0, 0] && s.nonFiniteGradients == 2)
        // ReLU at its kink: gradient 0 by convention, never NaN.
        let relu = BatchedFunction(perInput: { $0.relu().sum() })
        #expect(Saliency(relu).attribute(Tensor([0, 1])).attributions.scalars == [0, 1])
    }

    @Test func gradientMethodsOnALinearModel() throws {
        let w: [Float] = [0.5, -1, 2]
        let f = AttributionToys.linear(w)
        let x = Tensor([2, 3, -1])
        #expect(Saliency(f, absolute: false).attribute(x).attributions.scalars == w)
        #expect(Saliency(f).attribute(x).attributions.scalars == w.map(Swift.abs))
        let gxi = GradientTimesInput(f).attribute(x)
        #expect(gxi.attributions.scalars == [1, -3, -2])
        #expect(Swift.abs(gxi.attributions.scalars.reduce(0, +) - Float(gxi.value)) < 1e-6)
        let sg = try SmoothGrad(f, samples: 20, seed: 3, internalBatchSize: 7).attribute(x)
        expectAllClose(sg.attributions.scalars.map(Double.init), w.map(Double.init), atol: 1e-6, "SmoothGrad of a linear model")
        // Seeded: the same seed gives the same map on a nonlinear function.
        let (g, _) = AttributionToys.smooth(inputs: 3, seed: 9)
        let a = try SmoothGrad(g, samples: 10, seed: 5).attribute(x).attributions.scalars
        let b = try SmoothGrad(g, samples: 10, seed: 5).attribute(x).attributions.scalars
        let c = try SmoothGrad(g, samples: 10, seed: 6).attribute(x).attributions.scalars
        #expect(a == b && a != c)
    }

    @Test func perRowFunctionsAreBatchedCorrectly() throws {
        let (batched, single) = AttributionToys.smooth(inputs: 5, seed: 21)
        let x = AttributionToys.vector(5, seed: 22)
        let a = try IntegratedGradients(batched, steps: 16).attribute(x)
        let b = try IntegratedGradients(BatchedFunction(perInput: single), steps: 16, internalBatchSize: 5).attribute(x)
        expectAllClose(b.attributions.scalars.map(Double.init), a.attributions.scalars.map(Double.init), atol: 1e-6, "row-by-row vs batched")
    }

    @Test func badArgumentsAreErrors() {
        let f = AttributionToys.linear([1, 2])
        #expect(throws: AttributionError.self) { try IntegratedGradients(f, steps: 0).attribute(Tensor([1, 2])) }
        #expect(throws: AttributionError.self) { try IntegratedGradients(f, steps: 1, rule: .riemannTrapezoid).attribute(Tensor([1, 2])) }
        #expect(throws: AttributionError.self) { try IntegratedGradients(f).attribute(Tensor([1, 2]), baseline: Tensor([1, 2, 3])) }
        #expect(throws: AttributionError.self) { try CoalitionGame(function: f, input: Tensor([1, 2]), featureMask: [0]) }
        #expect(throws: AttributionError.self) { try DeepLIFT(ReLUNetwork.random(sizes: [3, 1], seed: 0)).attribute(Tensor([1, 2])) }
    }
}
