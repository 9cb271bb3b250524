import Foundation
import Testing
@testable import GlassboxTensor

/// One differentiable computation to check: input shapes, how to draw inputs, and the function.
struct GradCase: Sendable, CustomStringConvertible {
    let name: String
    let shapes: [[Int]]
    /// Maps a standard normal draw to the input domain (e.g. positive for log).
    let domain: @Sendable (Float) -> Float
    let f: @Sendable ([Tensor]) -> Tensor
    var description: String { name }

    init(_ name: String, _ shapes: [[Int]], domain: @escaping @Sendable (Float) -> Float = { $0 },
         _ f: @escaping @Sendable ([Tensor]) -> Tensor) {
        self.name = name; self.shapes = shapes; self.domain = domain; self.f = f
    }

    static let positive: @Sendable (Float) -> Float = { abs($0) + 0.5 }
    /// Away from the kinks at 0 (for relu, abs, max).
    static let awayFromZero: @Sendable (Float) -> Float = { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }

    static let all: [GradCase] = [
        GradCase("add broadcast row", [[3, 4], [4]]) { $0[0] + $0[1] },
        GradCase("add broadcast both", [[2, 1, 3], [4, 1]]) { $0[0] + $0[1] },
        GradCase("subtract broadcast", [[3, 4], [3, 1]]) { $0[0] - $0[1] },
        GradCase("multiply broadcast", [[2, 3, 4], [3, 4]]) { $0[0] * $0[1] },
        GradCase("multiply same tensor", [[5]]) { $0[0] * $0[0] },
        GradCase("divide", [[3, 4], [4]], domain: positive) { $0[0] / $0[1] },
        GradCase("maximum", [[4, 3], [4, 3]]) { Tensor.maximum($0[0], $0[1]) },
        GradCase("where", [[3, 4], [3, 4]]) { Tensor.where(Tensor(shape: [3, 4], scalars: (0..<12).map { Float($0 % 3 == 0 ? 1 : 0) }), $0[0], $0[1]) },
        GradCase("scalar affine", [[6]]) { 3 - $0[0] * 2.5 + 1 },
        GradCase("scalar divide", [[6]], domain: positive) { 2 / $0[0] },
        GradCase("exp", [[3, 5]]) { $0[0].exp() },
        GradCase("log", [[3, 5]], domain: positive) { $0[0].log() },
        GradCase("sqrt", [[3, 5]], domain: positive) { $0[0].sqrt() },
        GradCase("rsqrt", [[3, 5]], domain: positive) { $0[0].rsqrt() },
        GradCase("reciprocal", [[7]], domain: positive) { $0[0].reciprocal() },
        GradCase("squared", [[7]]) { $0[0].squared() },
        GradCase("pow 3", [[7]], domain: positive) { $0[0].pow(3) },
        GradCase("tanh", [[4, 4]]) { $0[0].tanh() },
        GradCase("sigmoid", [[4, 4]]) { $0[0].sigmoid() },
        GradCase("abs", [[9]], domain: awayFromZero) { $0[0].abs() },
        GradCase("relu", [[9]], domain: awayFromZero) { $0[0].relu() },
        GradCase("clamp", [[9]], domain: { $0 * 2 }) { $0[0].clamped(min: -0.55, max: 0.65) },
        GradCase("silu", [[4, 5]]) { $0[0].silu() },
        GradCase("softplus", [[4, 5]]) { $0[0].softplus() },
        GradCase("gelu tanh", [[4, 5]]) { $0[0].geluTanh() },
        GradCase("gelu erf", [[4, 5]]) { $0[0].geluErf() },
        GradCase("sum all", [[3, 4]]) { $0[0].sum() },
        GradCase("sum axes", [[2, 3, 4]]) { $0[0].sum(axes: [0, 2]) },
        GradCase("sum keep", [[2, 3, 4]]) { $0[0].sum(axes: [1], keepingDimensions: true) },
        GradCase("mean axis", [[3, 4]]) { $0[0].mean(axes: [-1]) },
        GradCase("variance", [[3, 6]]) { $0[0].variance(axes: [1]) },
        GradCase("max axis", [[3, 5]]) { $0[0].max(axis: 1) },
        GradCase("min axis 0", [[4, 3]]) { $0[0].min(axis: 0) },
        GradCase("logsumexp", [[3, 5]]) { $0[0].logSumExp(axis: -1) },
        GradCase("softmax last", [[3, 5]]) { $0[0].softmax() },
        GradCase("softmax axis 0", [[4, 3]]) { $0[0].softmax(axis: 0) },
        GradCase("log softmax", [[3, 5]]) { $0[0].logSoftmax() },
        GradCase("layer norm", [[3, 6], [6], [6]]) { $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) },
        GradCase("layer norm no affine", [[2, 5]]) { $0[0].layerNorm(weight: nil, bias: nil, eps: 1e-5) },
        GradCase("rms norm", [[3, 6], [6]]) { $0[0].rmsNorm(weight: $0[1], eps: 1e-6) },
        GradCase("reshape", [[2, 6]]) { $0[0].reshaped([3, -1]) },
        GradCase("permute", [[2, 3, 4]]) { $0[0].permuted([2, 0, 1]).contiguous() },
        GradCase("transpose", [[3, 4]]) { $0[0].transposed() * Tensor.arange(3) },
        GradCase("slice", [[5, 4]]) { $0[0].slice(axis: 0, 1..<4) },
        GradCase("select", [[3, 4]]) { $0[0].select(axis: 1, 2) },
        GradCase("concatenate", [[2, 3], [2, 2]]) { Tensor.concatenate([$0[0], $0[1]], axis: 1) },
        GradCase("stack", [[3], [3]]) { Tensor.stack([$0[0], $0[1]], axis: 1) },
        GradCase("broadcast to", [[3, 1]]) { $0[0].broadcast(to: [2, 3, 4]) },
        GradCase("index select repeated", [[5, 3]]) { $0[0].indexSelect([4, 0, 4, 2], axis: 0) },
        GradCase("index select axis 1", [[2, 5]]) { $0[0].indexSelect([1, 1, 3], axis: 1) },
        GradCase("gather last", [[4, 5]]) { $0[0].gatherLast([0, 4, 2, 2]) },
        GradCase("matmul", [[3, 4], [4, 5]]) { $0[0].matmul($0[1]) },
        GradCase("matmul transposed views", [[4, 3], [5, 4]]) { $0[0].transposed().matmul($0[1].transposed()) },
        GradCase("matmul one row", [[1, 4], [4, 5]]) { $0[0].matmul($0[1]) },
        GradCase("matmul one row, transposed views", [[4, 1], [5, 4]]) { $0[0].transposed().matmul($0[1].transposed()) },
        GradCase("matmul batched", [[2, 3, 4], [2, 4, 2]]) { $0[0].matmul($0[1]) },
        GradCase("matmul batch broadcast", [[2, 3, 4], [4, 2]]) { $0[0].matmul($0[1]) },
        GradCase("matmul broadcast left", [[3, 4], [2, 4, 2]]) { $0[0].matmul($0[1]) },
        GradCase("linear", [[3, 4], [5, 4], [5]]) { $0[0].linear(weight: $0[1], bias: $0[2]) },
        GradCase("rope halves", [[2, 3, 8]]) { $0[0].rope(positions: [0, 1, 5], base: 10000, layout: .halves) },
        GradCase("rope interleaved", [[3, 6]]) { $0[0].rope(positions: [2, 3, 4], base: 100, layout: .interleaved) },
        GradCase("causal softmax", [[2, 3, 4]]) { $0[0].causallyMasked().softmax() },
        GradCase("cross entropy", [[4, 6]]) { $0[0].crossEntropy(targets: [1, 5, 0, 3]) },
        GradCase("mse", [[3, 3]]) { $0[0].meanSquaredError(Tensor.ones([3, 3])) },
        GradCase("kl divergence", [[2, 5], [2, 5]]) { Tensor.klDivergence(logP: $0[0].logSoftmax(), logQ: $0[1].logSoftmax()) },
        GradCase("attention block", [[4, 8], [8, 8], [8, 8]]) { x in
            let q = x[0].matmul(x[1]), k = x[0].matmul(x[2])
            let s = (q.matmul(k.transposed()) * 0.3).causallyMasked().softmax()
            return s.matmul(x[0]).rmsNorm(weight: nil, eps: 1e-5)
        },
    ]
}

@Suite("Gradients against central finite differences")
struct GradientTests {
    @Test(arguments: GradCase.all)
    func matchesFiniteDifferences(_ c: GradCase) {
        var rng = SeededGenerator(seed: 1234)
        let inputs = c.shapes.map { shape in
            Tensor(shape: shape) { b in for i in 0..<b.count { b[i] = c.domain(rng.nextNormal()) } }
        }
        // A fixed random projection makes the scalar depend on every output element.
        let probe = Tensor.randomNormal(c.f(inputs).shape, using: &rng)
        let scalar: ([Tensor]) -> Tensor = { (c.f($0) * probe).sum() }
        let (_, grads) = valueWithGradient(at: inputs, of: scalar)
        for (k, input) in inputs.enumerated() {
            var numeric = [Double](repeating: 0, count: input.count)
            let base = input.scalars
            // Central differences in Double, Richardson-extrapolated over h and h/2 (error O(h⁴)).
            func central(_ i: Int, _ h: Double) -> Double {
                var plus = base, minus = base
                plus[i] += Float(h); minus[i] -= Float(h)
                let step = Double(plus[i]) - Double(minus[i])
                var xp = inputs, xm = inputs
                xp[k] = Tensor(shape: input.shape, scalars: plus)
                xm[k] = Tensor(shape: input.shape, scalars: minus)
                return (Double(scalar(xp).item) - Double(scalar(xm).item)) / step
            }
            for i in 0..<input.count {
                let h = 1e-2 * max(1, Double(abs(base[i])))
                numeric[i] = (4 * central(i, h / 2) - central(i, h)) / 3
            }
            let analytic = grads[k].scalars.map(Double.init)
            let scale = max(numeric.map(abs).max() ?? 0, 1e-2)
            var worst = 0.0, worstIndex = -1
            for i in numeric.indices {
                let e = abs(analytic[i] - numeric[i]) / scale
                if e > worst { worst = e; worstIndex = i }
            }
            #expect(worst < 1e-3, "\(c.name), input \(k): relative error \(worst) at index \(worstIndex) (analytic \(worstIndex >= 0 ? analytic[worstIndex] : 0), numeric \(worstIndex >= 0 ? numeric[worstIndex] : 0))")
        }
    }

    @Test func unwatchedInputGetsZeros() {
        let tape = GradientTape()
        let x = tape.watch(Tensor([1, 2, 3]))
        let y = tape.watch(Tensor([4, 5]))
        let g = tape.gradient(of: (x * x).sum(), withRespectTo: [x, y])
        #expect(g[0].scalars == [2, 4, 6])
        #expect(g[1].scalars == [0, 0])
    }

    @Test func detachStopsGradient() {
        let g = gradient(at: Tensor([2, 3])) { x in (x * x.detached()).sum() }
        #expect(g.scalars == [2, 3])
    }

    @Test func inferencePaysNothing() {
        let y = (Tensor([1, 2]) * Tensor([3, 4])).exp()
        #expect(y.node == nil)
        #expect(!y.isRecorded)
    }

    @Test func watchingAnIntermediateGivesItsGradient() {
        let tape = GradientTape()
        let x = tape.watch(Tensor([1, 2]))
        let h = tape.watch(x * 3)  // an activation tapped mid-computation
        let out = (h * h).sum()
        let g = tape.gradient(of: out, withRespectTo: [h, x])
        #expect(g[0].scalars == [6, 12])    // d/dh h² = 2h, h = [3, 6]
        #expect(g[1].scalars == [18, 36])   // flows on through h = 3x
    }
}
