import Foundation
import GlassboxTensor

/// One training step's loss parts, gradients (in `Configuration.shapes` order) and the latents
/// that fired in the batch.
struct SparseAutoencoderStep {
    var loss: Float
    var reconstruction: Float
    var sparsity: Float
    var auxiliary: Float
    var gradients: [Tensor]
    var fired: [Bool]
}

extension SparseAutoencoder {
    /// The loss of every kind built from generic tensor ops and differentiated by the tape.
    /// `dead[j]` is 1 for a dead latent (TopK's auxiliary loss), else 0.
    static func referenceStep(_ params: [Tensor], _ c: Configuration, x: Tensor, dead: [Float]) -> SparseAutoencoderStep {
        var parts: (recon: Float, sparsity: Float, aux: Float) = (0, 0, 0)
        var fired = [Bool](repeating: false, count: c.latents)
        let batch = x.shape[0]
        let (loss, grads) = valueWithGradient(at: params) { w in
            let (pre, codes) = Self.encode(w, c, x)
            let xHat = codes.linear(weight: w[2], bias: w[3])
            let recon = (xHat - x).squared().sum(axes: [1]).mean()
            var total = recon
            parts.recon = recon.item
            codes.withUnsafeBufferPointer { f in
                for r in 0..<batch { for j in 0..<c.latents where f[r * c.latents + j] != 0 { fired[j] = true } }
            }
            switch c.kind {
            case .relu(let l1):
                let s = codes.sum(axes: [1]).mean()
                parts.sparsity = s.item
                total = total + l1 * s
            case .topK(_, let auxK, let coefficient, _):
                let nDead = Int(dead.reduce(0, +))
                if auxK > 0 && nDead > 0 && coefficient > 0 {
                    // top-auxK among the dead latents' pre-activations reconstruct the residual
                    let deadMask = Tensor(shape: [1, c.latents], scalars: dead)
                    let masked = pre.detached() * deadMask + (deadMask - 1) * 1e30
                    let auxCodes = pre * Self.topKMask(masked, k: min(auxK, nDead)) * deadMask
                    let residual = (x - xHat).detached()
                    let aux = (auxCodes.linear(weight: w[2]) - residual).squared().sum(axes: [1]).mean()
                    parts.aux = aux.item
                    total = total + coefficient * aux
                }
            case .gated(let l1):
                let gateCodes = pre.relu()
                let s = gateCodes.sum(axes: [1]).mean()
                let frozen = gateCodes.linear(weight: w[2].detached(), bias: w[3].detached())
                let aux = (frozen - x).squared().sum(axes: [1]).mean()
                parts.sparsity = s.item; parts.aux = aux.item
                total = total + l1 * s + aux
            }
            return total
        }
        return SparseAutoencoderStep(loss: loss.item, reconstruction: parts.recon, sparsity: parts.sparsity,
                                     auxiliary: parts.aux, gradients: grads, fired: fired)
    }

    /// The TopK step in closed form (arXiv 2406.04093): one dense product for the
    /// pre-activations, then everything else over the k active (and auxK auxiliary) latents
    /// of each row only — decoding, the backward pass, and the weight gradients gathered per
    /// latent. The same loss and gradients as `referenceStep` (checked in the tests), without
    /// the two further dense [batch × latents] products the generic backward forms.
    static func topKStep(_ params: [Tensor], k: Int, auxK: Int, auxCoefficient: Float,
                         x xIn: Tensor, dead: [Float]) -> SparseAutoencoderStep {
        let x = xIn.plain
        let nb = x.shape[0], d = x.shape[1], nl = params[1].count
        let wEnc = params[0].plain, bEnc = params[1].plain, bDec = params[3].plain
        let wDecT = params[2].detached().transposed().contiguous()            // [latents, d_in]: row j is latent j
        let centred = (x - bDec).plain                                        // [B, d_in]
        var pre = centred.matmul(wEnc.transposed())                           // [B, latents], bias added below
        let deadList = dead.indices.filter { dead[$0] != 0 }
        let kAux = auxK > 0 && auxCoefficient > 0 ? min(auxK, deadList.count) : 0

        // Per row: the active latents, their codes and d(loss)/d(pre).
        var idx = [Int32](repeating: 0, count: nb * k), val = [Float](repeating: 0, count: nb * k)
        var dPre = [Float](repeating: 0, count: nb * k)
        var auxIdx = [Int32](repeating: 0, count: nb * kAux), auxVal = [Float](repeating: 0, count: nb * kAux)
        var dAuxPre = [Float](repeating: 0, count: nb * kAux)
        var rowRecon = [Float](repeating: 0, count: nb), rowAux = [Float](repeating: 0, count: nb)
        var dxHat = Tensor.zeros([nb, d])                                     // d(loss)/d(x̂), the reconstruction term
        var dAux = Tensor.zeros([nb, kAux > 0 ? d : 0])                       // d(loss)/d(aux reconstruction)
        var dCentred = Tensor.zeros([nb, d])
        let scale = 2 / Float(nb), auxScale = auxCoefficient * 2 / Float(nb)
        pre.withUnsafeMutableBufferPointer { preB in
        wEnc.withUnsafeBufferPointer { we in bEnc.withUnsafeBufferPointer { be in
        wDecT.withUnsafeBufferPointer { wd in bDec.withUnsafeBufferPointer { bd in
        x.withUnsafeBufferPointer { xb in
        dxHat.withUnsafeMutableBufferPointer { dxh in dAux.withUnsafeMutableBufferPointer { dab in
        dCentred.withUnsafeMutableBufferPointer { dcb in
        idx.withUnsafeMutableBufferPointer { ib in val.withUnsafeMutableBufferPointer { vb in
        dPre.withUnsafeMutableBufferPointer { dpb in
        auxIdx.withUnsafeMutableBufferPointer { aib in auxVal.withUnsafeMutableBufferPointer { avb in
        dAuxPre.withUnsafeMutableBufferPointer { dapb in
        rowRecon.withUnsafeMutableBufferPointer { rrb in rowAux.withUnsafeMutableBufferPointer { rab in
        deadList.withUnsafeBufferPointer { deadB in
            let preP = preB.baseAddress!, weP = we.baseAddress!, beP = be.baseAddress!, wdP = wd.baseAddress!
            let bdP = bd.baseAddress!, xP = xb.baseAddress!, dxhP = dxh.baseAddress!, dcP = dcb.baseAddress!
            let iP = ib.baseAddress!, vP = vb.baseAddress!, dpP = dpb.baseAddress!
            let daP = dab.baseAddress, aiP = aib.baseAddress, avP = avb.baseAddress, dapP = dapb.baseAddress
            let rrP = rrb.baseAddress!, raP = rab.baseAddress!
            Threading.parallelRanges(nb, costPerItem: nl + 4 * (k + kAux) * d) { rows in
                var heapV = [Float](repeating: 0, count: Swift.max(k, kAux))
                var heapI = [Int32](repeating: 0, count: Swift.max(k, kAux))
                var deadValues = [Float](repeating: 0, count: deadB.count)
                var xHat = [Float](repeating: 0, count: d), auxRecon = [Float](repeating: 0, count: kAux > 0 ? d : 0)
                heapV.withUnsafeMutableBufferPointer { hv in heapI.withUnsafeMutableBufferPointer { hi in
                deadValues.withUnsafeMutableBufferPointer { dv in
                xHat.withUnsafeMutableBufferPointer { xhB in auxRecon.withUnsafeMutableBufferPointer { arB in
                    let xh = xhB.baseAddress!
                    for r in rows {
                        let row = preP + r * nl
                        SAEKernels.add(beP, into: row, nl)
                        // forward: codes of the k largest pre-activations, x̂ = Σ f_j W_dec[:, j] + b_dec
                        SparseAutoencoder.topKIndices(row, nl, k, hv.baseAddress!, hi.baseAddress!)
                        xh.update(from: bdP, count: d)
                        for t in 0..<k {
                            let j = Int(hi[t]), v = row[j]
                            iP[r * k + t] = hi[t]; vP[r * k + t] = v
                            SAEKernels.axpy(v, wdP + j * d, xh, d)
                        }
                        // e = x̂ − x; the reconstruction loss Σ e² and its gradient 2e/B
                        let xr = xP + r * d, g = dxhP + r * d
                        var s: Float = 0
                        for i in 0..<d { let e = xh[i] - xr[i]; s += e * e; g[i] = scale * e }
                        rrP[r] = s
                        let dc = dcP + r * d
                        for t in 0..<k {
                            let j = Int(iP[r * k + t])
                            let gp = SAEKernels.dot(g, wdP + j * d, d)
                            dpP[r * k + t] = gp
                            SAEKernels.axpy(gp, weP + j * d, dc, d)
                        }
                        if kAux > 0 {
                            // the top kAux dead latents reconstruct the residual x − x̂ (held fixed)
                            for (q, j) in deadB.enumerated() { dv[q] = row[j] }
                            SparseAutoencoder.topKIndices(dv.baseAddress!, deadB.count, kAux, hv.baseAddress!, hi.baseAddress!)
                            let ar = arB.baseAddress!
                            ar.update(repeating: 0, count: d)
                            for t in 0..<kAux {
                                let j = deadB[Int(hi[t])], v = row[j]
                                aiP![r * kAux + t] = Int32(j); avP![r * kAux + t] = v
                                SAEKernels.axpy(v, wdP + j * d, ar, d)
                            }
                            let ga = daP! + r * d
                            var sa: Float = 0
                            for i in 0..<d {
                                let e = ar[i] - (xr[i] - xh[i])
                                sa += e * e; ga[i] = auxScale * e
                            }
                            raP[r] = sa
                            for t in 0..<kAux {
                                let j = Int(aiP![r * kAux + t])
                                let gp = SAEKernels.dot(ga, wdP + j * d, d)
                                dapP![r * kAux + t] = gp
                                SAEKernels.axpy(gp, weP + j * d, dc, d)
                            }
                        }
                    }
                } }
                }
                } }
            }
        } } }
        } }
        } } }
        } }
        } }
        } } }
        } } }

        // Weight gradients gathered per latent (rows in order, so the sums do not depend on threads).
        var start = [Int](repeating: 0, count: nl + 1)
        for j in idx { start[Int(j) + 1] += 1 }
        for j in auxIdx { start[Int(j) + 1] += 1 }
        for j in 0..<nl { start[j + 1] += start[j] }
        var fill = start
        var entRow = [Int32](repeating: 0, count: start[nl]), entCode = [Float](repeating: 0, count: start[nl])
        var entGrad = [Float](repeating: 0, count: start[nl]), entAux = [Bool](repeating: false, count: start[nl])
        for e in 0..<(nb * k) {
            let j = Int(idx[e]), p = fill[j]; fill[j] += 1
            entRow[p] = Int32(e / k); entCode[p] = val[e]; entGrad[p] = dPre[e]
        }
        for e in 0..<(nb * kAux) {
            let j = Int(auxIdx[e]), p = fill[j]; fill[j] += 1
            entRow[p] = Int32(e / kAux); entCode[p] = auxVal[e]; entGrad[p] = dAuxPre[e]; entAux[p] = true
        }
        var gEnc = Tensor.zeros([nl, d]), gBEnc = Tensor.zeros([nl]), gDecT = Tensor.zeros([nl, d])
        gEnc.withUnsafeMutableBufferPointer { ge in gBEnc.withUnsafeMutableBufferPointer { gbe in
        gDecT.withUnsafeMutableBufferPointer { gd in
        centred.withUnsafeBufferPointer { cb in dxHat.withUnsafeBufferPointer { dxh in dAux.withUnsafeBufferPointer { dab in
        start.withUnsafeBufferPointer { st in entRow.withUnsafeBufferPointer { er in entCode.withUnsafeBufferPointer { ec in
        entGrad.withUnsafeBufferPointer { eg in entAux.withUnsafeBufferPointer { ea in
            let geP = ge.baseAddress!, gbeP = gbe.baseAddress!, gdP = gd.baseAddress!, cP = cb.baseAddress!
            let dxhP = dxh.baseAddress!, daP = dab.baseAddress
            Threading.parallelRanges(nl, costPerItem: 4 * d * Swift.max(1, st[nl] / Swift.max(nl, 1))) { latents in
                for j in latents {
                    var bias: Float = 0
                    for p in st[j]..<st[j + 1] {
                        let r = Int(er[p])
                        bias += eg[p]
                        SAEKernels.axpy(eg[p], cP + r * d, geP + j * d, d)
                        SAEKernels.axpy(ec[p], (ea[p] ? daP! : dxhP) + r * d, gdP + j * d, d)
                    }
                    gbeP[j] = bias
                }
            }
        } }
        } } }
        } } }
        }
        } }

        var fired = [Bool](repeating: false, count: nl)
        for e in 0..<(nb * k) where val[e] != 0 { fired[Int(idx[e])] = true }
        let gBDec = (dxHat.sum(axes: [0]) - dCentred.sum(axes: [0])).plain
        let recon = rowRecon.reduce(0, +) / Float(nb)
        let aux = kAux > 0 ? rowAux.reduce(0, +) / Float(nb) : 0
        return SparseAutoencoderStep(loss: recon + auxCoefficient * aux, reconstruction: recon, sparsity: 0,
                                     auxiliary: aux, gradients: [gEnc, gBEnc, gDecT.transposed().contiguous(), gBDec],
                                     fired: fired)
    }

    /// Writes into `heapI[0..<k]` the indices of the k largest of `row[0..<n]` (a min-heap, so in
    /// no particular order); on equal values the earlier index wins. Requires k ≤ n.
    @inline(__always)
    static func topKIndices(_ row: UnsafePointer<Float>, _ n: Int, _ k: Int,
                            _ heapV: UnsafeMutablePointer<Float>, _ heapI: UnsafeMutablePointer<Int32>) {
        if k == 0 { return }
        // heap order: smaller value first; on equal values the later index is smaller
        @inline(__always) func below(_ a: Int, _ b: Int) -> Bool {
            heapV[a] < heapV[b] || (heapV[a] == heapV[b] && heapI[a] > heapI[b])
        }
        @inline(__always) func swap(_ a: Int, _ b: Int) {
            let v = heapV[a]; heapV[a] = heapV[b]; heapV[b] = v
            let i = heapI[a]; heapI[a] = heapI[b]; heapI[b] = i
        }
        for j in 0..<k {
            heapV[j] = row[j]; heapI[j] = Int32(j)
            var i = j
            while i > 0 {
                let parent = (i - 1) / 2
                if !below(i, parent) { break }
                swap(parent, i); i = parent
            }
        }
        var j = k
        while j < n {
            let v = row[j]
            if v > heapV[0] {
                heapV[0] = v; heapI[0] = Int32(j)
                var i = 0
                while true {
                    let l = 2 * i + 1, rr = l + 1
                    var s = i
                    if l < k && below(l, s) { s = l }
                    if rr < k && below(rr, s) { s = rr }
                    if s == i { break }
                    swap(s, i); i = s
                }
            }
            j += 1
        }
    }
}

/// Small SIMD loops for the closed-form steps.
enum SAEKernels {
    typealias V = SIMD8<Float>

    /// y += a·x over n elements.
    @inline(__always)
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let av = V(repeating: a)
        var i = 0
        while i + 8 <= n {
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            let yv = UnsafeRawPointer(y + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: yv + av * xv, as: V.self)
            i += 8
        }
        while i < n { y[i] += a * x[i]; i += 1 }
    }

    /// y += x over n elements.
    @inline(__always)
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            let yv = UnsafeRawPointer(y + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: yv + xv, as: V.self)
            i += 8
        }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// Σ a[i]·b[i].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = V(), s1 = V()
        var i = 0
        while i + 16 <= n {
            s0 += UnsafeRawPointer(a + i).loadUnaligned(as: V.self) * UnsafeRawPointer(b + i).loadUnaligned(as: V.self)
            s1 += UnsafeRawPointer(a + i + 8).loadUnaligned(as: V.self) * UnsafeRawPointer(b + i + 8).loadUnaligned(as: V.self)
            i += 16
        }
        var s = (s0 + s1).sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }
}
