import Foundation
import Testing
@testable import GlassboxTensor

/// The SIMD approximations behind exp, tanh, sigmoid, silu and both GELUs: maximum error
/// against Double over a dense grid on a wide range, the extremes, and ±∞ / NaN.
@Suite struct FastMathTests {
    typealias V = SIMD8<Float>

    /// −120 … 120 in steps of 1/512 (every value exactly representable), plus tiny, huge and signed-zero inputs.
    static let grid: [Float] = (-61_440...61_440).map { Float($0) / 512 }
        + [0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1e-30, -1e-30, 1e-8, -1e-8, 3e-4, -3e-4, 1e10, -1e10, 1e30, -1e30,
           .greatestFiniteMagnitude, -.greatestFiniteMagnitude]

    static func apply(_ f: (V) -> V, _ xs: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in FastMath.map(s.baseAddress!, d.baseAddress!, xs.count, f) }
        }
        return out
    }

    /// Largest error in ulps of the correctly rounded result, over inputs whose exact result is a
    /// normal float no smaller than `floor`; also checks every other result is within `absolute`.
    static func worst(_ f: (V) -> V, _ reference: (Double) -> Double, on xs: [Float], floor: Double = 0,
                      absolute: Double = 0) -> (ulps: Double, at: Float, absolute: Double) {
        let ys = apply(f, xs)
        var worstUlps = 0.0, at: Float = 0, worstAbs = 0.0
        for (x, y) in zip(xs, ys) {
            let r = reference(Double(x))
            let rf = Float(r)
            guard rf.isFinite else { continue }
            let err = abs(Double(y) - r)
            if abs(r) >= Swift.max(floor, Double(Float.leastNormalMagnitude)) {
                let ulps = err / Double(rf.ulp)
                if !(ulps <= worstUlps) { worstUlps = ulps.isNaN ? .infinity : ulps; at = x }
            } else if !(err <= worstAbs) {
                worstAbs = err.isNaN ? .infinity : err
            }
        }
        return (worstUlps, at, worstAbs)
    }

    static func special(_ f: (V) -> V, _ x: Float) -> Float { apply(f, [x])[0] }

    @Test func expIsWithinTwoUlps() {
        let w = Self.worst(FastMath.exp, Foundation.exp, on: Self.grid)
        #expect(w.ulps <= 2, "exp: \(w.ulps) ulp at \(w.at)")
        // subnormal results (x below −87.3) are within one subnormal step; below −104 they are 0
        #expect(w.absolute <= 1.5e-45, "exp subnormals: \(w.absolute)")
        let nearLimit = Self.special(FastMath.exp, 88.7)
        #expect(nearLimit.isFinite && abs(Double(nearLimit) / Foundation.exp(Double(Float(88.7))) - 1) < 3e-7, "no overflow just below the limit")
        #expect(Self.special(FastMath.exp, 88.73) == .infinity)
        #expect(Self.special(FastMath.exp, -105) == 0)
        #expect(Self.special(FastMath.exp, -.infinity) == 0)
        #expect(Self.special(FastMath.exp, .infinity) == .infinity)
        #expect(Self.special(FastMath.exp, .nan).isNaN)
        #expect(Self.special(FastMath.exp, 0) == 1)
    }

    /// The reduced-range exps behind softmax, erfc (x ≤ 0) and the sigmoid-style quotients.
    @Test func reducedRangeExpsAreWithinTwoUlps() {
        let nonPositive = Self.grid.filter { $0 <= 0 }
        let w = Self.worst(FastMath.expNonPositive, Foundation.exp, on: nonPositive)
        #expect(w.ulps <= 2, "expNonPositive: \(w.ulps) ulp at \(w.at)")
        // below the smallest normal float the result is 0 (not subnormal)
        #expect(w.absolute <= Double(Float.leastNormalMagnitude), "expNonPositive below the normal range: \(w.absolute)")
        #expect(Self.special(FastMath.expNonPositive, -88) == 0)
        #expect(Self.special(FastMath.expNonPositive, -.infinity) == 0)
        #expect(Self.special(FastMath.expNonPositive, 0) == 1)
        #expect(Self.special(FastMath.expNonPositive, .nan).isNaN)
        let q = Self.worst(FastMath.expForQuotient, Foundation.exp, on: Self.grid.filter { $0 >= -80 })
        #expect(q.ulps <= 2, "expForQuotient: \(q.ulps) ulp at \(q.at)")
        let nearLimit = Self.special(FastMath.expForQuotient, 88.72)
        #expect(nearLimit.isFinite && abs(Double(nearLimit) / Foundation.exp(Double(Float(88.72))) - 1) < 3e-7, "finite up to ln(FLT_MAX)")
        #expect(Self.special(FastMath.expForQuotient, 88.73) == .infinity)
        #expect(Self.special(FastMath.expForQuotient, .infinity) == .infinity)
        #expect(Self.special(FastMath.expForQuotient, -.infinity) > 0, "clamped at e^−80: 1 + it is 1")
        #expect(Self.special(FastMath.expForQuotient, .nan).isNaN)
    }

    @Test func tanhAndSigmoidAreAccurate() {
        let t = Self.worst(FastMath.tanh, Foundation.tanh, on: Self.grid)
        #expect(t.ulps <= 5, "tanh: \(t.ulps) ulp at \(t.at)")
        #expect(Self.special(FastMath.tanh, .infinity) == 1)
        #expect(Self.special(FastMath.tanh, -.infinity) == -1)
        #expect(Self.special(FastMath.tanh, 1e-30) == 1e-30, "odd and exact near 0")
        #expect(Self.special(FastMath.tanh, .nan).isNaN)
        let s = Self.worst(FastMath.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, on: Self.grid, floor: 1e-30)
        #expect(s.ulps <= 4, "sigmoid: \(s.ulps) ulp at \(s.at)")
        #expect(Self.special(FastMath.sigmoid, -.infinity) == 0)
        #expect(Self.special(FastMath.sigmoid, .infinity) == 1)
        #expect(Self.special(FastMath.sigmoid, .nan).isNaN)
    }

    @Test func siluIsAccurate() {
        let w = Self.worst(FastMath.silu, { $0 / (1 + Foundation.exp(-$0)) }, on: Self.grid, floor: 1e-30, absolute: 1e-30)
        #expect(w.ulps <= 4, "silu: \(w.ulps) ulp at \(w.at)")
        #expect(w.absolute <= 1e-30)
        #expect(Self.special(FastMath.silu, -.infinity) == 0)
        #expect(Self.special(FastMath.silu, .infinity) == .infinity)
        #expect(Self.special(FastMath.silu, .nan).isNaN)
        #expect(Self.special(FastMath.silu, -1e30) == 0)
    }

    @Test func geluTanhIsAccurate() {
        // reference in the form x / (1 + e^{−2u}), which Double evaluates without cancellation
        let reference = { (d: Double) -> Double in
            d / (1 + Foundation.exp(-2 * (2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
        }
        let w = Self.worst(FastMath.geluTanh, reference, on: Self.grid, floor: 1e-6)
        #expect(w.ulps <= 16, "gelu tanh: \(w.ulps) ulp at \(w.at)")
        // further out the result is tiny (e^−70 at x = −9.2); the rounding of the exponent's argument
        // bounds its relative error
        let tail = Self.grid.filter { $0 < -4.5 && $0 > -9.5 }
        let worstTail = zip(tail, Self.apply(FastMath.geluTanh, tail)).map { x, y in abs(Double(y) / reference(Double(x)) - 1) }.max() ?? 0
        #expect(worstTail <= 3e-5, "gelu tanh tail relative error \(worstTail)")
        #expect(Self.special(FastMath.geluTanh, -.infinity) == 0)
        #expect(Self.special(FastMath.geluTanh, .infinity) == .infinity)
        #expect(Self.special(FastMath.geluTanh, 1e30) == 1e30)
        #expect(Self.special(FastMath.geluTanh, .nan).isNaN)
    }

    @Test func geluErfAndErfAreAccurate() {
        let reference = { (d: Double) -> Double in 0.5 * d * Foundation.erfc(-d / 2.0.squareRoot()) }
        // relative accuracy wherever |gelu| ≥ 1e-6 (x ≥ −4.9), including the negative tail
        let w = Self.worst(FastMath.geluErf, reference, on: Self.grid.filter { $0 >= -4.9 }, floor: 1e-6)
        #expect(w.ulps <= 12, "gelu erf: \(w.ulps) ulp at \(w.at)")
        // further out the result is tiny; its relative error stays below 1e-5 down to 1e-38
        let tail = Self.grid.filter { $0 < -4.9 && $0 > -13 }
        let ys = Self.apply(FastMath.geluErf, tail)
        let worstTail = zip(tail, ys).map { x, y in abs(Double(y) / reference(Double(x)) - 1) }.max() ?? 0
        #expect(worstTail <= 1e-5, "gelu erf tail relative error \(worstTail)")
        #expect(Self.special(FastMath.geluErf, -.infinity) == 0)
        #expect(Self.special(FastMath.geluErf, .infinity) == .infinity)
        #expect(Self.special(FastMath.geluErf, .nan).isNaN)
        // erf (used by the GELU gradient) as 1 − erfc: absolute accuracy
        let erfs = Self.apply(FastMath.erf, Self.grid)
        let erfError = zip(Self.grid, erfs).map { x, y in abs(Double(y) - Foundation.erf(Double(x))) }.max() ?? 0
        #expect(erfError <= 2e-7, "erf absolute error \(erfError)")
        #expect(Self.special(FastMath.erf, .infinity) == 1 && Self.special(FastMath.erf, -.infinity) == -1)
    }

    /// The fused softmax pass: e^(x − shift) stored and summed, including a ragged tail.
    @Test func expShiftedSumMatchesDouble() {
        for n in [1, 7, 8, 15, 16, 17, 1000, 1029] {
            let xs = (0..<n).map { Float(($0 * 37) % 101) / 10 - 5 }
            var out = [Float](repeating: -1, count: n)
            let total = xs.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { d in FastMath.expShiftedSum(s.baseAddress!, d.baseAddress!, n, shift: 2) }
            }
            let ref = xs.map { Foundation.exp(Double($0) - 2) }
            #expect(abs(Double(total) - ref.reduce(0, +)) <= 1e-5 * ref.reduce(0, +), "n = \(n)")
            #expect(zip(out, ref).allSatisfy { abs(Double($0) - $1) <= 3e-7 * $1 }, "n = \(n)")
        }
    }
}
