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
    /// is large enough (`count * costPerItem` above ~64K element-operations). Each element
    /// must be computed independently, so the result never depends on the split.
    @inline(__always)
    static func parallelRanges(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let w = workers
        if w <= 1 || count * costPerItem < 1 << 17 || count < 2 {
            body(0..<count)
            return
        }
        let chunks = min(w, count)
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

/// Branch-free SIMD approximations of transcendental functions, accurate to a few ulp
/// (Cephes-style range reduction and minimax polynomials).
@usableFromInline
enum FastMath {
    typealias V = SIMD8<Float>

    /// e^x; exactly 0 below −103 (so e^−∞ = 0), +∞ above 88.7.
    @inline(__always)
    static func exp(_ x: V) -> V {
        let hi = V(repeating: 88.72283)
        let lo = V(repeating: -87.33654)
        var xc = x.replacing(with: hi, where: x .> hi)
        xc.replace(with: lo, where: xc .< lo)
        let fx = (xc * 1.44269504088896341 + 0.5).rounded(.down)
        xc = xc - fx * 0.693359375
        xc = xc + fx * 2.12194440e-4
        let z = xc * xc
        var y = V(repeating: 1.9875691500e-4)
        y = y * xc + 1.3981999507e-3
        y = y * xc + 8.3334519073e-3
        y = y * xc + 4.1665795894e-2
        y = y * xc + 1.6666665459e-1
        y = y * xc + 5.0000001201e-1
        y = y * z + xc + 1
        // fx is a small integer: adding 1.5·2²³ puts it in the low mantissa bits (no trapping conversion).
        let n = unsafeBitCast(fx + 12582912, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let pow2 = unsafeBitCast((n &+ 127) &<< 23, to: V.self)
        var r = y * pow2
        r.replace(with: 0, where: x .< -87.33654)
        r.replace(with: .infinity, where: x .> 88.72283)
        r.replace(with: x, where: x .!= x)  // NaN stays NaN
        return r
    }

    /// tanh(x) = sign(x)·(1 − 2/(e^{2|x|} + 1)), with an odd polynomial near 0 for relative accuracy.
    @inline(__always)
    static func tanh(_ x: V) -> V {
        let ax = x.replacing(with: -x, where: x .< 0)
        let e = exp(ax * 2)
        var t = 1 - 2 / (e + 1)
        // |x| < 0.1: x − x³/3 + 2x⁵/15 − 17x⁷/315
        let x2 = ax * ax
        var poly = x2 * V(repeating: -17.0 / 315) + 2.0 / 15
        poly = poly * x2 - 1.0 / 3
        poly = poly * x2 + 1
        let small = ax * poly
        t.replace(with: small, where: ax .< 0.1)
        t.replace(with: 1, where: ax .> 9)
        return t.replacing(with: -t, where: x .< 0)
    }

    /// 1 / (1 + e^−x).
    @inline(__always)
    static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    /// erf(x), Abramowitz & Stegun 7.1.26 refined: max abs error ~1.2e-7.
    @inline(__always)
    static func erf(_ x: V) -> V {
        // erf via erfc rational approximation (W. J. Cody style with exp): use
        // t = 1/(1 + p|x|) with a 6-term polynomial (Numerical Recipes erfc, rel. err < 1.2e-7).
        let ax = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + ax * 0.5)
        var p = V(repeating: 0.17087277)
        p = p * t - 0.82215223
        p = p * t + 1.48851587
        p = p * t - 1.13520398
        p = p * t + 0.27886807
        p = p * t - 0.18628806
        p = p * t + 0.09678418
        p = p * t + 0.37409196
        p = p * t + 1.00002368
        p = p * t - 1.26551223
        let erfc = t * exp(-ax * ax + p)
        let r = 1 - erfc
        return r.replacing(with: -r, where: x .< 0)
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

    /// dst[i] = f(src[i]) over n elements, 8 at a time.
    @inline(__always)
    static func map(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: (V) -> V) {
        var i = 0
        while i + 8 <= n {
            store(f(load(src + i, 8)), dst + i, 8)
            i += 8
        }
        if i < n { store(f(load(src + i, n - i)), dst + i, n - i) }
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
