import CBLAS
import Dispatch
import Foundation

/// Threading policy. OpenBLAS runs its own threads inside each matrix product; Glassbox's
/// own kernels split large elementwise and reduction work across `workers` threads. The
/// two never nest: Swift kernels never call BLAS from inside a parallel region, and BLAS
/// is never called from several Swift threads at once.
public enum Threading {
    nonisolated(unsafe) private static var configured = false
    nonisolated(unsafe) private static var _workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    private static let lock = NSLock()

    /// Threads used by Glassbox's elementwise and reduction kernels.
    public static var workers: Int {
        ensureConfigured()
        return _workers
    }

    /// Sets the thread count for both OpenBLAS and Glassbox kernels (default: all cores,
    /// or `GLASSBOX_THREADS` when set). Results do not depend on it.
    public static func configure(threads: Int) {
        lock.lock(); defer { lock.unlock() }
        let n = max(1, threads)
        _workers = n
        openblas_set_num_threads(Int32(n))
        configured = true
    }

    static func ensureConfigured() {
        if configured { return }
        var n = max(1, ProcessInfo.processInfo.activeProcessorCount)
        if let s = ProcessInfo.processInfo.environment["GLASSBOX_THREADS"], let v = Int(s), v > 0 { n = v }
        lock.lock()
        if !configured {
            _workers = n
            openblas_set_num_threads(Int32(n))
            configured = true
        }
        lock.unlock()
    }

    /// Runs `body` over `0..<count` split into contiguous ranges, in parallel when the work
    /// is large enough (`count * costPerItem` above ~128K element-operations, about 50 µs), in up
    /// to 4 chunks per worker taken dynamically.
    /// Each element must be computed independently, so the result never depends on the
    /// split. Never call BLAS from `body`.
    @inline(__always)
    public static func parallelRanges(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let w = workers
        if w <= 1 || count * costPerItem < 1 << 17 || count < 2 {
            body(0..<count)
            return
        }
        // Up to 4 chunks per worker, each at least ~64K element-operations: the calling thread takes
        // chunks too, so a worker that starts late (a busy machine) delays the result by one small
        // chunk instead of half the work.
        let chunks = min(count, min(4 * w, max(w, count * costPerItem >> 16)))
        let per = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let run = body
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * per, hi = min(count, lo + per)
                if lo < hi { run(lo..<hi) }
            }
        }
    }
}

/// Branch-free SIMD approximations of transcendental functions (Cephes-style range reduction,
/// minimax polynomials and rationals evaluated with fused multiply-adds). Max errors, measured
/// against Double in Tests/GlassboxTensorTests/FastMathTests.swift: exp ≤ 2 ulp, tanh ≤ 5 ulp,
/// sigmoid and silu ≤ 3 ulp, GELU erf ≤ 12 ulp and GELU tanh ≤ 16 ulp where |result| ≥ 1e-6,
/// erf absolute ≤ 2e-7. The hot kernels (softmax, silu, sigmoid, both GELUs) use the reduced-range
/// exps `expNonPositive` and `expForQuotient`, which drop the fix-ups those callers do not need, and
/// evaluate polynomials with Estrin's scheme (shorter dependency chains: on CPUs that split 256-bit
/// operations, such as AMD Zen 1, the reorder buffer holds only about two vectors of GELU work, so
/// latency, not operation count, bounds the speed).
@usableFromInline
enum FastMath {
    typealias V = SIMD8<Float>

    /// a·b + c, fused.
    @_transparent
    static func fma(_ a: V, _ b: V, _ c: V) -> V { c.addingProduct(a, b) }

    /// e^x; +∞ above 88.72, 0 below −103.97 (subnormal results in between), NaN stays NaN.
    @_transparent
    static func exp(_ x: V) -> V {
        let hi = V(repeating: 88.72283935546875), lo = V(repeating: -103.97208404541015625)
        var xc = x.replacing(with: hi, where: x .> hi)
        xc.replace(with: lo, where: xc .< lo)
        let fx = (xc * 1.44269504088896341).rounded(.toNearestOrEven)
        var r = fma(fx, V(repeating: -0.693359375), xc)
        r = fma(fx, V(repeating: 2.12194440e-4), r)
        var y = V(repeating: 1.9875691500e-4)
        y = fma(y, r, V(repeating: 1.3981999507e-3))
        y = fma(y, r, V(repeating: 8.3334519073e-3))
        y = fma(y, r, V(repeating: 4.1665795894e-2))
        y = fma(y, r, V(repeating: 1.6666665459e-1))
        y = fma(y, r, V(repeating: 5.0000001201e-1))
        y = fma(y, r * r, r + 1)
        // 2^n in two factors, so n = 128 (x near 88.7) and n down to −150 (subnormals) stay exact.
        // fx is a small integer: adding 1.5·2²³ puts it in the low mantissa bits (no trapping conversion).
        let n = unsafeBitCast(fx + 12582912, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let n1 = n &>> 1, n2 = n &- n1
        let p1 = unsafeBitCast((n1 &+ 127) &<< 23, to: V.self), p2 = unsafeBitCast((n2 &+ 127) &<< 23, to: V.self)
        var res = y * p1 * p2
        res.replace(with: 0, where: x .< lo)
        res.replace(with: .infinity, where: x .> hi)
        res.replace(with: x, where: x .!= x)  // NaN stays NaN
        return res
    }

    /// Cephes' range reduction with the rounding folded into one fused multiply-add: n = round(x·log₂e)
    /// (k = 1.5·2²³ + n, so k's low mantissa bits hold n; valid for |n| < 2²²) and r = x − n·ln2 in two steps.
    @_transparent
    static func expReduce(_ x: V) -> (r: V, k: V) {
        let magic = V(repeating: 12582912)
        let k = fma(x, V(repeating: 1.44269504088896341), magic)
        let fx = k - magic
        var r = fma(fx, V(repeating: -0.693359375), x)
        r = fma(fx, V(repeating: 2.12194440e-4), r)
        return (r, k)
    }

    /// s·e^r on |r| ≤ ln2/2: `exp`'s Cephes polynomial, by Estrin's scheme (4 dependent steps instead
    /// of 7). s is 1 or 2; scaling every coefficient by 2 is exact.
    @_transparent
    static func expPoly(_ r: V, scale s: Float) -> V {
        let r2 = r * r
        let q0 = fma(r, V(repeating: 1.6666665459e-1 * s), V(repeating: 5.0000001201e-1 * s))
        let q1 = fma(r, V(repeating: 8.3334519073e-3 * s), V(repeating: 4.1665795894e-2 * s))
        let q2 = fma(r, V(repeating: 1.9875691500e-4 * s), V(repeating: 1.3981999507e-3 * s))
        let y = fma(fma(q2, r2, q1), r2, q0)
        return fma(y, r2, fma(r, V(repeating: s), V(repeating: s)))
    }

    /// e^x for x ≤ 0 (softmax's shifted logits, erfc's exponent): ≤ 2 ulp down to the smallest normal
    /// float, 0 below it (x < −87.34, no subnormals), 0 at −∞, NaN stays NaN. Also exact to ≤ 2 ulp for
    /// 0 < x ≤ 88.3, but does not saturate to +∞ beyond: callers pass x ≤ 0.
    @_transparent
    static func expNonPositive(_ x: V) -> V {
        let lo = V(repeating: -87.33654475)
        let xc = x.replacing(with: lo, where: x .< lo)
        let (r, k) = expReduce(xc)
        let p = unsafeBitCast((unsafeBitCast(k, to: SIMD8<Int32>.self) &+ 127) &<< 23, to: V.self)
        let res = expPoly(r, scale: 1) * p
        return res.replacing(with: 0, where: x .< lo)
    }

    /// e^x for denominators 1 + e^x (sigmoid, silu, GELU tanh): ≤ 2 ulp on [−80, 88.72], +∞ above
    /// (the overflow happens in the final product), e^−80 below — invisible next to 1. NaN gives NaN.
    /// 2^n is applied as 2^(n−1) times a doubled polynomial, so n = 128 needs no second factor.
    @_transparent
    static func expForQuotient(_ x: V) -> V {
        let lo = V(repeating: -80), hi = V(repeating: 89)
        var xc = x.replacing(with: hi, where: x .> hi)
        xc.replace(with: lo, where: xc .< lo)
        let (r, k) = expReduce(xc)
        let p = unsafeBitCast((unsafeBitCast(k, to: SIMD8<Int32>.self) &+ 126) &<< 23, to: V.self)
        return expPoly(r, scale: 2) * p
    }

    /// tanh(x): a 13/6 odd rational on [−7.9, 7.9] (the one Eigen uses), ±1 beyond 9; x itself for |x| < 4e-4.
    @_transparent
    static func tanh(_ x: V) -> V {
        let clamp = V(repeating: 7.90531110763549805)
        var xc = x.replacing(with: clamp, where: x .> clamp)
        xc.replace(with: -clamp, where: xc .< -clamp)
        let x2 = xc * xc
        var p = V(repeating: -2.76076847742355e-16)
        p = fma(x2, p, V(repeating: 2.00018790482477e-13))
        p = fma(x2, p, V(repeating: -8.60467152213735e-11))
        p = fma(x2, p, V(repeating: 5.12229709037114e-08))
        p = fma(x2, p, V(repeating: 1.48572235717979e-05))
        p = fma(x2, p, V(repeating: 6.37261928875436e-04))
        p = fma(x2, p, V(repeating: 4.89352455891786e-03))
        var q = V(repeating: 1.19825839466702e-06)
        q = fma(x2, q, V(repeating: 1.18534705686654e-04))
        q = fma(x2, q, V(repeating: 2.26843463243900e-03))
        q = fma(x2, q, V(repeating: 4.89352518554385e-03))
        var t = xc * p / q
        let ax = x.replacing(with: -x, where: x .< 0)
        t.replace(with: x, where: ax .< 0.0004)
        t.replace(with: 1, where: x .> 9)
        t.replace(with: -1, where: x .< -9)
        return t
    }

    /// 1 / (1 + e^−x).
    @_transparent
    static func sigmoid(_ x: V) -> V { 1 / (1 + expForQuotient(-x)) }

    /// x·σ(x) = x / (1 + e^−x), one exp; 0 at −∞.
    @_transparent
    static func silu(_ x: V) -> V {
        let r = x / (1 + expForQuotient(-x))
        return r.replacing(with: 0, where: x .== -.infinity)
    }

    /// GELU, tanh form: ½x(1 + tanh(u)) = x / (1 + e^{−2u}) with u = √(2/π)(x + 0.044715x³);
    /// one exp, and no cancellation for negative x. 0 at −∞.
    @_transparent
    static func geluTanh(_ x: V) -> V {
        let c = V(repeating: -2 * 0.7978845608028654)
        let r = x / (1 + expForQuotient(x * fma(x * x, c * 0.044715, c)))
        return r.replacing(with: 0, where: x .== -.infinity)
    }

    /// erfc(a) for a ≥ 0 (Numerical Recipes' erfcc: t = 1/(1 + a/2), t·e^{−a² + P(t)}, relative
    /// error < 1.2e-7 in exact arithmetic; P of degree 9 by Estrin's scheme). −a² = u·v is formed
    /// inside one fused multiply-add, so a caller with a = |x|/√2 passes u = −|x|/2, v = |x| and the
    /// exponent is rounded once. `t` is 1/(1 + a/2), passed in so callers can fold a's scaling into it.
    @_transparent
    static func erfcNonNegative(t: V, negSquare u: V, _ v: V) -> V {
        let t2 = t * t, t4 = t2 * t2
        let p01 = fma(t, V(repeating: 1.00002368), V(repeating: -1.26551223))
        let p23 = fma(t, V(repeating: 0.09678418), V(repeating: 0.37409196))
        let p45 = fma(t, V(repeating: 0.27886807), V(repeating: -0.18628806))
        let p67 = fma(t, V(repeating: 1.48851587), V(repeating: -1.13520398))
        let p89 = fma(t, V(repeating: 0.17087277), V(repeating: -0.82215223))
        let p = fma(t4, fma(t4, p89, fma(t2, p67, p45)), fma(t2, p23, p01))
        return t * expNonPositive(fma(u, v, p))
    }

    /// |x|, by clearing the sign bit.
    @_transparent
    static func abs(_ x: V) -> V {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: V.self)
    }

    /// erf(x) = ±(1 − erfc(|x|)) (absolute error ≤ 2e-7).
    @_transparent
    static func erf(_ x: V) -> V {
        let ax = abs(x)
        let t = 1 / fma(ax, V(repeating: 0.5), V(repeating: 1))
        let r = 1 - erfcNonNegative(t: t, negSquare: -ax, ax)
        return r.replacing(with: -r, where: x .< 0)
    }

    /// erfc(|x|/√2) = 2Φ(−|x|) for ax = |x| ≥ 0, as e^{−x²/2}·R(|x|): R = P/Q, degrees 4 and 5, a
    /// relative-error fit (float coefficients, 2.4e-8 in exact arithmetic) of the scaled complementary
    /// error function e^{s²/2}·erfc(s/√2) on s ∈ [0, 13.5]. The exponent is rounded once (−|x|/2 is
    /// exact), and the exp and the rational are independent chains, so the critical path is about half
    /// of `erfcNonNegative`'s division → polynomial → exp. 0 from |x| ≈ 13.2 on (e^{−x²/2} underflows).
    /// `erf` keeps `erfcNonNegative`: through this function its absolute error is 2.1e-7, above its 2e-7.
    @_transparent
    static func erfcHalf(_ ax: V) -> V {
        let s = vmin(ax, V(repeating: 14))  // R is finite there; the exp is already 0
        let s2 = s * s, s4 = s2 * s2
        let p = fma(s4, V(repeating: 0.008014658465981483),
                    fma(s2, fma(s, V(repeating: 0.07982273399829865), V(repeating: 0.3622228801250458)),
                        fma(s, V(repeating: 0.8709104657173157), V(repeating: 1))))
        let q = fma(s4, fma(s, V(repeating: 0.01004474051296711), V(repeating: 0.10005035251379013)),
                    fma(s2, fma(s, V(repeating: 0.46385839581489563), V(repeating: 1.1937255859375)),
                        fma(s, V(repeating: 1.6687952280044556), V(repeating: 1))))
        return expNonPositive(ax * -0.5 * ax) * (p / q)
    }

    /// GELU, erf form: x·Φ(x) = ½x·erfc(|x|/√2) for x < 0 and ½x·(2 − erfc(x/√2)) otherwise,
    /// so the negative tail keeps its relative accuracy. 0 at −∞.
    @_transparent
    static func geluErf(_ x: V) -> V {
        let e = erfcHalf(abs(x))
        let f = (2 - e).replacing(with: e, where: x .< 0)
        let r = 0.5 * x * f
        return r.replacing(with: 0, where: x .== -.infinity)
    }

    /// Lane-wise maximum (the standard library's `pointwiseMax` is slow: it handles NaN per lane).
    @inline(__always)
    static func vmax(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .> a) }

    /// Lane-wise minimum.
    @inline(__always)
    static func vmin(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ n: Int) -> V {
        if n >= 8 { return UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var v = V(repeating: 0)
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n >= 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self); return }
        for i in 0..<n { p[i] = v[i] }
    }

    /// dst[i] = f(src[i]) over n elements, 16 at a time (two independent vectors in flight).
    @inline(__always)
    static func map(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: (V) -> V) {
        var i = 0
        while i + 16 <= n {
            let a = load(src + i, 8), b = load(src + i + 8, 8)
            store(f(a), dst + i, 8)
            store(f(b), dst + i + 8, 8)
            i += 16
        }
        while i < n {
            let m = Swift.min(8, n - i)
            store(f(load(src + i, m)), dst + i, m)
            i += m
        }
    }

    /// dst[i] = e^(src[i] − shift) for shift ≥ every src[i] (the row maximum); returns Σ dst[i]
    /// (fixed order: deterministic). Terms below the smallest normal float are 0.
    @inline(__always)
    static func expShiftedSum(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        let sv = V(repeating: shift)
        var s0 = V(), s1 = V()
        var i = 0
        while i + 16 <= n {
            let a = expNonPositive(load(src + i, 8) - sv), b = expNonPositive(load(src + i + 8, 8) - sv)
            store(a, dst + i, 8); store(b, dst + i + 8, 8)
            s0 += a; s1 += b
            i += 16
        }
        var total = (s0 + s1).sum()
        while i < n {
            let m = Swift.min(8, n - i)
            var e = expNonPositive(load(src + i, m) - sv)
            for j in m..<8 { e[j] = 0 }
            store(e, dst + i, m)
            total += e.sum()
            i += m
        }
        return total
    }

    /// dst[i] = f(a[i], b[i]) over n elements.
    @inline(__always)
    static func zip(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: (V, V) -> V) {
        var i = 0
        while i + 8 <= n {
            store(f(load(a + i, 8), load(b + i, 8)), dst + i, 8)
            i += 8
        }
        if i < n { store(f(load(a + i, n - i), load(b + i, n - i)), dst + i, n - i) }
    }

    /// Σ p[i] with 4 independent SIMD accumulators (fixed order: deterministic).
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        var i = 0
        while i + 32 <= n {
            a0 += load(p + i, 8); a1 += load(p + i + 8, 8)
            a2 += load(p + i + 16, 8); a3 += load(p + i + 24, 8)
            i += 32
        }
        while i + 8 <= n { a0 += load(p + i, 8); i += 8 }
        var s = ((a0 + a1) + (a2 + a3)).sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    /// max p[i] (−∞ for n = 0).
    @inline(__always)
    static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = V(repeating: -.infinity)
        var i = 0
        while i + 8 <= n { m = vmax(m, load(p + i, 8)); i += 8 }
        var s = m.max()
        while i < n { s = Swift.max(s, p[i]); i += 1 }
        return s
    }

    /// Σ a[i]·b[i].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var a0 = V(), a1 = V()
        var i = 0
        while i + 16 <= n {
            a0 += load(a + i, 8) * load(b + i, 8)
            a1 += load(a + i + 8, 8) * load(b + i + 8, 8)
            i += 16
        }
        while i + 8 <= n { a0 += load(a + i, 8) * load(b + i, 8); i += 8 }
        var s = (a0 + a1).sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }
}
