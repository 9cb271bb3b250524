import GlassboxTensor

/// Where padding goes when prompts of different lengths share a batch.
public enum PaddingSide: String, Sendable, Codable, CaseIterable {
    case left, right
}

/// Token ids of one or more prompts as a rectangular [batch, length] grid with a mask of
/// real tokens. Positions count real tokens only, so a left-padded prompt gets the same
/// positions (and so the same results) as when run alone.
public struct TokenBatch: Sendable, Equatable {
    public let batch: Int
    public let length: Int
    /// [batch * length] ids, padding filled with `padID`.
    public let ids: [Int]
    /// [batch * length]: true at real tokens.
    public let mask: [Bool]
    /// [batch * length] token-type (segment) ids, for BERT; zeros otherwise.
    public let tokenTypes: [Int]
    /// Lengths of the prompts without padding.
    public let lengths: [Int]
    public let padding: PaddingSide

    /// One prompt.
    public init(_ ids: [Int], tokenTypes: [Int]? = nil) {
        self.init(sequences: [ids], tokenTypes: tokenTypes.map { [$0] })
    }

    /// Several prompts, padded on `padding` with `padID`.
    public init(sequences: [[Int]], tokenTypes: [[Int]]? = nil, padding: PaddingSide = .right, padID: Int = 0) {
        let n = sequences.map(\.count).max() ?? 0
        var ids = [Int](), mask = [Bool](), types = [Int]()
        ids.reserveCapacity(sequences.count * n)
        for (b, s) in sequences.enumerated() {
            let pad = n - s.count
            let t = tokenTypes?[b] ?? [Int](repeating: 0, count: s.count)
            precondition(t.count == s.count, "TokenBatch: \(t.count) token types for \(s.count) ids in sequence \(b)")
            if padding == .left {
                ids += [Int](repeating: padID, count: pad) + s
                mask += [Bool](repeating: false, count: pad) + [Bool](repeating: true, count: s.count)
                types += [Int](repeating: 0, count: pad) + t
            } else {
                ids += s + [Int](repeating: padID, count: pad)
                mask += [Bool](repeating: true, count: s.count) + [Bool](repeating: false, count: pad)
                types += t + [Int](repeating: 0, count: pad)
            }
        }
        self.batch = sequences.count
        self.length = n
        self.ids = ids
        self.mask = mask
        self.tokenTypes = types
        self.lengths = sequences.map(\.count)
        self.padding = padding
    }

    /// Whether every token is real.
    public var isDense: Bool { !mask.contains(false) }

    /// Position of each token counting real tokens before it (0 for padding), starting at `start[b]`.
    func positions(start: [Int]? = nil) -> [[Int]] {
        (0..<batch).map { b in
            var p = start?[b] ?? 0
            return (0..<length).map { t in
                guard mask[b * length + t] else { return 0 }
                defer { p += 1 }
                return p
            }
        }
    }

    /// Indices (into 0..<length) of the real tokens of prompt b.
    public func realPositions(_ b: Int) -> [Int] { (0..<length).filter { mask[b * length + $0] } }

    /// Index (into 0..<length) of the last real token of prompt b.
    public func lastPosition(_ b: Int) -> Int { realPositions(b).last ?? (length - 1) }

    func validate(vocabularySize: Int) throws {
        guard batch > 0, length > 0 else { throw ModelError.invalidInput("empty input: no tokens to run") }
        for id in ids where id < 0 || id >= vocabularySize {
            throw ModelError.tokenOutOfRange(id: id, vocabularySize: vocabularySize)
        }
    }
}

/// The additive attention mask [batch, 1, queries, keys]: 0 where query i may attend to key j,
/// a large negative number elsewhere (padding keys; keys after the query when causal). Finite,
/// so a query row with nothing visible (padding) stays finite instead of becoming NaN.
func attentionMask(keyMask: [Bool], batch: Int, queries: Int, keys: Int, causal: Bool) -> Tensor {
    let masked: Float = -1e30
    return Tensor(shape: [batch, 1, queries, keys]) { buf in
        let past = keys - queries
        for b in 0..<batch {
            for i in 0..<queries {
                let row = (b * queries + i) * keys
                for j in 0..<keys {
                    let visible = keyMask[b * keys + j] && (!causal || j <= past + i)
                    buf[row + j] = visible ? 0 : masked
                }
            }
        }
    }
}
