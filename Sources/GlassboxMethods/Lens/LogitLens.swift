import Foundation
import GlassboxModels
import GlassboxTensor

/// One token of a lens's prediction.
public struct LensToken: Sendable, Codable, Equatable {
    public var id: Int
    public var prob: Double
    public init(id: Int, prob: Double) {
        self.id = id
        self.prob = prob
    }
}

/// What a lens reads at one residual index r and one position.
public struct LensReading: Sendable, Codable, Equatable {
    /// KL(final ‖ lens) in nats, where final is the model's own next-token distribution.
    public var kl: Double
    /// The k most probable tokens under the lens, most probable first.
    public var top: [LensToken]
    /// The chosen token's rank under the lens (0 = most probable) and its probability, when one was chosen.
    public var targetRank: Int?
    public var targetProb: Double?
}

/// A lens applied to one sequence: `readings[r][position]` for r = 0…layers (DESIGN.md:
/// r = 0 the embedding, r = l + 1 the output of block l; the last r is what the final norm sees).
public struct LensResult: Sendable, Codable, Equatable {
    public var ids: [Int]
    /// The positions read (indices into `ids`).
    public var positions: [Int]
    /// [r][i]: the reading at residual index r and position `positions[i]`.
    public var readings: [[LensReading]]
    /// The chosen token, if any.
    public var target: Int?

    public var residualCount: Int { readings.count }

    /// KL(final ‖ lens) per residual index at position `positions[i]`.
    public func klCurve(at i: Int) -> [Double] { readings.map { $0[i].kl } }
}

/// The residual-stream translators a lens puts between a residual index and the unembedding:
/// nothing (the logit lens) or one affine map per index (the tuned lens).
public protocol ResidualTranslator: Sendable {
    /// `resid` [n, dModel] at residual index r → the vector handed to the final norm [n, dModel].
    func translate(_ resid: Tensor, at r: Int) -> Tensor
}

/// The logit lens (nostalgebraist 2020, "interpreting GPT: the logit lens",
/// papers/web_logit-lens.md): decode every residual-stream state with the model's own final
/// norm and unembedding, `unembed(final_norm(resid[r]))`, and compare with the final output.
/// With a `TunedLens` translator it is the tuned lens (arXiv 2303.08112).
public struct LogitLens: Sendable {
    public var topK: Int
    /// Optional affine translators (tuned lens); nil = the plain logit lens.
    public var translator: (any ResidualTranslator)?

    public init(topK: Int = 5, translator: (any ResidualTranslator)? = nil) {
        self.topK = topK
        self.translator = translator
    }

    /// Reads every residual index at `positions` (default: the last position) of one sequence.
    public func apply(_ model: any TransformerModel, ids: [Int], positions: [Int]? = nil, target: Int? = nil) throws -> LensResult {
        try apply(model, sequences: [ids], positions: positions.map { [$0] }, targets: target.map { [$0] })[0]
    }

    /// Reads several sequences in one right-padded batch; each result equals the one-by-one result.
    public func apply(_ model: any TransformerModel, sequences: [[Int]], positions: [[Int]]? = nil,
                      targets: [Int]? = nil) throws -> [LensResult] {
        guard !sequences.isEmpty else { throw LensAttentionError.invalidInput("lens: no sequences") }
        let layers = model.dimensions.layers, vocab = model.dimensions.vocabularySize
        guard topK > 0 else { throw LensAttentionError.invalidInput("lens: top-k must be positive, got \(topK)") }
        for (b, s) in sequences.enumerated() {
            guard !s.isEmpty else { throw LensAttentionError.invalidInput("lens: sequence \(b) is empty") }
            for p in positions?[b] ?? [] where p < 0 || p >= s.count {
                throw LensAttentionError.invalidInput("lens: position \(p) is outside sequence \(b) of \(s.count) tokens (0…\(s.count - 1))")
            }
            if let t = targets?[b], t < 0 || t >= vocab {
                throw LensAttentionError.invalidInput("lens: target token \(t) outside the vocabulary 0…\(vocab - 1)")
            }
        }
        let batch = TokenBatch(sequences: sequences)
        let names = Set((0...layers).map(HookName.resid))
        let (out, cache) = try model.runWithCache(batch, names: names)
        guard let logits = out.logits else { throw LensAttentionError.invalidInput("lens: the model has no LM head (an encoder)") }
        var results: [LensResult] = []
        for b in 0..<sequences.count {
            let pos = positions?[b] ?? [sequences[b].count - 1]
            let finalRows = rows(logits, batch: b, positions: pos)                               // [n, vocab]
            let finalLog = LogProbabilities(finalRows)
            // Every residual index's rows go through the unembedding in one product (one pass over W_U).
            let stacked = Tensor.concatenate((0...layers).map { r -> Tensor in
                let resid = rows(cache.resid(r)!, batch: b, positions: pos)                        // [n, dModel]
                return translator?.translate(resid, at: r) ?? resid
            }, axis: 0)                                                                            // [(L+1)·n, dModel]
            let lensLog = LogProbabilities(model.unembed(stacked)!)                                // [(L+1)·n, vocab]
            let n = pos.count
            let readings: [[LensReading]] = (0...layers).map { r in
                (0..<n).map { i in lensLog.reading(row: r * n + i, final: finalLog, finalRow: i, topK: topK, target: targets?[b]) }
            }
            results.append(LensResult(ids: sequences[b], positions: pos, readings: readings, target: targets?[b]))
        }
        return results
    }

    /// Rows `positions` of sequence `b` of a [batch, t, d] tensor, as [n, d].
    func rows(_ t: Tensor, batch b: Int, positions: [Int]) -> Tensor {
        t.select(axis: 0, b).indexSelect(positions, axis: 0).contiguous()
    }
}

/// Log-softmax of rows of logits, in Double (the reference computes KL in float64).
struct LogProbabilities {
    let rows: Int
    let vocab: Int
    let values: [Double]

    init(_ logits: Tensor) {
        let c = logits.contiguous()
        vocab = c.shape.last!
        rows = c.count / vocab
        var v = [Double](repeating: 0, count: c.count)
        let (n, r) = (vocab, rows)
        c.withUnsafeBufferPointer { src in
            for i in 0..<r {
                var m = -Double.infinity
                for j in 0..<n { m = Swift.max(m, Double(src[i * n + j])) }
                var s = 0.0
                for j in 0..<n { s += Foundation.exp(Double(src[i * n + j]) - m) }
                let lse = m + Foundation.log(s)
                for j in 0..<n { v[i * n + j] = Double(src[i * n + j]) - lse }
            }
        }
        values = v
    }

    func row(_ i: Int) -> ArraySlice<Double> { values[(i * vocab)..<((i + 1) * vocab)] }

    /// KL(final ‖ self) between row i of self and row `finalRow` (default i) of `final`.
    func kl(row i: Int, final: LogProbabilities, finalRow: Int? = nil) -> Double {
        var s = 0.0
        let base = i * vocab, finalBase = (finalRow ?? i) * vocab
        for j in 0..<vocab {
            let lp = final.values[finalBase + j]
            let p = Foundation.exp(lp)
            if p > 0 { s += p * (lp - values[base + j]) }
        }
        return Swift.max(0, s)
    }

    func reading(row i: Int, final: LogProbabilities, finalRow: Int, topK: Int, target: Int?) -> LensReading {
        let r = row(i)
        let k = Swift.min(topK, vocab)
        // Partial selection: keep the k best (ties to the lower id).
        var best: [(Int, Double)] = []
        best.reserveCapacity(k + 1)
        for (j, v) in zip(0..<vocab, r) {
            if best.count < k || v > best[best.count - 1].1 {
                var at = best.count
                while at > 0 && best[at - 1].1 < v { at -= 1 }
                best.insert((j, v), at: at)
                if best.count > k { best.removeLast() }
            }
        }
        var rank: Int?, prob: Double?
        if let target {
            let tv = r[r.startIndex + target]
            rank = r.enumerated().reduce(0) { n, e in n + ((e.element > tv || (e.element == tv && e.offset < target)) ? 1 : 0) }
            prob = Foundation.exp(tv)
        }
        return LensReading(kl: kl(row: i, final: final, finalRow: finalRow), top: best.map { LensToken(id: $0.0, prob: Foundation.exp($0.1)) },
                           targetRank: rank, targetProb: prob)
    }
}

/// Errors of the lens, attention and logit-attribution methods: the message names the value and what was expected.
public enum LensAttentionError: Error, CustomStringConvertible, Equatable {
    case invalidInput(String)
    case file(path: String, problem: String)

    public var description: String {
        switch self {
        case .invalidInput(let m): return m
        case .file(let path, let problem): return "\(path): \(problem)"
        }
    }
}
