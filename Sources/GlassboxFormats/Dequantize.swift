import Foundation

/// Conversion of ggml block formats to Float32, bit-identical to ggml's `to_float`
/// (block layouts: ggml-common.h; reconstruction formulas: ggml-quants.c).
///
/// All multi-byte fields are little-endian; the kernels assume a little-endian host
/// (x86-64, arm64).
public enum Dequantize {
    /// Elements above which a conversion is split over two threads.
    public static let parallelThreshold = 1 << 20

    /// Converts `count` elements (a whole number of blocks of `type`) starting at `src` into `dst`.
    /// Large conversions run on two threads (split at block boundaries).
    /// - Precondition: `type.canDequantize`, `count % type.blockSize == 0`, and `src` holds
    ///   `count / blockSize * typeSize` readable bytes.
    public static func convert(_ type: GGMLType, from src: UnsafeRawPointer, count: Int,
                               into dst: UnsafeMutablePointer<Float>) {
        precondition(type.canDequantize, "Dequantize: \(type) is not supported")
        precondition(count % type.blockSize == 0, "Dequantize: \(count) elements is not a whole number of \(type) blocks")
        let blocks = count / type.blockSize
        if count >= parallelThreshold && blocks >= 2 {
            let half = blocks / 2
            let srcAddr = UInt(bitPattern: src), dstAddr = UInt(bitPattern: dst)
            DispatchQueue.concurrentPerform(iterations: 2) { part in
                let b0 = part == 0 ? 0 : half
                let b1 = part == 0 ? half : blocks
                let s = UnsafeRawPointer(bitPattern: srcAddr)! + b0 * type.typeSize
                let d = UnsafeMutablePointer<Float>(bitPattern: dstAddr)! + b0 * type.blockSize
                convertSerial(type, from: s, blocks: b1 - b0, into: d)
            }
        } else {
            convertSerial(type, from: src, blocks: blocks, into: dst)
        }
    }

    /// Converts whole blocks on the calling thread.
    public static func convertSerial(_ type: GGMLType, from src: UnsafeRawPointer, blocks: Int,
                                     into dst: UnsafeMutablePointer<Float>) {
        let bs = type.typeSize, n = type.blockSize
        switch type {
        case .f32:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: blocks * 4)
        case .f16:
            let s = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<blocks { dst[i] = half(s, i * 2) }
        case .bf16:
            for i in 0..<blocks {
                let b = src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: b)) << 16)
            }
        case .q4_0: for b in 0..<blocks { q4_0(src + b * bs, dst + b * n) }
        case .q4_1: for b in 0..<blocks { q4_1(src + b * bs, dst + b * n) }
        case .q5_0: for b in 0..<blocks { q5_0(src + b * bs, dst + b * n) }
        case .q5_1: for b in 0..<blocks { q5_1(src + b * bs, dst + b * n) }
        case .q8_0: for b in 0..<blocks { q8_0(src + b * bs, dst + b * n) }
        case .q2_K: for b in 0..<blocks { q2_K(src + b * bs, dst + b * n) }
        case .q3_K: for b in 0..<blocks { q3_K(src + b * bs, dst + b * n) }
        case .q4_K: for b in 0..<blocks { q4_K(src + b * bs, dst + b * n) }
        case .q5_K: for b in 0..<blocks { q5_K(src + b * bs, dst + b * n) }
        case .q6_K: for b in 0..<blocks { q6_K(src + b * bs, dst + b * n) }
        case .iq4_nl: for b in 0..<blocks { iq4_nl(src + b * bs, dst + b * n) }
        case .iq4_xs: for b in 0..<blocks { iq4_xs(src + b * bs, dst + b * n) }
        case .tq1_0: for b in 0..<blocks { tq1_0(src + b * bs, dst + b * n) }
        case .tq2_0: for b in 0..<blocks { tq2_0(src + b * bs, dst + b * n) }
        case .mxfp4: for b in 0..<blocks { mxfp4(src + b * bs, dst + b * n) }
        case .nvfp4: for b in 0..<blocks { nvfp4(src + b * bs, dst + b * n) }
        default:
            preconditionFailure("Dequantize: \(type) is not supported")
        }
    }

    // MARK: Scalars

    /// IEEE half (little-endian, at byte `offset`) to Float.
    @inline(__always)
    static func half(_ p: UnsafePointer<UInt8>, _ offset: Int) -> Float {
        let bits = UInt16(p[offset]) | UInt16(p[offset + 1]) << 8
        return Float(Float16(bitPattern: bits))
    }

    // MARK: 32-element blocks

    // Q4_0, 18 bytes: d f16 | qs[16]; element j = low nibble of qs[j], element j+16 = high nibble.
    @inline(__always)
    static func q4_0(_ raw: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0)
        let qs = p + 2
        for j in 0..<16 {
            y[j] = Float(Int32(qs[j] & 0x0F) - 8) * d
            y[j + 16] = Float(Int32(qs[j] >> 4) - 8) * d
        }
    }

    // Q4_1, 20 bytes: d f16 | m f16 | qs[16]; x = d q + m.
    @inline(__always)
    static func q4_1(_ raw: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0), m = half(p, 2)
        let qs = p + 4
        for j in 0..<16 {
            y[j] = Float(qs[j] & 0x0F) * d + m
            y[j + 16] = Float(qs[j] >> 4) * d + m
        }
    }

    // Q5_0, 22 bytes: d f16 | qh u32 (fifth bits) | qs[16]; x = d (q - 16).
    @inline(__always)
    static func q5_0(_ raw: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0)
        let qh = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        let qs = p + 6
        for j in 0..<16 {
            let h0 = ((qh >> UInt32(j)) << 4) & 0x10
            let h1 = (qh >> UInt32(j + 12)) & 0x10
            y[j] = Float(Int32(UInt32(qs[j] & 0x0F) | h0) - 16) * d
            y[j + 16] = Float(Int32(UInt32(qs[j] >> 4) | h1) - 16) * d
        }
    }

    // Q5_1, 24 bytes: d f16 | m f16 | qh u32 | qs[16]; x = d q + m.
    @inline(__always)
    static func q5_1(_ raw: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0), m = half(p, 2)
        let qh = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let qs = p + 8
        for j in 0..<16 {
            let h0 = ((qh >> UInt32(j)) << 4) & 0x10
            let h1 = (qh >> UInt32(j + 12)) & 0x10
            y[j] = Float(UInt32(qs[j] & 0x0F) | h0) * d + m
            y[j + 16] = Float(UInt32(qs[j] >> 4) | h1) * d + m
        }
    }

    // Q8_0, 34 bytes: d f16 | qs[32] int8; x = d q.
    @inline(__always)
    static func q8_0(_ raw: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0)
        let qs = (raw + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { y[j] = Float(qs[j]) * d }
    }

    /// The IQ4_NL non-linear 4-bit codebook (the values of ggml's `kvalues_iq4nl`).
    static let iq4nlValues: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    // IQ4_NL, 18 bytes: d f16 | qs[16] nibbles; x = d * table[q].
    @inline(__always)
    static func iq4_nl(_ raw: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0)
        let qs = p + 2
        iq4nlValues.withUnsafeBufferPointer { k in
            for j in 0..<16 {
                y[j] = d * Float(k[Int(qs[j] & 0x0F)])
                y[j + 16] = d * Float(k[Int(qs[j] >> 4)])
            }
        }
    }

    // MXFP4, 17 bytes: e u8 (E8M0 exponent) | qs[16] E2M1 nibbles. ggml's table holds doubled
    // E2M1 values and its scale is half of 2^(e-127).
    @inline(__always)
    static func mxfp4(_ raw: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let e = UInt32(p[0])
        let d = Float(bitPattern: e < 2 ? UInt32(0x0020_0000) << e : (e - 1) << 23)
        let qs = p + 1
        for j in 0..<16 {
            y[j] = e2m1Doubled(qs[j] & 0x0F) * d
            y[j + 16] = e2m1Doubled(qs[j] >> 4) * d
        }
    }

    /// Doubled E2M1 (FP4) magnitudes by the 3 low bits of a nibble; bit 3 is the sign.
    @inline(__always)
    static func e2m1Doubled(_ q: UInt8) -> Float {
        let m: Float
        switch q & 7 {
        case 0: m = 0
        case 1: m = 1
        case 2: m = 2
        case 3: m = 3
        case 4: m = 4
        case 5: m = 6
        case 6: m = 8
        default: m = 12
        }
        return q & 8 == 0 ? m : -m
    }

    /// Unsigned E4M3 (bias 7, subnormals when the exponent is 0) to Float.
    @inline(__always)
    static func ue4m3(_ x: UInt8) -> Float {
        let e = Int((x >> 3) & 0x0F), m = Float(x & 7)
        return e == 0 ? m * 0x1p-9 : (1 + m / 8) * Float(sign: .plus, exponent: e - 7, significand: 1)
    }

    // NVFP4, 36 bytes per 64 elements: d[4] (UE4M3 scale per 16) | qs[32] E2M1 nibbles; in each
    // 16-element group element j is the low nibble of its byte j and element j+8 the high nibble.
    @inline(__always)
    static func nvfp4(_ raw: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        for s in 0..<4 {
            let d = ue4m3(p[s]) * 0.5
            let qs = p + 4 + 8 * s
            for j in 0..<8 {
                y[16 * s + j] = e2m1Doubled(qs[j] & 0x0F) * d
                y[16 * s + j + 8] = e2m1Doubled(qs[j] >> 4) * d
            }
        }
    }

    // MARK: 256-element super-blocks

    // Q2_K, 84 bytes: scales[16] (low nibble scale, high nibble min) | qs[64] 2-bit | d f16 | dmin f16.
    static func q2_K(_ raw: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let scales = p, d = half(p, 80), dmin = half(p, 82)
        var q = p + 16
        var y = out
        var sIndex = 0
        for _ in 0..<2 {
            var shift: UInt8 = 0
            for _ in 0..<4 {
                for half16 in 0..<2 {
                    let sc = scales[sIndex]; sIndex += 1
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    let qq = q + half16 * 16
                    for l in 0..<16 { y[l] = dl * Float((qq[l] >> shift) & 3) - ml }
                    y += 16
                }
                shift += 2
            }
            q += 32
        }
    }

    // Q3_K, 110 bytes: hmask[32] | qs[64] low 2 bits | scales[12] (16 packed 6-bit) | d f16.
    static func q3_K(_ raw: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let hm = p, d = half(p, 108)
        var q = p + 32
        // Unpack 16 6-bit scales: low 4 bits from bytes 0..7 (nibbles), high 2 bits from bytes 8..11.
        let s = p + 96
        var scales: (UInt64, UInt64) = (0, 0)  // 16 unpacked bytes, no heap allocation
        withUnsafeMutableBytes(of: &scales) { sb in
            for i in 0..<16 {
                let low = i < 8 ? s[i] & 0x0F : s[i - 8] >> 4
                let high = (s[8 + (i % 4)] >> (2 * UInt8(i / 4))) & 3
                sb[i] = low | (high << 4)
            }
        }
        var y = out
        var sIndex = 0
        var m: UInt8 = 1
        for _ in 0..<2 {
            var shift: UInt8 = 0
            for _ in 0..<4 {
                for half16 in 0..<2 {
                    let sc = withUnsafeBytes(of: &scales) { Int32($0[sIndex]) - 32 }
                    let dl = d * Float(sc); sIndex += 1
                    let qq = q + half16 * 16, hh = hm + half16 * 16
                    for l in 0..<16 {
                        let v = Int32((qq[l] >> shift) & 3) - (hh[l] & m != 0 ? 0 : 4)
                        y[l] = dl * Float(v)
                    }
                    y += 16
                }
                shift += 2
                m <<= 1
            }
            q += 32
        }
    }

    /// Scale and min `j` (0..<8) of the 12-byte packed 6-bit table of Q4_K / Q5_K.
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (UInt8, UInt8) {
        if j < 4 {
            return (q[j] & 63, q[j + 4] & 63)
        }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    // Q4_K, 144 bytes: d f16 | dmin f16 | scales[12] | qs[128]; per 64 elements: low nibbles then high.
    static func q4_K(_ raw: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0), dmin = half(p, 2)
        let sc = p + 4
        var q = p + 16
        var y = out
        for g in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * g, sc), (s2, m2) = scaleMinK4(2 * g + 1, sc)
            let d1 = d * Float(s1), mm1 = dmin * Float(m1)
            let d2 = d * Float(s2), mm2 = dmin * Float(m2)
            for l in 0..<32 { y[l] = d1 * Float(q[l] & 0x0F) - mm1 }
            for l in 0..<32 { y[l + 32] = d2 * Float(q[l] >> 4) - mm2 }
            q += 32
            y += 64
        }
    }

    // Q5_K, 176 bytes: d f16 | dmin f16 | scales[12] | qh[32] | qs[128].
    static func q5_K(_ raw: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0), dmin = half(p, 2)
        let sc = p + 4, qh = p + 16
        var ql = p + 48
        var y = out
        var u1: UInt8 = 1, u2: UInt8 = 2
        for g in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * g, sc), (s2, m2) = scaleMinK4(2 * g + 1, sc)
            let d1 = d * Float(s1), mm1 = dmin * Float(m1)
            let d2 = d * Float(s2), mm2 = dmin * Float(m2)
            for l in 0..<32 { y[l] = d1 * Float((ql[l] & 0x0F) + (qh[l] & u1 != 0 ? 16 : 0)) - mm1 }
            for l in 0..<32 { y[l + 32] = d2 * Float((ql[l] >> 4) + (qh[l] & u2 != 0 ? 16 : 0)) - mm2 }
            ql += 32
            y += 64
            u1 <<= 2
            u2 <<= 2
        }
    }

    // Q6_K, 210 bytes: ql[128] low 4 bits | qh[64] high 2 bits | scales[16] int8 | d f16.
    static func q6_K(_ raw: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 208)
        var ql = p, qh = p + 128
        var sc = (raw + 192).assumingMemoryBound(to: Int8.self)
        var y = out
        for _ in 0..<2 {
            for l in 0..<32 {
                let s = l / 16
                let q1 = Int32((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32
                let q2 = Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
                let q3 = Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                let q4 = Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                y[l] = d * Float(sc[s]) * Float(q1)
                y[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                y[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                y[l + 96] = d * Float(sc[s + 6]) * Float(q4)
            }
            y += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }

    // IQ4_XS, 136 bytes: d f16 | scales_h u16 | scales_l[4] | qs[128]; eight 32-element groups
    // with 6-bit scales (ls - 32) over the IQ4_NL codebook.
    static func iq4_xs(_ raw: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 0)
        let scalesH = UInt16(p[2]) | UInt16(p[3]) << 8
        let scalesL = p + 4
        var qs = p + 8
        var y = out
        iq4nlValues.withUnsafeBufferPointer { k in
            for ib in 0..<8 {
                let low = (scalesL[ib / 2] >> (4 * UInt8(ib % 2))) & 0x0F
                let high = UInt8((scalesH >> (2 * UInt16(ib))) & 3)
                let dl = d * Float(Int32(low | (high << 4)) - 32)
                for j in 0..<16 {
                    y[j] = dl * Float(k[Int(qs[j] & 0x0F)])
                    y[j + 16] = dl * Float(k[Int(qs[j] >> 4)])
                }
                y += 32
                qs += 16
            }
        }
    }

    static let tq1Pow3: [UInt8] = [1, 3, 9, 27, 81, 243]

    // TQ1_0, 54 bytes: qs[48] (5 base-3 digits per byte) | qh[4] (4 per byte) | d f16; x = d (t - 1).
    static func tq1_0(_ raw: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 52)
        var y = out
        @inline(__always) func trit(_ byte: UInt8, _ n: Int) -> Float {
            let q = byte &* tq1Pow3[n]
            return Float(Int32((UInt16(q) * 3) >> 8) - 1)
        }
        for n in 0..<5 {
            for m in 0..<32 { y[m] = trit(p[m], n) * d }
            y += 32
        }
        for n in 0..<5 {
            for m in 0..<16 { y[m] = trit(p[32 + m], n) * d }
            y += 16
        }
        for n in 0..<4 {
            for j in 0..<4 { y[j] = trit(p[48 + j], n) * d }
            y += 4
        }
    }

    // TQ2_0, 66 bytes: qs[64] (four 2-bit values per byte) | d f16; x = d (q - 1).
    static func tq2_0(_ raw: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let p = raw.assumingMemoryBound(to: UInt8.self)
        let d = half(p, 64)
        var y = out
        for j in stride(from: 0, to: 64, by: 32) {
            for l in 0..<4 {
                for m in 0..<32 {
                    y[m] = Float(Int32((p[j + m] >> UInt8(2 * l)) & 3) - 1) * d
                }
                y += 32
            }
        }
    }
}
