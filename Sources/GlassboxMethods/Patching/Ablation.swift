import Foundation
import GlassboxModels
import GlassboxTensor

/// A model component to ablate.
public enum AblationComponent: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// An attention head's output (`hook_z` of that head).
    case head(layer: Int, head: Int)
    /// A block's MLP output (`hook_mlp_out`).
    case mlp(layer: Int)
    /// One MLP neuron (`mlp.hook_post`, index into dMLP).
    case neuron(layer: Int, index: Int)

    public var layer: Int {
        switch self { case let .head(l, _), let .mlp(l), let .neuron(l, _): return l }
    }

    public var hook: String {
        switch self {
        case let .head(l, _): return HookName.z(l)
        case let .mlp(l): return HookName.mlpOut(l)
        case let .neuron(l, _): return HookName.mlpPost(l)
        }
    }

    /// `L.H` (head), `mlpL` (MLP), `L:N` (neuron).
    public var description: String {
        switch self {
        case let .head(l, h): return "\(l).\(h)"
        case let .mlp(l): return "mlp\(l)"
        case let .neuron(l, n): return "\(l):\(n)"
        }
    }

    /// Parses `L.H`, `mlpL` or `L:N`.
    public init(parsing text: String) throws {
        let s = text.trimmingCharacters(in: .whitespaces)
        func int(_ x: Substring) throws -> Int {
            guard let v = Int(x), v >= 0 else {
                throw PatchingError.invalidInput("component '\(text)': '\(x)' is not a non-negative integer (expected L.H for a head, mlpL for an MLP, L:N for a neuron)")
            }
            return v
        }
        if s.hasPrefix("mlp") { self = .mlp(layer: try int(s.dropFirst(3))); return }
        let headParts = s.split(separator: ".", omittingEmptySubsequences: false)
        if headParts.count == 2 { self = .head(layer: try int(headParts[0]), head: try int(headParts[1])); return }
        let neuronParts = s.split(separator: ":", omittingEmptySubsequences: false)
        if neuronParts.count == 2 { self = .neuron(layer: try int(neuronParts[0]), index: try int(neuronParts[1])); return }
        throw PatchingError.invalidInput("component '\(text)': expected L.H for a head, mlpL for an MLP, L:N for a neuron")
    }

    func validate(_ dims: ModelDimensions) throws {
        guard layer >= 0 && layer < dims.layers else { throw PatchingError.invalidInput("component \(self): layer \(layer) is out of range 0..<\(dims.layers)") }
        switch self {
        case let .head(_, h) where h >= dims.heads:
            throw PatchingError.invalidInput("component \(self): head \(h) is out of range 0..<\(dims.heads)")
        case let .neuron(_, n) where n >= dims.dMLP:
            throw PatchingError.invalidInput("component \(self): neuron \(n) is out of range 0..<\(dims.dMLP)")
        default: return
        }
    }
}

/// How an ablated activation is replaced.
public enum AblationMode: String, Sendable, Codable, CaseIterable {
    /// By zero.
    case zero
    /// By its mean over the positions of a reference set of prompts (arXiv 2211.00593 §3 uses mean ablation).
    case mean
    /// By its value on one reference prompt drawn with the seed, position by position
    /// (resample ablation, as in causal scrubbing; the reference prompt must have the same length).
    case resample
}

/// Ablations: replace the activation of heads, MLPs or neurons (zero, mean over a reference
/// set, or resampled from a reference prompt) and measure a metric at the last position
/// (arXiv 2211.00593 §3; arXiv 2309.16042 §2 compares the replacement choices). Each
/// component is ablated on its own and all of them together, as copies of one batch.
public struct Ablation {
    public let model: any TransformerModel
    public let metric: PatchMetric

    public init(model: any TransformerModel, metric: PatchMetric) throws {
        try PatchRun.requireLogits(model)
        try metric.validate(vocabularySize: model.dimensions.vocabularySize)
        self.model = model
        self.metric = metric
    }

    public func run(ids: [Int], components: [AblationComponent], mode: AblationMode,
                    reference: [[Int]] = [], seed: UInt64 = 0) throws -> AblationResult {
        guard !components.isEmpty else { throw PatchingError.invalidInput("nothing to ablate: give at least one component") }
        for c in components { try c.validate(model.dimensions) }
        let t = ids.count
        let hooks = Set(components.map(\.hook))
        let baseOut = try model.runWithHooks(TokenBatch(ids), hooks: Hooks(), logitPositions: PatchRun.lastOnly(t))
        let baseLogits = PatchRun.lastLogits(baseOut)
        let baseLogProbs = baseLogits.logSoftmax(axis: -1).reshaped([baseLogits.shape[1]])
        let baseline = Double(metric.evaluate(baseLogits, cleanLogProbs: baseLogProbs).scalars[0])

        // The replacement value per hook: [1, 1 or t, features...].
        var replacement: [String: Tensor] = [:]
        var resampled: Int?
        switch mode {
        case .zero: break
        case .mean:
            guard !reference.isEmpty else { throw PatchingError.invalidInput("mean ablation needs a reference set of prompts") }
            var sums: [String: Tensor] = [:], count = 0
            for r in reference {
                let cache = try model.runWithCache(TokenBatch(r), names: hooks).cache
                for h in hooks { let s = cache[h]!.sum(axes: [0, 1], keepingDimensions: true); sums[h] = sums[h].map { $0 + s } ?? s }
                count += r.count
            }
            for (h, s) in sums { replacement[h] = s / Float(count) }
        case .resample:
            let same = reference.indices.filter { reference[$0].count == t }
            guard !same.isEmpty else {
                throw PatchingError.invalidInput("resample ablation needs a reference prompt of the same length as the prompt (\(t) tokens); the reference lengths are \(reference.map(\.count))")
            }
            var g = SeededGenerator(seed: seed)
            let pick = same[g.nextInt(below: same.count)]
            resampled = pick
            let cache = try model.runWithCache(TokenBatch(reference[pick]), names: hooks).cache
            for h in hooks { replacement[h] = cache[h]! }
        }

        // Copies: each component alone, then all together.
        let sets: [[AblationComponent]] = components.map { [$0] } + (components.count > 1 ? [components] : [])
        let copies = sets.count
        var hookTable = Hooks()
        let dims = model.dimensions
        for h in hooks.sorted() {
            let comp = components.first { $0.hook == h }!
            let feature: [Int]                                              // the activation's shape after [batch, position]
            switch comp {
            case .head: feature = [dims.heads, dims.dHead]
            case .mlp: feature = [dims.dModel]
            case .neuron: feature = [dims.dMLP]
            }
            let n = feature.reduce(1, *)
            var values = [Float](repeating: 0, count: copies * n)
            for (c, set) in sets.enumerated() {
                for comp in set where comp.hook == h {
                    switch comp {
                    case let .head(_, head): let dHead = feature[1]; for i in 0..<dHead { values[c * n + head * dHead + i] = 1 }
                    case .mlp: for i in 0..<n { values[c * n + i] = 1 }
                    case let .neuron(_, index): values[c * n + index] = 1
                    }
                }
            }
            let mask = Tensor(shape: [copies, 1] + feature, scalars: values)
            let keep = 1 - mask
            let fill = replacement[h].map { $0 * mask }
            hookTable.add(h) { a in fill.map { a * keep + $0 } ?? a * keep }
        }
        let out = try model.runWithHooks(PatchRun.replicated(ids, copies), hooks: hookTable, logitPositions: PatchRun.lastOnly(t))
        let values = metric.evaluate(PatchRun.lastLogits(out), cleanLogProbs: baseLogProbs).scalars.map(Double.init)
        var rows = zip(components, values).map { AblationResult.Row(component: $0.description, value: $1, change: $1 - baseline) }
        if components.count > 1 { rows.append(.init(component: "all", value: values[copies - 1], change: values[copies - 1] - baseline)) }
        return AblationResult(metric: metric.name, mode: mode.rawValue, baseline: baseline, rows: rows, resampledReference: resampled)
    }
}

public struct AblationResult: Sendable, Codable, Equatable {
    public struct Row: Sendable, Codable, Equatable {
        public var component: String
        /// The metric with the component ablated, and its change from the unablated run.
        public var value: Double
        public var change: Double
    }
    public var metric: String
    public var mode: String
    public var baseline: Double
    public var rows: [Row]
    /// For resample ablation: the index of the reference prompt used.
    public var resampledReference: Int?
}
