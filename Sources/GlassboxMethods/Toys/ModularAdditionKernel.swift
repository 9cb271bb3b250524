import CBLAS
import Foundation
import GlassboxTensor

/// The modular-addition transformer's training epoch written out by hand (arXiv 2301.05217's
/// one-layer architecture): the forward pass, the backward pass and AdamW over one flat
/// parameter buffer, with every buffer allocated once.
///
/// Only the "=" position is trained and there is one layer, so everything that depends on a
/// token alone is computed once per (token, position) row of a (2p + 1)-row table: keys,
/// values, the per-head output of attention (OV) and — because the MLP input is linear in
/// the attention output — its image under W_in. Per example the pre-activations are then the
/// attention-weighted sum of 3 × heads table rows instead of a [d_model → d_mlp] product,
/// which removes the largest product of the forward pass and two of the backward pass. The
/// MLP output reaches the logits through W_U·W_out [p, d_mlp] (p < d_model), so the three
/// remaining [batch × d_mlp] products have inner size p. The
/// same function and gradients as `referenceForward` under autodiff (checked in the tests);
/// only the order of floating-point sums differs.
final class ModularAdditionKernel {
    typealias Configuration = ModularAdditionTransformer.Configuration
    let c: Configuration
    let p: Int, d: Int, h: Int, dh: Int, hd: Int, m: Int, r: Int
    /// Offsets of the parameters (in `Configuration.shapes` order) in the flat buffers.
    let offsets: [Int]
    let total: Int
    let capacity: Int
    let w: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>
    let adamM: UnsafeMutablePointer<Float>, adamV: UnsafeMutablePointer<Float>
    private(set) var stepCount = 0
    // tables, one row per (token, position): a at 0 (rows 0..<p), b at 1 (p..<2p), "=" at 2 (row 2p)
    let table, keys, values, scores, ov, mlpTable, basePre, query: UnsafeMutablePointer<Float>
    /// W_U · W_out [p, d_mlp]: the logits are (resid + b_out)·W_Uᵀ + neurons·(W_U W_out)ᵀ.
    let unembedOut: UnsafeMutablePointer<Float>
    // per example
    /// `out` is the residual stream after attention plus b_out (the MLP's output enters the
    /// logits through `unembedOut`).
    let pattern, neurons, out, logits, rowLoss, ones: UnsafeMutablePointer<Float>
    let rows: UnsafeMutablePointer<Int32>
    // backward
    let dOut, dPre, dPattern, dUnembedOut, dMLPTable, dOV, dScores, dValues, dKeys, dTable, dQuery, dLast, sumPre: UnsafeMutablePointer<Float>
    var allocations: [UnsafeMutablePointer<Float>] = []

    init(_ configuration: Configuration, parameters: [Tensor], capacity: Int) {
        c = configuration
        p = c.p; d = c.dModel; h = c.heads; dh = c.dHead; hd = c.heads * c.dHead; m = c.dMLP; r = 2 * c.p + 1
        self.capacity = capacity
        var o: [Int] = [], n = 0
        for (_, shape) in c.shapes { o.append(n); n += shape.reduce(1, *) }
        offsets = o; total = n
        func alloc(_ count: Int) -> UnsafeMutablePointer<Float> {
            let b = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            b.initialize(repeating: 0, count: max(count, 1))
            return b
        }
        let (p, d, h, hd, m, r) = (p, d, h, hd, m, r)
        w = alloc(n); g = alloc(n); adamM = alloc(n); adamV = alloc(n)
        table = alloc(r * d); keys = alloc(r * hd); values = alloc(r * hd); scores = alloc(r * h)
        ov = alloc(r * h * d); mlpTable = alloc(r * h * m); basePre = alloc(m); query = alloc(hd)
        unembedOut = alloc(p * m); dUnembedOut = alloc(p * m)
        pattern = alloc(capacity * 3 * h); neurons = alloc(capacity * m)
        out = alloc(capacity * d); logits = alloc(capacity * p); rowLoss = alloc(capacity); ones = alloc(capacity)
        ones.update(repeating: 1, count: capacity)
        rows = UnsafeMutablePointer<Int32>.allocate(capacity: capacity * 3)
        dOut = alloc(capacity * d); dPre = alloc(capacity * m); dPattern = alloc(capacity * 3 * h)
        dMLPTable = alloc(r * h * m); dOV = alloc(r * h * d); dScores = alloc(r * h); dValues = alloc(r * hd)
        dKeys = alloc(r * hd); dTable = alloc(r * d); dQuery = alloc(hd); dLast = alloc(d); sumPre = alloc(m)
        allocations = [w, g, adamM, adamV, table, keys, values, scores, ov, mlpTable, basePre, query, unembedOut,
                       dUnembedOut, pattern, neurons, out, rowLoss, ones, logits, dOut, dPre, dPattern, dMLPTable, dOV, dScores, dValues, dKeys, dTable,
                       dQuery, dLast, sumPre]
        setParameters(parameters)
    }

    deinit {
        for b in allocations { b.deallocate() }
        rows.deallocate()
    }

    func setParameters(_ parameters: [Tensor]) {
        for (i, t) in parameters.enumerated() {
            let dst = w + offsets[i]
            t.contiguous().withUnsafeBufferPointer { src in for j in 0..<src.count { dst[j] = src[j] } }
        }
    }

    /// The parameters (or the last gradients) as tensors in `Configuration.shapes` order.
    func tensors(gradients: Bool = false) -> [Tensor] {
        let base = gradients ? g : w
        return c.shapes.enumerated().map { i, s in
            Tensor(shape: s.1) { dst in for j in 0..<dst.count { dst[j] = base[offsets[i] + j] } }
        }
    }

    var sumOfSquaredWeights: Float {
        var s: Float = 0
        for j in 0..<total { s += w[j] * w[j] }
        return s
    }

    // MARK: Forward

    /// Logits for `pairs` (at most `capacity`) into `logits`; keeps what the backward pass needs.
    func forward(_ pairs: [(Int, Int)]) {
        let n = pairs.count
        precondition(n <= capacity, "ModularAdditionKernel: \(n) pairs, capacity \(capacity)")
        let (p, d, h, dh, hd, m, r) = (p, d, h, dh, hd, m, r)
        let wE = w + offsets[0], wPos = w + offsets[1], wQ = w + offsets[2], wK = w + offsets[3], wV = w + offsets[4]
        let wO = w + offsets[5], wIn = w + offsets[6], bIn = w + offsets[7], wOut = w + offsets[8], bOut = w + offsets[9]
        let wU = w + offsets[10]
        for a in 0..<p {
            for j in 0..<d {
                table[a * d + j] = wE[a * d + j] + wPos[j]
                table[(p + a) * d + j] = wE[a * d + j] + wPos[d + j]
            }
        }
        let last = table + 2 * p * d
        for j in 0..<d { last[j] = wE[p * d + j] + wPos[2 * d + j] }
        gemm(false, true, r, hd, d, 1, table, d, wK, d, 0, keys, hd)
        gemm(false, true, r, hd, d, 1, table, d, wV, d, 0, values, hd)
        gemm(false, true, 1, hd, d, 1, last, d, wQ, d, 0, query, hd)
        let scale = Float(1 / Double(dh).squareRoot())
        for row in 0..<r {
            for head in 0..<h {
                var s: Float = 0
                for j in 0..<dh { s += keys[row * hd + head * dh + j] * query[head * dh + j] }
                scores[row * h + head] = s * scale
            }
        }
        for head in 0..<h {  // ov[row, head, :] = W_O[:, head] · v[row, head]
            gemm(false, true, r, d, dh, 1, values + head * dh, hd, wO + head * dh, hd, 0, ov + head * d, h * d)
        }
        gemm(false, true, r * h, m, d, 1, ov, d, wIn, d, 0, mlpTable, m)
        gemm(false, true, 1, m, d, 1, last, d, wIn, d, 0, basePre, m)
        for k in 0..<m { basePre[k] += bIn[k] }

        for (e, (a, b)) in pairs.enumerated() {
            rows[3 * e] = Int32(a); rows[3 * e + 1] = Int32(p + b); rows[3 * e + 2] = Int32(2 * p)
        }
        do {
            nonisolated(unsafe) let (pattern, neurons, out, rowsP, ov, mlpTable, scores, basePre) =
                (self.pattern, self.neurons, self.out, self.rows, self.ov, self.mlpTable, self.scores, self.basePre)
            nonisolated(unsafe) let lastP = last, bOutP = bOut
            Threading.parallelRanges(n, costPerItem: 12 * (m + d)) { range in
                let last = lastP, bOut = bOutP
                for e in range {
                    let pat = pattern + e * 3 * h
                    for head in 0..<h {
                        let s0 = scores[Int(rowsP[3 * e]) * h + head], s1 = scores[Int(rowsP[3 * e + 1]) * h + head]
                        let s2 = scores[Int(rowsP[3 * e + 2]) * h + head]
                        let mx = Swift.max(s0, s1, s2)
                        let e0 = Foundation.exp(s0 - mx), e1 = Foundation.exp(s1 - mx), e2 = Foundation.exp(s2 - mx)
                        let z = e0 + e1 + e2
                        pat[head] = e0 / z; pat[h + head] = e1 / z; pat[2 * h + head] = e2 / z
                    }
                    let pre = neurons + e * m, o = out + e * d
                    for j in 0..<d { o[j] = last[j] + bOut[j] }
                    for k in 0..<m { pre[k] = basePre[k] }
                    for pos in 0..<3 {
                        let row = Int(rowsP[3 * e + pos])
                        for head in 0..<h {
                            let coef = pat[pos * h + head]
                            axpy(d, coef, ov + (row * h + head) * d, o)
                            axpy(m, coef, mlpTable + (row * h + head) * m, pre)
                        }
                    }
                    for k in 0..<m where !(pre[k] > 0) { pre[k] = 0 }
                }
            }
        }
        gemm(false, false, p, m, d, 1, wU, d, wOut, m, 0, unembedOut, m)
        gemm(false, true, n, p, d, 1, out, d, wU, d, 0, logits, p)
        gemm(false, true, n, p, m, 1, neurons, m, unembedOut, m, 1, logits, p)
    }

    /// Mean cross-entropy and accuracy of the logits from the last `forward` against (a + b) mod p.
    func lossAndAccuracy(_ pairs: [(Int, Int)]) -> (loss: Float, accuracy: Float) {
        var loss: Double = 0
        var correct = 0
        for (e, (a, b)) in pairs.enumerated() {
            let l = logits + e * p, t = (a + b) % p
            var mx = l[0], arg = 0
            for k in 1..<p where l[k] > mx { mx = l[k]; arg = k }
            var z: Float = 0
            for k in 0..<p { z += Foundation.exp(l[k] - mx) }
            loss += Double(mx + Foundation.log(z) - l[t])
            if arg == t { correct += 1 }
        }
        let n = max(1, pairs.count)
        return (Float(loss / Double(n)), Float(correct) / Float(n))
    }

    // MARK: Backward

    /// The mean cross-entropy of `pairs` and its gradient into `g`.
    @discardableResult
    func lossAndGradient(_ pairs: [(Int, Int)]) -> Float {
        forward(pairs)
        let n = pairs.count
        let (p, d, h, dh, hd, m, r) = (p, d, h, dh, hd, m, r)
        let wQ = w + offsets[2], wK = w + offsets[3], wV = w + offsets[4], wO = w + offsets[5], wIn = w + offsets[6]
        let wOut = w + offsets[8], wU = w + offsets[10]
        let gE = g + offsets[0], gPos = g + offsets[1], gQ = g + offsets[2], gK = g + offsets[3], gV = g + offsets[4]
        let gO = g + offsets[5], gIn = g + offsets[6], gBIn = g + offsets[7], gOut = g + offsets[8], gBOut = g + offsets[9]
        let gU = g + offsets[10]
        let last = table + 2 * p * d

        // d loss / d logits = (softmax − onehot) / N, in place (rows in parallel, the loss
        // summed in row order afterwards)
        let invN = 1 / Float(n)
        do {
            nonisolated(unsafe) let (logitsP, rowLossP, rowsP) = (logits, rowLoss, rows)
            Threading.parallelRanges(n, costPerItem: 8 * p) { range in
                for e in range {
                    let l = logitsP + e * p, t = (Int(rowsP[3 * e]) + Int(rowsP[3 * e + 1]) - p) % p
                    var mx = l[0]
                    for k in 1..<p where l[k] > mx { mx = l[k] }
                    var z: Float = 0
                    for k in 0..<p { let x = Foundation.exp(l[k] - mx); l[k] = x; z += x }
                    rowLossP[e] = -Foundation.log(l[t] / z)
                    let s = invN / z
                    for k in 0..<p { l[k] *= s }
                    l[t] -= invN
                }
            }
        }
        var loss: Double = 0
        for e in 0..<n { loss += Double(rowLoss[e]) }
        gemm(false, false, n, d, p, 1, logits, p, wU, d, 0, dOut, d)
        gemm(false, false, n, m, p, 1, logits, p, unembedOut, m, 0, dPre, m)
        gemm(true, false, p, m, n, 1, logits, p, neurons, m, 0, dUnembedOut, m)
        gemm(true, false, p, d, n, 1, logits, p, out, d, 0, gU, d)
        gemm(false, true, p, d, m, 1, dUnembedOut, m, wOut, m, 1, gU, d)
        gemm(true, false, d, m, p, 1, wU, d, dUnembedOut, m, 0, gOut, m)
        do {
            nonisolated(unsafe) let (dPreP, neuronsP) = (dPre, neurons)
            Threading.parallelRanges(n * m, costPerItem: 1) { range in
                for i in range where !(neuronsP[i] > 0) { dPreP[i] = 0 }
            }
        }
        gemm(false, false, 1, m, n, 1, ones, n, dPre, m, 0, sumPre, m)
        gemm(false, false, 1, d, n, 1, ones, n, dOut, d, 0, gBOut, d)
        for k in 0..<m { gBIn[k] = sumPre[k] }

        // through the tables: each example adds its attention-weighted gradient to 3 × heads rows
        dMLPTable.update(repeating: 0, count: r * h * m)
        dOV.update(repeating: 0, count: r * h * d)
        dScores.update(repeating: 0, count: r * h)
        // Rows of different positions are disjoint (a at 0, b at 1, "=" at 2), so two threads
        // each go through all examples in order: one accumulates the a rows and the "=" row's
        // attention gradient, the other the b rows and the "=" row's table gradient.
        nonisolated(unsafe) let (patP, dPatP, dPreP, dOutP, rowsP, mlpP, ovP, dMLPP, dOVP) =
            (pattern, dPattern, dPre, dOut, rows, mlpTable, ov, dMLPTable, dOV)
        DispatchQueue.concurrentPerform(iterations: 2) { pos in
            for e in 0..<n {
                let pat = patP + e * 3 * h, dpat = dPatP + e * 3 * h, dp = dPreP + e * m, dout = dOutP + e * d
                let row = Int(rowsP[3 * e + pos]), eq = Int(rowsP[3 * e + 2])
                for head in 0..<h {
                    let t = row * h + head, coef = pat[pos * h + head]
                    dpat[pos * h + head] = dot(m, dp, mlpP + t * m) + dot(d, dout, ovP + t * d)
                    axpy(m, coef, dp, dMLPP + t * m)
                    axpy(d, coef, dout, dOVP + t * d)
                    let te = eq * h + head
                    if pos == 0 {
                        dpat[2 * h + head] = dot(m, dp, mlpP + te * m) + dot(d, dout, ovP + te * d)
                    } else {
                        let ce = pat[2 * h + head]
                        axpy(m, ce, dp, dMLPP + te * m)
                        axpy(d, ce, dout, dOVP + te * d)
                    }
                }
            }
        }
        for e in 0..<n {
            let pat = pattern + e * 3 * h, dpat = dPattern + e * 3 * h
            for head in 0..<h {
                var sum: Float = 0
                for pos in 0..<3 { sum += pat[pos * h + head] * dpat[pos * h + head] }
                for pos in 0..<3 {
                    let row = Int(rows[3 * e + pos])
                    dScores[row * h + head] += pat[pos * h + head] * (dpat[pos * h + head] - sum)
                }
            }
        }
        // mlpTable = ov · W_inᵀ, basePre = W_in · last + b_in
        gemm(true, false, m, d, r * h, 1, dMLPTable, m, ov, d, 0, gIn, d)
        for k in 0..<m { for j in 0..<d { gIn[k * d + j] += sumPre[k] * last[j] } }
        gemm(false, false, r * h, d, m, 1, dMLPTable, m, wIn, d, 1, dOV, d)
        // d last: the residual stream (Σ d out), basePre, the query and its table row
        gemm(false, false, 1, d, m, 1, sumPre, m, wIn, d, 0, dLast, d)
        for j in 0..<d { dLast[j] += gBOut[j] }
        for head in 0..<h {  // ov[row, head] = W_O[:, head] · v[row, head]
            gemm(false, false, r, dh, d, 1, dOV + head * d, h * d, wO + head * dh, hd, 0, dValues + head * dh, hd)
            gemm(true, false, d, dh, r, 1, dOV + head * d, h * d, values + head * dh, hd, 0, gO + head * dh, hd)
        }
        let scale = Float(1 / Double(dh).squareRoot())
        for j in 0..<hd { dQuery[j] = 0 }
        for row in 0..<r {
            for head in 0..<h {
                let ds = dScores[row * h + head] * scale
                for j in 0..<dh {
                    dKeys[row * hd + head * dh + j] = ds * query[head * dh + j]
                    dQuery[head * dh + j] += ds * keys[row * hd + head * dh + j]
                }
            }
        }
        gemm(false, false, r, d, hd, 1, dKeys, hd, wK, d, 0, dTable, d)
        gemm(false, false, r, d, hd, 1, dValues, hd, wV, d, 1, dTable, d)
        gemm(true, false, hd, d, r, 1, dKeys, hd, table, d, 0, gK, d)
        gemm(true, false, hd, d, r, 1, dValues, hd, table, d, 0, gV, d)
        for o in 0..<hd { for j in 0..<d { gQ[o * d + j] = dQuery[o] * last[j] } }
        gemm(false, false, 1, d, hd, 1, dQuery, hd, wQ, d, 1, dLast, d)
        for j in 0..<d { dLast[j] += dTable[2 * p * d + j] }
        for j in 0..<3 * d { gPos[j] = 0 }
        for a in 0..<p {
            for j in 0..<d {
                let da = dTable[a * d + j], db = dTable[(p + a) * d + j]
                gE[a * d + j] = da + db
                gPos[j] += da; gPos[d + j] += db
            }
        }
        for j in 0..<d { gE[p * d + j] = dLast[j]; gPos[2 * d + j] = dLast[j] }
        return Float(loss / Double(n))
    }

    // MARK: AdamW

    /// One AdamW step over the flat buffer, computed exactly as `Adam.step` does per tensor.
    func adamWStep(schedule: LearningRateSchedule) {
        stepCount += 1
        let lr = schedule.rate(at: stepCount - 1)
        let t = Float(stepCount)
        let bc1 = 1 - Foundation.pow(c.beta1, t), bc2 = 1 - Foundation.pow(c.beta2, t)
        let stepSize = lr / bc1, bc2Root = bc2.squareRoot()
        let (b1, b2, eps, wd): (Float, Float, Float, Float) = (c.beta1, c.beta2, 1e-8, c.weightDecay)
        nonisolated(unsafe) let (w, g, mb, vb) = (w, g, adamM, adamV)
        Threading.parallelRanges(total, costPerItem: 8) { range in
            for j in range {
                let gj = g[j]
                w[j] *= 1 - lr * wd
                mb[j] = b1 * mb[j] + (1 - b1) * gj
                vb[j] = b2 * vb[j] + (1 - b2) * gj * gj
                w[j] -= stepSize * mb[j] / (vb[j].squareRoot() / bc2Root + eps)
            }
        }
    }
}

// MARK: Helpers

@inline(__always)
private func gemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                  _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                  _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// y += a·x over n floats, eight lanes at a time.
@inline(__always)
private func axpy(_ n: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    let av = SIMD8<Float>(repeating: a)
    var j = 0
    while j + 8 <= n {
        let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        let yv = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + j).storeBytes(of: yv + av * xv, as: SIMD8<Float>.self)
        j += 8
    }
    while j < n { y[j] += a * x[j]; j += 1 }
}

/// Σ x·y over n floats, eight lanes at a time.
@inline(__always)
private func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var j = 0
    while j + 8 <= n {
        acc += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self)
        j += 8
    }
    var s = acc.sum()
    while j < n { s += x[j] * y[j]; j += 1 }
    return s
}
