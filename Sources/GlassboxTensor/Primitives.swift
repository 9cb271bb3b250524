import CBLAS
import Foundation

// Every differentiable primitive, its forward computation next to its gradient rule.
// Composite operations (variance, cross-entropy, …) live in Composites.swift and are built
// only from these. Each rule is checked against central finite differences in
// Tests/GlassboxTensorTests/GradientTests.swift.

private typealias V = SIMD8<Float>

// MARK: - Elementwise binary operations with broadcasting

extension Tensor {
    /// Applies `f` elementwise over the broadcast of `a` and `b`.
    static func broadcastMap(_ a: Tensor, _ b: Tensor, op: String,
                             _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) -> Tensor {
        let outShape = broadcastShapeOrFail(a.shape, b.shape, op: op)
        let out = Tensor(uninitializedShape: outShape)
        let n = out.count
        if n == 0 { return out }
        let dst = out.storage.base
        if a.shape == b.shape && a.isContiguous && b.isContiguous {
            let pa = a.storage.base + a.offset, pb = b.storage.base + b.offset
            withExtendedLifetime((a.storage, b.storage)) {
                Threading.parallelRanges(n) { r in
                    FastMath.zip(pa + r.lowerBound, pb + r.lowerBound, dst + r.lowerBound, r.count, f)
                }
            }
            return out
        }
        if b.count == 1 && a.isContiguous && a.shape == outShape {
            let s = V(repeating: b.storage.base[b.offset]), pa = a.storage.base + a.offset
            withExtendedLifetime(a.storage) {
                Threading.parallelRanges(n) { r in
                    FastMath.map(pa + r.lowerBound, dst + r.lowerBound, r.count) { f($0, s) }
                }
            }
            return out
        }
        if a.count == 1 && b.isContiguous && b.shape == outShape {
            let s = V(repeating: a.storage.base[a.offset]), pb = b.storage.base + b.offset
            withExtendedLifetime(b.storage) {
                Threading.parallelRanges(n) { r in
                    FastMath.map(pb + r.lowerBound, dst + r.lowerBound, r.count) { f(s, $0) }
                }
            }
            return out
        }
        // General case: rows along the last axis of the output.
        let ea = a.expandedView(to: outShape), eb = b.expandedView(to: outShape)
        let rank = outShape.count
        let last = rank == 0 ? 1 : outShape[rank - 1]
        let sa = rank == 0 ? 0 : ea.strides[rank - 1], sb = rank == 0 ? 0 : eb.strides[rank - 1]
        let rows = n / Swift.max(last, 1)
        let outer = Array(outShape.dropLast())
        let pa = ea.storage.base, pb = eb.storage.base
        withExtendedLifetime((ea.storage, eb.storage)) {
            Threading.parallelRanges(rows, costPerItem: last) { range in
                var tmpA = [Float](repeating: 0, count: sa > 1 ? last : 0)
                var tmpB = [Float](repeating: 0, count: sb > 1 ? last : 0)
                for row in range {
                    var oa = ea.offset, ob = eb.offset, rem = row
                    for ax in stride(from: outer.count - 1, through: 0, by: -1) {
                        let i = rem % outer[ax]; rem /= outer[ax]
                        oa += i * ea.strides[ax]; ob += i * eb.strides[ax]
                    }
                    let d = dst + row * last
                    var ra = pa + oa, rb = pb + ob
                    if sa > 1 { for j in 0..<last { tmpA[j] = ra[j * sa] }; ra = tmpA.withUnsafeMutableBufferPointer { $0.baseAddress! } }
                    if sb > 1 { for j in 0..<last { tmpB[j] = rb[j * sb] }; rb = tmpB.withUnsafeMutableBufferPointer { $0.baseAddress! } }
                    let ua = sa == 0 ? 0 : 1, ub = sb == 0 ? 0 : 1
                    if ua == 1 && ub == 1 {
                        FastMath.zip(ra, rb, d, last, f)
                    } else if ua == 1 {
                        let s = V(repeating: rb[0])
                        FastMath.map(ra, d, last) { f($0, s) }
                    } else if ub == 1 {
                        let s = V(repeating: ra[0])
                        FastMath.map(rb, d, last) { f(s, $0) }
                    } else {
                        let v = f(V(repeating: ra[0]), V(repeating: rb[0]))[0]
                        d.initialize(repeating: v, count: last)
                    }
                }
            }
        }
        return out
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        var out = broadcastMap(a, b, op: "add") { $0 + $1 }
        out.record([a, b]) { g in [g.summed(toShape: a.shape), g.summed(toShape: b.shape)] }
        return out
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        var out = broadcastMap(a, b, op: "subtract") { $0 - $1 }
        out.record([a, b]) { g in [g.summed(toShape: a.shape), (-g).summed(toShape: b.shape)] }
        return out
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        var out = broadcastMap(a, b, op: "multiply") { $0 * $1 }
        out.record([a, b]) { g in
            [a.node != nil ? (g * b.detached()).summed(toShape: a.shape) : nil,
             b.node != nil ? (g * a.detached()).summed(toShape: b.shape) : nil]
        }
        return out
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        var out = broadcastMap(a, b, op: "divide") { $0 / $1 }
        out.record([a, b]) { g in
            let bd = b.detached()
            return [a.node != nil ? (g / bd).summed(toShape: a.shape) : nil,
                    b.node != nil ? (-(g * a.detached()) / (bd * bd)).summed(toShape: b.shape) : nil]
        }
        return out
    }

    /// Elementwise maximum (the gradient goes to `a` where a ≥ b, else to `b`).
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        var out = broadcastMap(a, b, op: "maximum") { FastMath.vmax($0, $1) }
        out.record([a, b]) { g in
            let m = broadcastMap(a, b, op: "maximum") { V(repeating: 1).replacing(with: 0, where: $0 .< $1) }
            return [(g * m).summed(toShape: a.shape), (g * (1 - m)).summed(toShape: b.shape)]
        }
        return out
    }

    /// Elementwise selection: `condition` (nonzero = true) chooses `a`, else `b`; all three broadcast.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = broadcastShapeOrFail(broadcastShapeOrFail(condition.shape, a.shape, op: "where"), b.shape, op: "where")
        let c = condition.expandedView(to: shape).contiguous()
        let av = a.expandedView(to: shape).contiguous(), bv = b.expandedView(to: shape).contiguous()
        var mask = Tensor(uninitializedShape: shape)
        var out = Tensor(uninitializedShape: shape)
        let pc = c.storage.base + c.offset, pa = av.storage.base + av.offset, pb = bv.storage.base + bv.offset
        let pm = mask.storage.base, po = out.storage.base
        withExtendedLifetime((c.storage, av.storage, bv.storage)) {
            for i in 0..<out.count {
                let pick = pc[i] != 0
                pm[i] = pick ? 1 : 0
                po[i] = pick ? pa[i] : pb[i]
            }
        }
        mask.node = nil
        out.record([a, b]) { g in [(g * mask).summed(toShape: a.shape), (g * (1 - mask)).summed(toShape: b.shape)] }
        return out
    }
}

// MARK: - Scalar arithmetic

extension Tensor {
    /// y = x·scale + shift.
    public func affine(scale: Float, shift: Float) -> Tensor {
        let src = contiguous()
        var out = Tensor(uninitializedShape: shape)
        let ps = src.storage.base + src.offset, pd = out.storage.base, n = count
        withExtendedLifetime(src.storage) {
            Threading.parallelRanges(n) { r in
                FastMath.map(ps + r.lowerBound, pd + r.lowerBound, r.count) { $0 * scale + shift }
            }
        }
        out.record([self]) { g in [g.affine(scale: scale, shift: 0)] }
        return out
    }

    public static func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
    public static func - (s: Float, a: Tensor) -> Tensor { a.affine(scale: -1, shift: s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s, shift: 0) }
    public static func / (s: Float, a: Tensor) -> Tensor { a.reciprocal() * s }
    public static prefix func - (a: Tensor) -> Tensor { a.affine(scale: -1, shift: 0) }
    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    public static func *= (a: inout Tensor, s: Float) { a = a * s }
}

// MARK: - Elementwise unary operations

extension Tensor {
    /// y = f(x) elementwise; `rule(x, y, g)` gives the input gradient.
    func unary(_ f: (SIMD8<Float>) -> SIMD8<Float>, rule: @escaping (Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let src = contiguous()
        var out = Tensor(uninitializedShape: shape)
        let ps = src.storage.base + src.offset, pd = out.storage.base, n = count
        withExtendedLifetime(src.storage) {
            Threading.parallelRanges(n, costPerItem: 4) { r in
                FastMath.map(ps + r.lowerBound, pd + r.lowerBound, r.count, f)
            }
        }
        let x = self.detached(), y = out
        out.record([self]) { g in [rule(x, y, g)] }
        return out
    }

    /// Elementwise with a scalar Float function (for the less common, non-hot functions).
    func unaryScalar(_ f: (Float) -> Float, rule: @escaping (Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let src = contiguous()
        var out = Tensor(uninitializedShape: shape)
        let ps = src.storage.base + src.offset, pd = out.storage.base
        withExtendedLifetime(src.storage) { for i in 0..<count { pd[i] = f(ps[i]) } }
        let x = self.detached(), y = out
        out.record([self]) { g in [rule(x, y, g)] }
        return out
    }

    public func exp() -> Tensor { unary(FastMath.exp) { _, y, g in g * y } }
    public func log() -> Tensor { unaryScalar(Foundation.log) { x, _, g in g / x } }
    public func sqrt() -> Tensor { unary({ $0.squareRoot() }) { _, y, g in g * 0.5 / y } }
    public func rsqrt() -> Tensor { unary({ 1 / $0.squareRoot() }) { _, y, g in g * (y * y * y) * -0.5 } }
    public func reciprocal() -> Tensor { unary({ 1 / $0 }) { _, y, g in -(g * y * y) } }
    public func squared() -> Tensor { unary({ $0 * $0 }) { x, _, g in g * x * 2 } }
    public func tanh() -> Tensor { unary(FastMath.tanh) { _, y, g in g * (1 - y * y) } }
    public func sigmoid() -> Tensor { unary(FastMath.sigmoid) { _, y, g in g * y * (1 - y) } }
    public func abs() -> Tensor {
        unary({ $0.replacing(with: -$0, where: $0 .< 0) }) { x, _, g in g * (x.stepMask { $0 .> 0 } - x.stepMask { $0 .< 0 }) }
    }
    public func relu() -> Tensor {
        unary({ $0.replacing(with: 0, where: $0 .< 0) }) { x, _, g in g * x.stepMask { $0 .> 0 } }
    }

    /// x^p for a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        if p == 2 { return squared() }
        return unaryScalar({ Foundation.pow($0, p) }) { x, _, g in g * x.pow(p - 1) * p }
    }

    /// x clamped to [lo, hi]; the gradient passes strictly inside the interval.
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        unary({ FastMath.vmax(FastMath.vmin($0, V(repeating: hi)), V(repeating: lo)) }) { x, _, g in
            g * x.stepMask { ($0 .> lo) .& ($0 .< hi) }
        }
    }

    /// x·σ(x) (SiLU / swish).
    public func silu() -> Tensor {
        unary(FastMath.silu) { x, _, g in
            g * x.unary({ v in let s = FastMath.sigmoid(v); return s * (1 + v * (1 - s)) }) { _, _, g in g }
        }
    }

    /// log(1 + eˣ), computed stably.
    public func softplus() -> Tensor {
        unaryScalar({ Swift.max($0, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($0))) }) { x, _, g in g * x.sigmoid() }
    }

    /// GELU, tanh approximation (GPT-2's `gelu_new`).
    public func geluTanh() -> Tensor {
        let c: Float = 0.7978845608028654  // √(2/π)
        return unary(FastMath.geluTanh) { x, _, g in
            g * x.unary({ v in
                let v2: V = v * v
                let inner: V = c * (v + 0.044715 * v2 * v)
                let t: V = FastMath.tanh(inner)
                let dInner: V = c * (1 + 0.134145 * v2)
                let left: V = 0.5 * (1 + t)
                return left + 0.5 * v * (1 - t * t) * dInner
            }) { _, _, g in g }
        }
    }

    /// GELU, exact erf form (BERT's).
    public func geluErf() -> Tensor {
        unary(FastMath.geluErf) { x, _, g in
            g * x.unary({ v in
                0.5 * (1 + FastMath.erf(v * 0.7071067811865476)) + v * 0.3989422804014327 * FastMath.exp(-0.5 * v * v)
            }) { _, _, g in g }
        }
    }

    /// 1 where `predicate` holds, else 0 (no gradient).
    public func stepMask(_ predicate: (SIMD8<Float>) -> SIMDMask<SIMD8<Int32>>) -> Tensor {
        var out = unary({ V(repeating: 0).replacing(with: 1, where: predicate($0)) }) { _, _, g in g * 0 }
        out.node = nil
        return out
    }
}

// MARK: - Reductions

extension Tensor {
    /// Sum over the given axes (all axes when `axes` is nil).
    public func sum(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor {
        let axesList = (axes ?? Array(0..<rank)).map { axis($0, op: "sum") }
        let sortedAxes = Array(Set(axesList)).sorted(by: >)
        var out: Tensor
        if sortedAxes.count == rank && rank > 0 {
            let c = contiguous()
            let total = withExtendedLifetime(c.storage) { Tensor.blockSum(c.storage.base + c.offset, c.count) }
            out = Tensor(shape: keep ? [Int](repeating: 1, count: rank) : [], scalars: [total])
        } else {
            out = self.detached()
            for a in sortedAxes { out = out.sumAxisKeep(a) }
            if !keep { out = out.reshapedRaw(shape.enumerated().filter { !sortedAxes.contains($0.offset) }.map(\.element)) }
        }
        let inShape = shape
        var keptShape = shape
        for a in sortedAxes { keptShape[a] = 1 }
        out.record([self]) { g in [g.reshaped(keptShape).broadcast(to: inShape)] }
        return out
    }

    /// Σ over all elements in fixed 64K blocks: the same result for any thread count.
    static func blockSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        let block = 1 << 16
        let blocks = (n + block - 1) / block
        if blocks <= 1 { return FastMath.sum(p, n) }
        var partial = [Float](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { pb in
            nonisolated(unsafe) let out = pb.baseAddress!
            nonisolated(unsafe) let src = p
            Threading.parallelRanges(blocks, costPerItem: block) { r in
                for b in r { out[b] = FastMath.sum(src + b * block, Swift.min(block, n - b * block)) }
            }
        }
        var s: Float = 0
        for v in partial { s += v }
        return s
    }

    /// Sum along one axis, keeping it as size 1 (no autodiff).
    func sumAxisKeep(_ a: Int) -> Tensor {
        let c = contiguous()
        let n = shape[a]
        let outer = Tensor.product(Array(shape[..<a])), inner = Tensor.product(Array(shape[(a + 1)...]))
        var outShape = shape; outShape[a] = 1
        let out = Tensor.zeros(outShape)
        let src = c.storage.base + c.offset, dst = out.storage.base
        withExtendedLifetime(c.storage) {
            Threading.parallelRanges(outer, costPerItem: n * inner) { r in
                for o in r {
                    let base = src + o * n * inner
                    if inner == 1 {
                        dst[o] = FastMath.sum(base, n)
                    } else {
                        let d = dst + o * inner
                        for j in 0..<n {
                            FastMath.zip(d, base + j * inner, d, inner) { $0 + $1 }
                        }
                    }
                }
            }
        }
        return out
    }

    public func mean(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor {
        let axesList = (axes ?? Array(0..<rank)).map { axis($0, op: "mean") }
        let n = Set(axesList).reduce(1) { $0 * shape[$1] }
        return sum(axes: axesList, keepingDimensions: keep) * (1 / Float(Swift.max(n, 1)))
    }

    /// Maximum along `axis`; the gradient goes to the first maximal element.
    public func max(axis: Int, keepingDimensions keep: Bool = false) -> Tensor {
        extremum(axis: axis, keep: keep, isMax: true)
    }

    /// Minimum along `axis`; the gradient goes to the first minimal element.
    public func min(axis: Int, keepingDimensions keep: Bool = false) -> Tensor {
        extremum(axis: axis, keep: keep, isMax: false)
    }

    /// Index of the maximum along `axis` (first on ties), in row-major order of the other axes.
    public func argmax(axis: Int = -1) -> [Int] { argExtremum(axis: self.axis(axis, op: "argmax"), isMax: true).indices }

    /// Index of the minimum along `axis`.
    public func argmin(axis: Int = -1) -> [Int] { argExtremum(axis: self.axis(axis, op: "argmin"), isMax: false).indices }

    func argExtremum(axis a: Int, isMax: Bool) -> (values: [Float], indices: [Int]) {
        let c = contiguous()
        let n = shape[a]
        checkPrecondition(n > 0, "argmax/max: axis \(a) of shape \(shape) is empty")
        let outer = Tensor.product(Array(shape[..<a])), inner = Tensor.product(Array(shape[(a + 1)...]))
        var values = [Float](repeating: 0, count: outer * inner)
        var indices = [Int](repeating: 0, count: outer * inner)
        let src = c.storage.base + c.offset
        withExtendedLifetime(c.storage) {
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = src[o * n * inner + i], bi = 0
                    for j in 1..<n {
                        let v = src[(o * n + j) * inner + i]
                        if isMax ? (v > best || (best.isNaN == false && v.isNaN)) : (v < best || (best.isNaN == false && v.isNaN)) {
                            best = v; bi = j
                        }
                    }
                    values[o * inner + i] = best
                    indices[o * inner + i] = bi
                }
            }
        }
        return (values, indices)
    }

    func extremum(axis ax: Int, keep: Bool, isMax: Bool) -> Tensor {
        let a = axis(ax, op: isMax ? "max" : "min")
        let (values, indices) = argExtremum(axis: a, isMax: isMax)
        var keptShape = shape; keptShape[a] = 1
        var outShape = shape; outShape.remove(at: a)
        var out = Tensor(shape: keep ? keptShape : outShape, scalars: values)
        let inShape = shape, n = shape[a]
        let inner = Tensor.product(Array(shape[(a + 1)...]))
        out.record([self]) { g in
            let gc = g.contiguous().scalars
            var dx = [Float](repeating: 0, count: Tensor.product(inShape))
            for (k, j) in indices.enumerated() {
                let o = k / inner, i = k % inner
                dx[(o * n + j) * inner + i] += gc[k]
            }
            return [Tensor(shape: inShape, scalars: dx)]
        }
        return out
    }

}

// MARK: - Softmax and normalisation

extension Tensor {
    /// Runs `rowKernel(src, dst, n)` over every row of the last axis, in parallel for large inputs.
    func mapRows(costPerElement: Int = 4, _ rowKernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let c = contiguous()
        let out = Tensor(uninitializedShape: shape)
        let n = rank == 0 ? 1 : shape[rank - 1]
        let rows = count / Swift.max(n, 1)
        let src = c.storage.base + c.offset, dst = out.storage.base
        withExtendedLifetime(c.storage) {
            Threading.parallelRanges(rows, costPerItem: n * costPerElement) { r in
                for row in r { rowKernel(src + row * n, dst + row * n, n) }
            }
        }
        return out
    }

    /// Moves `axis` last, applies `f`, moves it back.
    func alongLastAxis(_ ax: Int, op: String, _ f: (Tensor) -> Tensor) -> Tensor {
        let a = axis(ax, op: op)
        if a == rank - 1 { return f(self) }
        var perm = Array(0..<rank); perm.swapAt(a, rank - 1)
        return f(permuted(perm)).permuted(perm)
    }

    static func softmaxRow(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = FastMath.max(s, n)
        if m == -.infinity { m = 0 }
        let total = FastMath.expShiftedSum(s, d, n, shift: m)
        let inv = V(repeating: 1 / total)
        FastMath.map(d, d, n) { $0 * inv }
    }

    /// Softmax along `axis` (default last).
    public func softmax(axis ax: Int = -1) -> Tensor {
        alongLastAxis(ax, op: "softmax") { x in
            var y = x.mapRows(Tensor.softmaxRow)
            let yd = y
            y.record([x]) { g in
                let dot = (g * yd).sum(axes: [-1], keepingDimensions: true)
                return [yd * (g - dot)]
            }
            return y
        }
    }

    /// log-softmax along `axis` (default last).
    public func logSoftmax(axis ax: Int = -1) -> Tensor {
        alongLastAxis(ax, op: "logSoftmax") { x in
            var y = x.mapRows { s, d, n in
                var m = FastMath.max(s, n)
                if m == -.infinity { m = 0 }
                let lse = m + Foundation.log(FastMath.expShiftedSum(s, d, n, shift: m))
                let lv = V(repeating: lse)
                FastMath.map(s, d, n) { $0 - lv }
            }
            let yd = y
            y.record([x]) { g in
                [g - yd.exp() * g.sum(axes: [-1], keepingDimensions: true)]
            }
            return y
        }
    }

    /// Layer normalisation over the last axis: (x − mean)/√(var + eps)·weight + bias.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        let n = shape.last ?? 1
        if let weight { checkPrecondition(weight.shape == [n], "layerNorm: weight shape \(weight.shape) does not match last axis of \(shape)") }
        if let bias { checkPrecondition(bias.shape == [n], "layerNorm: bias shape \(bias.shape) does not match last axis of \(shape)") }
        var xhat = mapRows { s, d, n in
            let mean = FastMath.sum(s, n) / Float(n)
            let mv = V(repeating: mean)
            FastMath.map(s, d, n) { $0 - mv }
            let variance = FastMath.dot(d, d, n) / Float(n)
            let r = V(repeating: 1 / (variance + eps).squareRoot())
            FastMath.map(d, d, n) { $0 * r }
        }
        let x = detached(), xh = xhat
        var out = xhat
        if let weight { out = Tensor.broadcastMap(out, weight, op: "layerNorm") { $0 * $1 } }
        if let bias { out = Tensor.broadcastMap(out, bias, op: "layerNorm") { $0 + $1 } }
        xhat.node = nil
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        out.record(inputs) { g in
            let rows = Array(0..<(x.rank - 1))
            var grads: [Tensor?] = []
            let dxh = weight.map { g * $0.detached() } ?? g
            let mean = x.mean(axes: [-1], keepingDimensions: true)
            let rstd = ((x - mean).squared().mean(axes: [-1], keepingDimensions: true) + eps).rsqrt()
            let dx = rstd * (dxh - dxh.mean(axes: [-1], keepingDimensions: true)
                                  - xh * (dxh * xh).mean(axes: [-1], keepingDimensions: true))
            grads.append(dx)
            if weight != nil { grads.append((g * xh).sum(axes: rows)) }
            if bias != nil { grads.append(g.sum(axes: rows)) }
            return grads
        }
        return out
    }

    /// RMS normalisation over the last axis: x/√(mean(x²) + eps)·weight (one pass per row).
    public func rmsNorm(weight: Tensor?, eps: Float) -> Tensor {
        let n = shape.last ?? 1
        if let weight { checkPrecondition(weight.shape == [n], "rmsNorm: weight shape \(weight.shape) does not match last axis of \(shape)") }
        let wc = weight?.contiguous()
        var out = withExtendedLifetime(wc?.storage) { () -> Tensor in
            let wp = wc.map { UnsafePointer($0.storage.base + $0.offset) }
            return mapRows { s, d, n in
                let ms = FastMath.dot(s, s, n) / Float(n)
                let r = V(repeating: 1 / (ms + eps).squareRoot())
                if let wp {
                    FastMath.zip(s, wp, d, n) { $0 * r * $1 }
                } else {
                    FastMath.map(s, d, n) { $0 * r }
                }
            }
        }
        let x = detached()
        out.record(weight.map { [self, $0] } ?? [self]) { g in
            let rows = Array(0..<(x.rank - 1))
            let dxh = weight.map { g * $0.detached() } ?? g
            let rstd = (x.squared().mean(axes: [-1], keepingDimensions: true) + eps).rsqrt()
            let xhat = x * rstd
            let dx = rstd * (dxh - xhat * (dxh * xhat).mean(axes: [-1], keepingDimensions: true))
            return weight == nil ? [dx] : [dx, (g * xhat).sum(axes: rows)]
        }
        return out
    }
}

// MARK: - Shape operations

extension Tensor {
    /// Reshape without autodiff (views when dense).
    func reshapedRaw(_ newShape: [Int]) -> Tensor {
        let c = contiguous()
        var v = Tensor(storage: c.storage, shape: newShape, offset: c.offset)
        v.node = nil
        return v
    }

    /// The same elements in a new shape; one dimension may be −1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            checkPrecondition(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) into \(newShape)")
            target[i] = count / known
        }
        checkPrecondition(Tensor.product(target) == count, "reshape: cannot reshape \(shape) (\(count) elements) into \(newShape)")
        var out = reshapedRaw(target)
        let inShape = shape
        out.record([self]) { g in [g.reshaped(inShape)] }
        return out
    }

    /// Reorders the axes (a view; no copy).
    public func permuted(_ order: [Int]) -> Tensor {
        checkPrecondition(order.count == rank && Set(order) == Set(0..<rank), "permute: \(order) is not a permutation of the axes of \(shape)")
        var v = self
        v.shape = order.map { shape[$0] }
        v.strides = order.map { strides[$0] }
        v.node = nil
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        v.record([self]) { g in [g.permuted(inverse)] }
        return v
    }

    /// Swaps two axes (default: the last two). A view.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var perm = Array(0..<rank)
        perm.swapAt(axis(a, op: "transpose"), axis(b, op: "transpose"))
        return permuted(perm)
    }

    /// Elements `range` along `axis` (a view; no copy).
    public func slice(axis ax: Int, _ range: Range<Int>) -> Tensor {
        let a = axis(ax, op: "slice")
        checkPrecondition(range.lowerBound >= 0 && range.upperBound <= shape[a],
                     "slice: range \(range) out of bounds for axis \(a) of shape \(shape)")
        var v = self
        v.shape[a] = range.count
        v.offset = offset + range.lowerBound * strides[a]
        v.node = nil
        let inShape = shape
        v.record([self]) { g in
            var parts: [Tensor] = []
            if range.lowerBound > 0 { var s = inShape; s[a] = range.lowerBound; parts.append(.zeros(s)) }
            parts.append(g)
            if range.upperBound < inShape[a] { var s = inShape; s[a] = inShape[a] - range.upperBound; parts.append(.zeros(s)) }
            return [Tensor.concatenate(parts, axis: a)]
        }
        return v
    }

    /// The sub-tensor at `index` along `axis`, with that axis removed (a view).
    public func select(axis ax: Int = 0, _ index: Int) -> Tensor {
        let a = axis(ax, op: "select")
        let i = index < 0 ? index + shape[a] : index
        var s = shape; s.remove(at: a)
        return slice(axis: a, i..<(i + 1)).squeezed(axis: a, to: s)
    }

    func squeezed(axis a: Int, to s: [Int]) -> Tensor {
        var v = self
        v.shape = s
        v.strides.remove(at: a)
        v.node = nil
        let inShape = shape
        v.record([self]) { g in [g.reshaped(inShape)] }
        return v
    }

    /// Inserts an axis of size 1.
    public func unsqueezed(axis ax: Int) -> Tensor {
        let a = ax < 0 ? ax + rank + 1 : ax
        var s = shape; s.insert(1, at: a)
        return reshaped(s)
    }

    /// Materialises the broadcast of this tensor to `target`.
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        var out = expandedView(to: target).contiguous()
        out.node = nil
        let inShape = shape
        out.record([self]) { g in [g.summed(toShape: inShape)] }
        return out
    }

    /// Joins tensors along an existing axis.
    public static func concatenate(_ parts: [Tensor], axis ax: Int) -> Tensor {
        checkPrecondition(!parts.isEmpty, "concatenate: no tensors")
        let first = parts[0]
        let a = first.axis(ax, op: "concatenate")
        for p in parts {
            checkPrecondition(p.rank == first.rank && p.shape.enumerated().allSatisfy { $0.offset == a || $0.element == first.shape[$0.offset] },
                         "concatenate: shapes \(parts.map(\.shape)) differ outside axis \(a)")
        }
        var outShape = first.shape
        outShape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        var out = Tensor(uninitializedShape: outShape)
        let outer = Tensor.product(Array(outShape[..<a]))
        let inner = Tensor.product(Array(outShape[(a + 1)...]))
        let outRow = outShape[a] * inner
        var start = 0
        for p in parts {
            let c = p.contiguous()
            let w = p.shape[a] * inner
            let src = c.storage.base + c.offset
            withExtendedLifetime(c.storage) {
                for o in 0..<outer { (out.storage.base + o * outRow + start).update(from: src + o * w, count: w) }
            }
            start += w
        }
        let sizes = parts.map { $0.shape[a] }
        out.record(parts) { g in
            var lo = 0
            return sizes.map { s in defer { lo += s }; return g.slice(axis: a, lo..<(lo + s)) }
        }
        return out
    }

    /// Joins tensors of equal shape along a new axis.
    public static func stack(_ parts: [Tensor], axis ax: Int = 0) -> Tensor {
        checkPrecondition(!parts.isEmpty, "stack: no tensors")
        let a = ax < 0 ? ax + parts[0].rank + 1 : ax
        return concatenate(parts.map { $0.unsqueezed(axis: a) }, axis: a)
    }

    /// Rows (or slices) at `indices` along `axis`: `x[indices]` for axis 0 (embedding lookup).
    public func indexSelect(_ indices: [Int], axis ax: Int = 0) -> Tensor {
        let a = axis(ax, op: "indexSelect")
        let n = shape[a]
        for i in indices { checkPrecondition(i >= 0 && i < n, "indexSelect: index \(i) out of range 0..<\(n) for axis \(a) of shape \(shape)") }
        let c = contiguous()
        let outer = Tensor.product(Array(shape[..<a])), inner = Tensor.product(Array(shape[(a + 1)...]))
        var outShape = shape; outShape[a] = indices.count
        var out = Tensor(uninitializedShape: outShape)
        let src = c.storage.base + c.offset, dst = out.storage.base
        withExtendedLifetime(c.storage) {
            for o in 0..<outer {
                for (k, i) in indices.enumerated() {
                    (dst + (o * indices.count + k) * inner).update(from: src + (o * n + i) * inner, count: inner)
                }
            }
        }
        let inShape = shape
        out.record([self]) { g in
            let gc = g.contiguous()
            var dx = Tensor.zeros(inShape)
            let gp = gc.storage.base + gc.offset, dp = dx.storage.base
            withExtendedLifetime(gc.storage) {
                for o in 0..<outer {
                    for (k, i) in indices.enumerated() {
                        FastMath.zip(dp + (o * n + i) * inner, gp + (o * indices.count + k) * inner, dp + (o * n + i) * inner, inner) { $0 + $1 }
                    }
                }
            }
            dx.node = nil
            return [dx]
        }
        return out
    }

    /// For an input of shape [..., C], picks `indices[r]` from each row r of the last axis: shape [...].
    public func gatherLast(_ indices: [Int]) -> Tensor {
        let n = shape.last ?? 1
        let rows = count / Swift.max(n, 1)
        checkPrecondition(indices.count == rows, "gatherLast: \(indices.count) indices for \(rows) rows of shape \(shape)")
        let c = contiguous()
        var values = [Float](repeating: 0, count: rows)
        for (r, i) in indices.enumerated() {
            checkPrecondition(i >= 0 && i < n, "gatherLast: index \(i) out of range 0..<\(n)")
            values[r] = c.storage.base[c.offset + r * n + i]
        }
        var out = Tensor(shape: Array(shape.dropLast()), scalars: values)
        let inShape = shape
        out.record([self]) { g in
            let gs = g.contiguous().scalars
            var dx = [Float](repeating: 0, count: rows * n)
            for (r, i) in indices.enumerated() { dx[r * n + i] = gs[r] }
            return [Tensor(shape: inShape, scalars: dx)]
        }
        return out
    }

    /// Embedding lookup: rows of `table` ([vocab, d]) at `ids`, shape [ids.count, d].
    public static func embedding(_ table: Tensor, ids: [Int]) -> Tensor {
        checkPrecondition(table.rank == 2, "embedding: table must be 2-D, got shape \(table.shape)")
        return table.indexSelect(ids, axis: 0)
    }
}

// MARK: - Matrix products

extension Tensor {
    /// How BLAS can read the last two axes of a tensor without copying.
    struct MatrixLayout { let transposed: Bool; let ld: Int }

    static func matrixLayout(rows r: Int, cols c: Int, rowStride sr: Int, colStride sc: Int) -> MatrixLayout? {
        if sc == 1 && (r == 1 || sr >= Swift.max(c, 1)) { return MatrixLayout(transposed: false, ld: r == 1 ? Swift.max(c, 1) : sr) }
        if sr == 1 && (c == 1 || sc >= Swift.max(r, 1)) { return MatrixLayout(transposed: true, ld: c == 1 ? Swift.max(r, 1) : sc) }
        return nil
    }

    /// Matrix product over the last two axes, with NumPy batch broadcasting of the leading axes.
    /// Transposed views are passed to `cblas_sgemm` as transposes (no copy).
    public func matmul(_ b: Tensor) -> Tensor {
        let a = self
        checkPrecondition(a.rank >= 2 && b.rank >= 2, "matmul: operands must be at least 2-D, got \(a.shape) and \(b.shape)")
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
        let k2 = b.shape[b.rank - 2], n = b.shape[b.rank - 1]
        checkPrecondition(k == k2, "matmul: inner dimensions differ: \(a.shape) × \(b.shape)")
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        guard let batch = Tensor.broadcastShape(batchA, batchB) else {
            fatalError("matmul: batch dimensions of \(a.shape) and \(b.shape) cannot be broadcast")
        }
        // sgemm with β = 0 overwrites the output, so it starts uninitialised (zeros only when k = 0).
        var out = k == 0 ? Tensor.zeros(batch + [m, n]) : Tensor(uninitializedShape: batch + [m, n])
        if out.count > 0 && k > 0 {
            Threading.ensureConfigured()
            // Fast path: b is one matrix and a's batch folds into rows.
            if batchB.isEmpty, !batchA.isEmpty, a.isContiguous {
                Tensor.gemm(a.reshapedRaw([Tensor.product(batchA) * m, k]), b, into: out.storage.base, m: Tensor.product(batchA) * m, n: n, k: k)
            } else {
                let ea = a.expandedView(to: batch + [m, k]), eb = b.expandedView(to: batch + [k, n])
                let la = Tensor.matrixLayout(rows: m, cols: k, rowStride: ea.strides[ea.rank - 2], colStride: ea.strides[ea.rank - 1])
                let lb = Tensor.matrixLayout(rows: k, cols: n, rowStride: eb.strides[eb.rank - 2], colStride: eb.strides[eb.rank - 1])
                let A = la == nil ? ea.contiguous() : ea
                let B = lb == nil ? eb.contiguous() : eb
                let count = Tensor.product(batch)
                for bi in 0..<count {
                    var oa = A.offset, ob = B.offset, rem = bi
                    for ax in stride(from: batch.count - 1, through: 0, by: -1) {
                        let i = rem % batch[ax]; rem /= batch[ax]
                        oa += i * A.strides[ax]; ob += i * B.strides[ax]
                    }
                    Tensor.gemmRaw(A, offset: oa, B, offset: ob, into: out.storage.base + bi * m * n, m: m, n: n, k: k)
                }
            }
        }
        let ad = a.detached(), bd = b.detached()
        out.record([a, b]) { g in
            let ga: Tensor? = a.node != nil ? g.matmul(bd.transposed()).summed(toShape: ad.shape) : nil
            var gb: Tensor? = nil
            if b.node != nil {
                if bd.rank == 2 && ad.rank > 2 {
                    // One weight shared by the batch: fold the batch into rows (one product, no per-batch sum).
                    let rows = ad.count / k
                    gb = ad.contiguous().reshaped([rows, k]).transposed().matmul(g.contiguous().reshaped([rows, n]))
                } else {
                    gb = ad.transposed().matmul(g).summed(toShape: bd.shape)
                }
            }
            return [ga, gb]
        }
        return out
    }

    /// C[m,n] = A[m,k]·B[k,n] for 2-D views.
    static func gemm(_ A: Tensor, _ B: Tensor, into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int) {
        let a = matrixLayout(rows: m, cols: k, rowStride: A.strides[0], colStride: A.strides[1]) == nil ? A.contiguous() : A
        let b = matrixLayout(rows: k, cols: n, rowStride: B.strides[B.rank - 2], colStride: B.strides[B.rank - 1]) == nil ? B.contiguous() : B
        gemmRaw(a, offset: a.offset, b, offset: b.offset, into: c, m: m, n: n, k: k)
    }

    static func gemmRaw(_ A: Tensor, offset oa: Int, _ B: Tensor, offset ob: Int, into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int) {
        let la = matrixLayout(rows: m, cols: k, rowStride: A.strides[A.rank - 2], colStride: A.strides[A.rank - 1])!
        let lb = matrixLayout(rows: k, cols: n, rowStride: B.strides[B.rank - 2], colStride: B.strides[B.rank - 1])!
        if m == 1 {
            // A single row (a decode step): y = Bᵀ·x with sgemv, which does not re-pack B.
            let incX = la.transposed ? la.ld : 1
            withExtendedLifetime((A.storage, B.storage)) {
                // B as stored is [k, n] (row-major, ld) or, transposed, [n, k].
                cblas_sgemv(CblasRowMajor, lb.transposed ? CblasNoTrans : CblasTrans,
                            lb.transposed ? Int32(n) : Int32(k), lb.transposed ? Int32(k) : Int32(n), 1,
                            B.storage.base + ob, Int32(lb.ld), A.storage.base + oa, Int32(incX), 0, c, 1)
            }
            return
        }
        withExtendedLifetime((A.storage, B.storage)) {
            cblas_sgemm(CblasRowMajor,
                        la.transposed ? CblasTrans : CblasNoTrans,
                        lb.transposed ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), 1,
                        A.storage.base + oa, Int32(la.ld),
                        B.storage.base + ob, Int32(lb.ld),
                        0, c, Int32(Swift.max(n, 1)))
        }
    }
}

// MARK: - Attention helpers

/// Pairing of dimensions rotated together by RoPE.
public enum RoPELayout: String, Sendable, Codable {
    /// Dimension i pairs with i + d/2 (Hugging Face `rotate_half`).
    case halves
    /// Dimension 2i pairs with 2i + 1 (GPT-J / llama.cpp "normal" mode).
    case interleaved
}

extension Tensor {
    /// Rotary position embedding over the last axis of a [..., seq, headDim] tensor; angle of
    /// pair p at position t is t·base^(−2p/headDim) (computed in Float as Hugging Face does).
    public func rope(positions: [Int], base: Float, layout: RoPELayout = .halves) -> Tensor {
        checkPrecondition(rank >= 2, "rope: expected [..., seq, headDim], got \(shape)")
        let seq = shape[rank - 2], d = shape[rank - 1]
        checkPrecondition(d % 2 == 0, "rope: head dimension \(d) must be even")
        checkPrecondition(positions.count == seq, "rope: \(positions.count) positions for sequence length \(seq)")
        let half = d / 2
        var cosT = [Float](repeating: 0, count: seq * half), sinT = cosT
        for (t, pos) in positions.enumerated() {
            for p in 0..<half {
                let invFreq = 1 / Foundation.pow(base, Float(2 * p) / Float(d))
                let angle = Float(pos) * invFreq
                cosT[t * half + p] = Float(Foundation.cos(Double(angle)))
                sinT[t * half + p] = Float(Foundation.sin(Double(angle)))
            }
        }
        var out = ropeApply(cosT, sinT, sign: 1, layout: layout)
        out.record([self]) { g in [g.ropeApply(cosT, sinT, sign: -1, layout: layout)] }
        return out
    }

    func ropeApply(_ cosT: [Float], _ sinT: [Float], sign: Float, layout: RoPELayout) -> Tensor {
        let seq = shape[rank - 2], d = shape[rank - 1], half = d / 2
        let c = contiguous()
        let out = Tensor(uninitializedShape: shape)
        let src = c.storage.base + c.offset, dst = out.storage.base
        let mats = count / (seq * d)
        withExtendedLifetime(c.storage) {
            cosT.withUnsafeBufferPointer { cp in
                sinT.withUnsafeBufferPointer { sp in
                    for mIdx in 0..<mats {
                        for t in 0..<seq {
                            let row = (mIdx * seq + t) * d
                            for p in 0..<half {
                                let (i, j) = layout == .halves ? (p, p + half) : (2 * p, 2 * p + 1)
                                let cs = cp[t * half + p], sn = sign * sp[t * half + p]
                                let x1 = src[row + i], x2 = src[row + j]
                                dst[row + i] = x1 * cs - x2 * sn
                                dst[row + j] = x1 * sn + x2 * cs
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Sets entries above the causal diagonal of the last two axes [..., query, key] to −∞:
    /// key j is visible from query i when j ≤ i + (keys − queries).
    public func causallyMasked() -> Tensor {
        checkPrecondition(rank >= 2, "causallyMasked: expected [..., query, key], got \(shape)")
        let q = shape[rank - 2], k = shape[rank - 1], shift = k - q
        let c = contiguous()
        var out = Tensor(uninitializedShape: shape)
        let src = c.storage.base + c.offset, dst = out.storage.base
        let mats = count / Swift.max(q * k, 1)
        withExtendedLifetime(c.storage) {
            for mIdx in 0..<mats {
                for i in 0..<q {
                    let row = (mIdx * q + i) * k
                    let visible = Swift.max(0, Swift.min(k, i + shift + 1))
                    (dst + row).update(from: src + row, count: visible)
                    (dst + row + visible).initialize(repeating: -.infinity, count: k - visible)
                }
            }
        }
        out.record([self]) { g in [g.causallyMaskedGradient()] }
        return out
    }

    func causallyMaskedGradient() -> Tensor {
        let q = shape[rank - 2], k = shape[rank - 1], shift = k - q
        var out = contiguous().detached()
        out.withUnsafeMutableBufferPointer { b in
            for mIdx in 0..<(count / Swift.max(q * k, 1)) {
                for i in 0..<q {
                    let visible = Swift.max(0, Swift.min(k, i + shift + 1))
                    for j in visible..<k { b[(mIdx * q + i) * k + j] = 0 }
                }
            }
        }
        return out
    }

    /// The k largest values along the last axis (descending, first index on ties) and their indices.
    public func topK(_ k: Int) -> (values: Tensor, indices: [Int]) {
        let n = shape.last ?? 1
        checkPrecondition(k >= 0 && k <= n, "topK: k = \(k) out of range for last axis of size \(n)")
        let c = contiguous()
        let rows = count / Swift.max(n, 1)
        var values = [Float](), indices = [Int]()
        values.reserveCapacity(rows * k); indices.reserveCapacity(rows * k)
        withExtendedLifetime(c.storage) {
            let src = c.storage.base + c.offset
            for r in 0..<rows {
                let row = src + r * n
                var order = Array(0..<n)
                order.sort { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
                for i in order.prefix(k) { values.append(row[i]); indices.append(i) }
            }
        }
        return (Tensor(shape: Array(shape.dropLast()) + [k], scalars: values), indices)
    }
}
