import Foundation
import GlassboxModels
import GlassboxTensor

/// Which token of a prompt an activation is read at.
public enum TokenReadout: String, Sendable, Codable, CaseIterable {
    /// The last real token (the usual choice for probes and steering vectors).
    case last
    /// The mean over the prompt's real tokens.
    case mean
}

/// Errors of the steering and probing methods; each names the value and what was expected.
public enum SteeringProbeError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidArgument(name: String, value: String, expected: String)
    case invalidData(source: String, line: Int, problem: String)

    public var description: String {
        switch self {
        case .invalidArgument(let name, let value, let expected):
            return "\(name) = \(value): expected \(expected)"
        case .invalidData(let source, let line, let problem):
            return line > 0 ? "\(source):\(line): \(problem)" : "\(source): \(problem)"
        }
    }
}

/// Residual-stream activations of a set of prompts, one vector per prompt and residual index
/// r (DESIGN.md: r = 0 the embedding, r = l + 1 the output of block l), read at one token
/// (`TokenReadout`). This is the "cached activations" that probes are trained on
/// (arXiv 1610.01644, 2310.06824) and steering vectors are averaged from (arXiv 2308.10248).
public struct ResidualActivations: Sendable {
    /// The residual indices read, ascending.
    public let indices: [Int]
    /// r -> [prompt][dModel].
    public let values: [Int: [[Float]]]
    public let count: Int
    public let dModel: Int

    public init(indices: [Int], values: [Int: [[Float]]], dModel: Int) {
        self.indices = indices
        self.values = values
        self.count = values.values.first?.count ?? 0
        self.dModel = dModel
    }

    public subscript(_ r: Int) -> [[Float]] { values[r] ?? [] }

    /// Runs `prompts` (token ids) through `model` in right-padded batches of `batchSize` and
    /// reads the residual stream at `indices` (every index when nil). Padded batches give the
    /// same vectors as one prompt at a time (positions and attention count real tokens only).
    public static func collect(_ model: any TransformerModel, prompts: [[Int]], indices: [Int]? = nil,
                               readout: TokenReadout = .last, batchSize: Int = 16,
                               progress: ((Int, Int) -> Void)? = nil) throws -> ResidualActivations {
        let layers = model.dimensions.layers, d = model.dimensions.dModel
        let rs = (indices ?? Array(0...layers)).sorted()
        guard !prompts.isEmpty else { throw SteeringProbeError.invalidArgument(name: "prompts", value: "[]", expected: "at least one prompt") }
        guard batchSize > 0 else { throw SteeringProbeError.invalidArgument(name: "batch size", value: "\(batchSize)", expected: "a positive number") }
        for r in rs where r < 0 || r > layers {
            throw SteeringProbeError.invalidArgument(name: "residual index", value: "\(r)", expected: "0...\(layers) for a model with \(layers) layers")
        }
        for (i, p) in prompts.enumerated() where p.isEmpty {
            throw SteeringProbeError.invalidArgument(name: "prompt \(i)", value: "no tokens", expected: "at least one token")
        }
        var out: [Int: [[Float]]] = Dictionary(uniqueKeysWithValues: rs.map { ($0, [[Float]]()) })
        let names = Set(rs.map(HookName.resid))
        var start = 0
        while start < prompts.count {
            let chunk = Array(prompts[start..<min(prompts.count, start + batchSize)])
            let batch = TokenBatch(sequences: chunk, padding: .right)
            let (_, cache) = try model.runWithCache(batch, names: names)
            for r in rs {
                let t = cache.resid(r)!.contiguous().scalars   // [b, t, dModel]
                for b in 0..<chunk.count {
                    let positions = readout == .last ? [batch.lastPosition(b)] : batch.realPositions(b)
                    var v = [Float](repeating: 0, count: d)
                    for p in positions {
                        let base = (b * batch.length + p) * d
                        for j in 0..<d { v[j] += t[base + j] }
                    }
                    if positions.count > 1 { let s = 1 / Float(positions.count); for j in 0..<d { v[j] *= s } }
                    out[r]!.append(v)
                }
            }
            start += chunk.count
            progress?(start, prompts.count)
        }
        return ResidualActivations(indices: rs, values: out, dModel: d)
    }
}

/// Small vector helpers shared by the steering and probing methods (Double accumulation).
enum Vectors {
    static func mean(_ rows: [[Float]]) -> [Double] {
        guard let d = rows.first?.count else { return [] }
        var m = [Double](repeating: 0, count: d)
        for r in rows { for j in 0..<d { m[j] += Double(r[j]) } }
        let s = 1 / Double(rows.count)
        return m.map { $0 * s }
    }

    static func dot(_ a: [Double], _ b: [Float]) -> Double {
        var s = 0.0
        for j in 0..<a.count { s += a[j] * Double(b[j]) }
        return s
    }

    static func norm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
