import Foundation
import GlassboxTensor

/// How the path integral of integrated gradients is approximated: nodes α ∈ [0, 1] and
/// weights that sum to 1 (Captum's rules and names).
public enum IntegrationRule: String, CaseIterable, Sendable, Codable {
    /// n-point Gauss–Legendre nodes and weights mapped from [−1, 1] to [0, 1] (Captum's default).
    case gaussLegendre = "gauss-legendre"
    /// α = i/n, i = 0…n−1, weights 1/n.
    case riemannLeft = "riemann-left"
    /// α = i/n, i = 1…n, weights 1/n.
    case riemannRight = "riemann-right"
    /// α = (i + ½)/n, weights 1/n.
    case riemannMiddle = "riemann-middle"
    /// α = i/(n−1), i = 0…n−1, weights 1/(n−1) halved at both ends. (Captum uses 1/n with
    /// halved ends, which sums to (n−1)/n; the weights here sum to 1, so completeness holds
    /// for linear functions.)
    case riemannTrapezoid = "riemann-trapezoid"

    /// The nodes α and weights for `n` steps (n ≥ 1; the trapezoid rule needs n ≥ 2).
    public func nodes(_ n: Int) -> (alphas: [Double], weights: [Double]) {
        precondition(n >= 1, "IntegrationRule.nodes: need at least one step, got \(n)")
        let dn = Double(n)
        switch self {
        case .gaussLegendre:
            let (x, w) = IntegrationRule.gaussLegendre(n)
            return (x.map { 0.5 * (1 + $0) }, w.map { 0.5 * $0 })
        case .riemannLeft:
            return ((0..<n).map { Double($0) / dn }, [Double](repeating: 1 / dn, count: n))
        case .riemannRight:
            return ((1...n).map { Double($0) / dn }, [Double](repeating: 1 / dn, count: n))
        case .riemannMiddle:
            return ((0..<n).map { (Double($0) + 0.5) / dn }, [Double](repeating: 1 / dn, count: n))
        case .riemannTrapezoid:
            precondition(n >= 2, "IntegrationRule.nodes: the trapezoid rule needs at least 2 steps, got \(n)")
            var w = [Double](repeating: 1 / (dn - 1), count: n)
            w[0] /= 2
            w[n - 1] /= 2
            return ((0..<n).map { Double($0) / (dn - 1) }, w)
        }
    }

    /// Gauss–Legendre nodes on [−1, 1] in increasing order, and their weights (Newton's method
    /// on the Legendre polynomial from Chebyshev-like initial guesses, in Double; matches
    /// `numpy.polynomial.legendre.leggauss` to ~1e-15).
    public static func gaussLegendre(_ n: Int) -> (nodes: [Double], weights: [Double]) {
        var nodes = [Double](repeating: 0, count: n), weights = nodes
        for i in 0..<n {
            var x = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
            var derivative = 0.0
            for _ in 0..<100 {
                var p0 = 1.0, p1 = x
                for j in stride(from: 2, through: n, by: 1) {
                    let p2 = ((2 * Double(j) - 1) * x * p1 - (Double(j) - 1) * p0) / Double(j)
                    p0 = p1; p1 = p2
                }
                derivative = Double(n) * (x * p1 - p0) / (x * x - 1)
                let dx = p1 / derivative
                x -= dx
                if Swift.abs(dx) < 1e-16 { break }
            }
            nodes[n - 1 - i] = x
            weights[n - 1 - i] = 2 / ((1 - x * x) * derivative * derivative)
        }
        return (nodes, weights)
    }
}

/// What integrated gradients returns.
public struct IntegratedGradientsResult: @unchecked Sendable {
    /// (x − x′) ⊙ Σᵢ wᵢ ∇F(x′ + αᵢ(x − x′)), the input's shape.
    public var attributions: Tensor
    /// Σ attributions − (F(x) − F(x′)): how far the quadrature is from completeness.
    public var delta: Double
    public var valueAtInput: Double
    public var valueAtBaseline: Double
    public var steps: Int
    public var rule: IntegrationRule
    /// Gradient entries that were NaN or ±∞ and were set to 0 (see `BatchedFunction.valuesAndGradients`).
    public var nonFiniteGradients: Int

    /// Σ attributions.
    public var total: Double { attributions.scalars.reduce(0.0) { $0 + Double($1) } }
    /// |delta| / |F(x) − F(x′)|: the relative completeness error the paper asks to keep under 5%.
    public var relativeError: Double { Swift.abs(delta) / Swift.max(Swift.abs(valueAtInput - valueAtBaseline), 1e-12) }
}

/// Integrated gradients (Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks",
/// arXiv 1703.01365): the path integral of the gradient along the straight line from a
/// baseline x′ to the input x, times (x − x′). Completeness: the attributions sum to
/// F(x) − F(x′) as the quadrature converges; `delta` measures the gap (Captum's convergence
/// delta). Interpolation points are evaluated `internalBatchSize` at a time.
public struct IntegratedGradients: Sendable {
    public var function: BatchedFunction
    public var steps: Int
    public var rule: IntegrationRule
    public var internalBatchSize: Int

    public init(_ function: BatchedFunction, steps: Int = 50, rule: IntegrationRule = .gaussLegendre, internalBatchSize: Int = 50) {
        self.function = function
        self.steps = steps
        self.rule = rule
        self.internalBatchSize = internalBatchSize
    }

    /// Attributions of F at `input` relative to `baseline` (zeros when nil).
    public func attribute(_ input: Tensor, baseline: Tensor? = nil) throws -> IntegratedGradientsResult {
        guard steps >= (rule == .riemannTrapezoid ? 2 : 1) else {
            throw AttributionError.invalidArgument("steps = \(steps): the \(rule.rawValue) rule needs at least \(rule == .riemannTrapezoid ? 2 : 1)")
        }
        guard internalBatchSize >= 1 else { throw AttributionError.invalidArgument("internal batch size \(internalBatchSize): expected ≥ 1") }
        let base = baseline ?? Tensor.zeros(input.shape)
        try checkSameShape(input, base, "integrated gradients")
        let x = input.scalars, x0 = base.scalars, n = x.count
        let diff = (0..<n).map { x[$0] - x0[$0] }                 // x − x′ in Float, as Captum
        let (alphas, weights) = rule.nodes(steps)
        var total = [Double](repeating: 0, count: n)
        var nonFinite = 0
        for range in chunks(steps, size: internalBatchSize) {
            let rows = range.map { i -> [Float] in
                let a = Float(alphas[i])
                return (0..<n).map { x0[$0] + a * diff[$0] }
            }
            let r = function.valuesAndGradients(stackRows(rows, shape: input.shape))   // [c, ...]
            nonFinite += r.nonFinite
            r.gradients.withUnsafeBufferPointer { g in
                for (k, i) in range.enumerated() {
                    let w = weights[i], row = k * n
                    for j in 0..<n { total[j] += w * Double(g[row + j]) }
                }
            }
        }
        let attributions = Tensor(shape: input.shape, scalars: (0..<n).map { Float(total[$0] * Double(diff[$0])) })
        let ends = function.values(stackRows([x, x0], shape: input.shape))
        let sum = attributions.scalars.reduce(0.0) { $0 + Double($1) }
        return IntegratedGradientsResult(attributions: attributions, delta: sum - (ends[0] - ends[1]),
                                         valueAtInput: ends[0], valueAtBaseline: ends[1], steps: steps, rule: rule,
                                         nonFiniteGradients: nonFinite)
    }
}
