import Foundation
import GlassboxModels
import GlassboxTensor

/// Per-head statistics of attention patterns [query, key] (causal softmax probabilities):
///
/// - `sink`: mean over all query positions of the probability on key position 0 — the
///   attention-sink score of Xiao et al. 2023, "Efficient Streaming Language Models with
///   Attention Sinks", arXiv 2309.17453.
/// - `entropy`: mean over queries of −Σ_k p log p (nats).
/// - `previous`: mean over queries q ≥ 1 of A[q, q−1] (previous-token heads).
/// - `duplicate`: mean over queries whose token occurred before of the mass on the earlier
///   occurrences (duplicate-token heads); nil when no token repeats.
/// - `induction`: mean over such queries of the mass on the tokens that FOLLOWED the earlier
///   occurrences (Olsson et al. 2022, "In-context Learning and Induction Heads", arXiv 2209.11895);
///   nil when no token repeats.
public struct HeadStatistics: Sendable, Codable, Equatable {
    public var layer: Int
    public var head: Int
    public var sink: Double
    public var entropy: Double
    public var previous: Double
    public var duplicate: Double?
    public var induction: Double?
}

/// The attention analysis of one sequence: every layer's pattern, per-head statistics and the
/// attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers",
/// arXiv 2005.00928).
public struct AttentionAnalysis: Sendable {
    public var ids: [Int]
    /// [layer][head]: the pattern as [query][key] row-major (t × t floats).
    public var patterns: [[[Float]]]
    /// [layer][head].
    public var heads: [[HeadStatistics]]

    public var layers: Int { heads.count }
    public var length: Int { ids.count }

    /// A[q, k] of `layer`, `head`.
    public func attention(layer: Int, head: Int, query: Int, key: Int) -> Double {
        Double(patterns[layer][head][query * length + key])
    }

    /// Analyses one sequence.
    public static func analyse(_ model: any TransformerModel, ids: [Int]) throws -> AttentionAnalysis {
        try analyse(model, sequences: [ids])[0]
    }

    /// Analyses several sequences in one right-padded batch (each result equals the one-by-one result).
    public static func analyse(_ model: any TransformerModel, sequences: [[Int]]) throws -> [AttentionAnalysis] {
        let patterns = try AttentionPatterns.capture(model, sequences: sequences)
        return sequences.indices.map { b in
            let ids = sequences[b]
            let heads = patterns[b].enumerated().map { l, perHead in
                perHead.enumerated().map { h, a in HeadStatistics.measure(a, ids: ids, layer: l, head: h) }
            }
            return AttentionAnalysis(ids: ids, patterns: patterns[b], heads: heads)
        }
    }

    /// Attention rollout (arXiv 2005.00928): Â_l = ½·mean_h A_l + ½·I (rows renormalised), and
    /// R = Â_{L−1} ⋯ Â_0 — R[q, k] is how much of position q's final state flows from input token k.
    public func rollout() -> [[Double]] {
        let t = length
        var r = (0..<t).map { i in (0..<t).map { j in i == j ? 1.0 : 0.0 } }
        for l in 0..<layers {
            let hs = patterns[l].count
            var a = [[Double]](repeating: [Double](repeating: 0, count: t), count: t)
            for i in 0..<t {
                for j in 0..<t {
                    var m = 0.0
                    for h in 0..<hs { m += Double(patterns[l][h][i * t + j]) }
                    a[i][j] = 0.5 * m / Double(hs) + (i == j ? 0.5 : 0)
                }
                let s = a[i].reduce(0, +)
                if s > 0 { for j in 0..<t { a[i][j] /= s } }
            }
            // r ← a · r
            var next = [[Double]](repeating: [Double](repeating: 0, count: t), count: t)
            for i in 0..<t {
                for k in 0..<t where a[i][k] != 0 {
                    for j in 0..<t { next[i][j] += a[i][k] * r[k][j] }
                }
            }
            r = next
        }
        return r
    }
}

extension HeadStatistics {
    /// The statistics of one pattern `a` ([t × t] row-major) over `ids`.
    static func measure(_ a: [Float], ids: [Int], layer: Int, head: Int) -> HeadStatistics {
        let t = ids.count
        var sink = 0.0, entropy = 0.0, previous = 0.0
        var dup = 0.0, dupCount = 0, ind = 0.0, indCount = 0
        for q in 0..<t {
            let row = q * t
            sink += Double(a[row])
            var e = 0.0
            for k in 0...q { let p = Double(a[row + k]); if p > 0 { e -= p * Foundation.log(p) } }
            entropy += e
            if q >= 1 { previous += Double(a[row + q - 1]) }
            let earlier = (0..<q).filter { ids[$0] == ids[q] }
            if !earlier.isEmpty {
                dup += earlier.reduce(0.0) { $0 + Double(a[row + $1]) }
                dupCount += 1
                ind += earlier.reduce(0.0) { $0 + Double(a[row + $1 + 1]) }   // the token after each earlier occurrence (≤ q)
                indCount += 1
            }
        }
        return HeadStatistics(layer: layer, head: head, sink: sink / Double(t), entropy: entropy / Double(t),
                              previous: t > 1 ? previous / Double(t - 1) : 0,
                              duplicate: dupCount > 0 ? dup / Double(dupCount) : nil,
                              induction: indCount > 0 ? ind / Double(indCount) : nil)
    }
}

/// Capturing attention patterns through the models' `hook_pattern` points.
public enum AttentionPatterns {
    /// [sequence][layer][head] → the [t × t] pattern (t = that sequence's length) of a right-padded batch.
    public static func capture(_ model: any TransformerModel, sequences: [[Int]]) throws -> [[[[Float]]]] {
        guard !sequences.isEmpty, sequences.allSatisfy({ !$0.isEmpty }) else {
            throw LensAttentionError.invalidInput("attention: every sequence needs at least one token")
        }
        let layers = model.dimensions.layers
        let names = Set((0..<layers).map(HookName.pattern))
        let batch = TokenBatch(sequences: sequences)
        let (_, cache) = try model.runWithCache(batch, names: names)
        let n = batch.length
        return sequences.indices.map { b in
            let t = sequences[b].count
            return (0..<layers).map { l -> [[Float]] in
                let p = cache[HookName.pattern(l)]!.contiguous()                 // [b, heads, n, n]
                let heads = p.shape[1]
                let flat = p.scalars
                return (0..<heads).map { h in
                    var out = [Float](repeating: 0, count: t * t)
                    let base = (b * heads + h) * n * n
                    for q in 0..<t { for k in 0..<t { out[q * t + k] = flat[base + q * n + k] } }
                    return out
                }
            }
        }
    }
}

/// Repeated random tokens (Olsson et al. 2022, arXiv 2209.11895): `prefix` followed by L random
/// tokens repeated twice. On the second copy an induction head at position i attends to i − L + 1
/// (the token after the earlier occurrence of the current token), a duplicate-token head to i − L.
public struct RepeatedTokens: Sendable, Equatable {
    public var prefix: [Int]
    public var half: [Int]
    public var ids: [Int] { prefix + half + half }
    public var offset: Int { prefix.count }
    public var period: Int { half.count }

    public init(prefix: [Int], half: [Int]) {
        self.prefix = prefix
        self.half = half
    }

    /// `count` sequences of `length` tokens drawn uniformly from `range` with a seeded generator.
    public static func generate(count: Int, length: Int, range: Range<Int>, prefix: [Int], seed: UInt64) throws -> [RepeatedTokens] {
        guard count > 0, length > 1 else {
            throw LensAttentionError.invalidInput("repeated tokens: need a positive batch and a length of at least 2 (got batch \(count), length \(length))")
        }
        guard range.count > 1 else { throw LensAttentionError.invalidInput("repeated tokens: token range \(range) has fewer than 2 ids") }
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            RepeatedTokens(prefix: prefix, half: (0..<length).map { _ in range.lowerBound + rng.nextInt(below: range.count) })
        }
    }

    /// Mean over i in [o + L, o + 2L) of A[i, i − L + shift]: shift 1 = induction, 0 = duplicate token.
    func score(_ a: [Float], shift: Int) -> Double {
        let t = ids.count, o = offset, L = period
        var s = 0.0
        for i in (o + L)..<(o + 2 * L) { s += Double(a[i * t + i - L + shift]) }
        return s / Double(L)
    }
}

/// Which head score to rank by.
public enum HeadScoreKind: String, Sendable, Codable, CaseIterable {
    case induction, previous, duplicate, sink
}

/// Head scores on repeated random tokens, averaged over a batch: `scores[kind][layer][head]`.
public struct HeadScores: Sendable, Equatable {
    public var scores: [HeadScoreKind: [[Double]]]
    public var sequences: [RepeatedTokens]
    /// Mean next-token loss on the first and the second copy (second excluding its first token),
    /// which shows whether the model does in-context copying at all.
    public var firstHalfLoss: Double
    public var secondHalfLoss: Double

    /// Token ids to draw random tokens from: 1000..<40000 (the reference's range, which avoids
    /// special and very frequent tokens) when the vocabulary is larger than 40 000, else all ids.
    public static func defaultTokenRange(vocabulary: Int) -> Range<Int> {
        vocabulary > 40_000 ? 1000..<40_000 : 0..<vocabulary
    }

    /// (layer, head, score) of `kind`, best first.
    public func ranking(_ kind: HeadScoreKind) -> [(layer: Int, head: Int, score: Double)] {
        guard let grid = scores[kind] else { return [] }
        var all: [(layer: Int, head: Int, score: Double)] = []
        for (l, row) in grid.enumerated() { for (h, s) in row.enumerated() { all.append((l, h, s)) } }
        return all.sorted { $0.score > $1.score || ($0.score == $1.score && ($0.layer, $0.head) < ($1.layer, $1.head)) }
    }

    /// Scores every head on `sequences` (one batched forward).
    public static func measure(_ model: any TransformerModel, on sequences: [RepeatedTokens]) throws -> HeadScores {
        guard !sequences.isEmpty else { throw LensAttentionError.invalidInput("head scores: no sequences") }
        let dims = model.dimensions
        let all = sequences.map(\.ids)
        let names = Set((0..<dims.layers).map(HookName.pattern))
        let (out, cache) = try model.runWithCache(TokenBatch(sequences: all), names: names)
        let n = all[0].count
        var grids: [HeadScoreKind: [[Double]]] = [:]
        for kind in HeadScoreKind.allCases {
            grids[kind] = Array(repeating: Array(repeating: 0, count: dims.heads), count: dims.layers)
        }
        for l in 0..<dims.layers {
            let p = cache[HookName.pattern(l)]!.contiguous().scalars                  // [b, heads, n', n']
            let width = cache[HookName.pattern(l)]!.shape[2]
            for (b, seq) in sequences.enumerated() {
                let t = seq.ids.count
                for h in 0..<dims.heads {
                    var a = [Float](repeating: 0, count: t * t)
                    let base = (b * dims.heads + h) * width * width
                    for q in 0..<t { for k in 0..<t { a[q * t + k] = p[base + q * width + k] } }
                    let w = 1 / Double(sequences.count)
                    grids[.induction]![l][h] += w * seq.score(a, shift: 1)
                    grids[.duplicate]![l][h] += w * seq.score(a, shift: 0)
                    var prev = 0.0, sink = 0.0
                    for q in 0..<t { sink += Double(a[q * t]); if q > 0 { prev += Double(a[q * t + q - 1]) } }
                    grids[.previous]![l][h] += w * prev / Double(t - 1)
                    grids[.sink]![l][h] += w * sink / Double(t)
                }
            }
        }
        _ = n
        // Next-token losses on each copy.
        let logits = out.logits!.logSoftmax(axis: -1).contiguous()               // [b, n, vocab]
        let vocab = logits.shape[2], width = logits.shape[1]
        let lp = logits.scalars
        var first = 0.0, second = 0.0
        for (b, seq) in sequences.enumerated() {
            let ids = seq.ids, o = seq.offset, L = seq.period
            func loss(_ i: Int) -> Double { -Double(lp[(b * width + i) * vocab + ids[i + 1]]) }
            first += (o..<(o + L - 1)).map(loss).reduce(0, +) / Double(L - 1)
            second += ((o + L)..<(o + 2 * L - 1)).map(loss).reduce(0, +) / Double(L - 1)
        }
        return HeadScores(scores: grids, sequences: sequences, firstHalfLoss: first / Double(sequences.count),
                          secondHalfLoss: second / Double(sequences.count))
    }
}
