import Foundation
import GlassboxModels
import GlassboxTensor

/// Where activations are patched: a residual-stream point, a block's attention or MLP
/// output, or each attention head's output (`hook_z`, the head's contribution before W_O).
public enum PatchSite: String, Sendable, Codable, CaseIterable {
    case residPre = "resid_pre"
    case residMid = "resid_mid"
    case residPost = "resid_post"
    case attnOut = "attn_out"
    case mlpOut = "mlp_out"
    case heads = "head"

    /// The hook point of this site in block `layer`.
    public func hook(_ layer: Int) -> String {
        switch self {
        case .residPre: return HookName.residPre(layer)
        case .residMid: return HookName.residMid(layer)
        case .residPost: return HookName.residPost(layer)
        case .attnOut: return HookName.attnOut(layer)
        case .mlpOut: return HookName.mlpOut(layer)
        case .heads: return HookName.z(layer)
        }
    }
}

/// Patch each position on its own (a layer × position grid) or all positions at once.
public enum PatchPositions: String, Sendable, Codable, CaseIterable {
    case each, all
}

/// One patched copy: which grid cell it fills and what it patches.
public struct PatchCell: Sendable, Equatable {
    public var row: Int
    public var column: Int
    public var hook: String
    /// Positions patched (nil: all).
    public var positions: [Int]?
    /// For `hook_z`: the head patched (nil: every head).
    public var head: Int?

    public init(row: Int, column: Int, hook: String, positions: [Int]? = nil, head: Int? = nil) {
        self.row = row
        self.column = column
        self.hook = hook
        self.positions = positions
        self.head = head
    }
}

/// A grid of patched metric values: rows are layers (or layer.head for per-head, per-position
/// patching), columns positions (or heads when patching heads at all positions, or one
/// column "all").
public struct PatchingResult: Sendable, Codable, Equatable {
    /// The metric's name (`logit_diff`, `probability`, `kl`, `linear`).
    public var metric: String
    public var site: String
    /// The metric on the clean and on the corrupted run.
    public var clean: Double
    public var corrupt: Double
    /// grid[row][column]: the metric of the corrupted run with that cell's clean activation patched in.
    public var grid: [[Double]]
    /// The layer of each row.
    public var layers: [Int]
    /// Row labels ("3", or "3.5" for layer 3 head 5).
    public var rows: [String]
    /// Column labels: the tokens, head numbers, or "all".
    public var columns: [String]

    /// The grid on the 0 (corrupted) – 1 (clean) scale.
    public var normalizedGrid: [[Double]] {
        grid.map { $0.map { PatchMetric.normalize($0, clean: clean, corrupt: corrupt) } }
    }

    /// Pearson correlation of the flattened grids (e.g. attribution vs exact patching).
    public func correlation(with other: PatchingResult) -> Double {
        Statistics.pearson(grid.flatMap { $0 }, other.grid.flatMap { $0 })
    }
}

/// Activation patching (arXiv 2211.00593 §3, "causal interventions"; best practices in
/// arXiv 2309.16042): run the corrupted prompt with one activation replaced by its value on
/// the clean prompt, and measure how much of the clean behaviour comes back.
///
/// Batched: the cells of a layer × position sweep are run as copies of the corrupted prompt in
/// one batch, each copy with its own cell patched (a 0/1 mask over copy, position and head),
/// so a sweep costs (cells / batch size) forward passes rather than one per cell.
public struct ActivationPatching {
    public let model: any TransformerModel
    public let clean: [Int]
    public let corrupt: [Int]
    public let metric: PatchMetric
    /// Copies per forward pass (default: about 512 tokens per batch).
    public var batchSize: Int
    /// Run the unchanged positions before a cell's first patched position once (through a KV
    /// cache) instead of once per copy. Same results, fewer operations; off for the plain loop.
    public var reusePrefix = true

    public init(model: any TransformerModel, clean: [Int], corrupt: [Int], metric: PatchMetric, batchSize: Int? = nil) throws {
        try PatchRun.requireLogits(model)
        guard !clean.isEmpty, clean.count == corrupt.count else {
            throw PatchingError.invalidInput("clean and corrupted prompts must have the same number of tokens (clean \(clean.count), corrupted \(corrupt.count)); patching replaces position by position")
        }
        try metric.validate(vocabularySize: model.dimensions.vocabularySize)
        if let batchSize, batchSize < 1 { throw PatchingError.invalidInput("batch size must be at least 1, got \(batchSize)") }
        self.model = model
        self.clean = clean
        self.corrupt = corrupt
        self.metric = metric
        self.batchSize = batchSize ?? max(1, 512 / clean.count)
    }

    /// The cells of a sweep of `site` over `layers` (all when nil).
    public func cells(site: PatchSite, positions: PatchPositions, layers: [Int]? = nil) throws -> (cells: [PatchCell], layers: [Int], rows: [String], columnCount: Int) {
        let dims = model.dimensions
        let ls = layers ?? Array(0..<dims.layers)
        for l in ls where l < 0 || l >= dims.layers {
            throw PatchingError.invalidInput("layer \(l) is out of range 0..<\(dims.layers)")
        }
        let t = clean.count
        var cells: [PatchCell] = [], rowLayers: [Int] = [], rows: [String] = []
        var columns = 0
        switch (site, positions) {
        case (.heads, .all):
            columns = dims.heads
            for (r, l) in ls.enumerated() {
                rowLayers.append(l); rows.append("\(l)")
                for h in 0..<dims.heads { cells.append(PatchCell(row: r, column: h, hook: site.hook(l), positions: nil, head: h)) }
            }
        case (.heads, .each):
            columns = t
            for l in ls {
                for h in 0..<dims.heads {
                    let r = rows.count
                    rowLayers.append(l); rows.append("\(l).\(h)")
                    for p in 0..<t { cells.append(PatchCell(row: r, column: p, hook: site.hook(l), positions: [p], head: h)) }
                }
            }
        case (_, .each):
            columns = t
            for (r, l) in ls.enumerated() {
                rowLayers.append(l); rows.append("\(l)")
                for p in 0..<t { cells.append(PatchCell(row: r, column: p, hook: site.hook(l), positions: [p], head: nil)) }
            }
        case (_, .all):
            columns = 1
            for (r, l) in ls.enumerated() {
                rowLayers.append(l); rows.append("\(l)")
                cells.append(PatchCell(row: r, column: 0, hook: site.hook(l), positions: nil, head: nil))
            }
        }
        return (cells, rowLayers, rows, columns)
    }

    /// The metric on the clean run, on the corrupted run, the clean log-probabilities (for KL)
    /// and the clean activations at `hooks`.
    func baselines(hooks: Set<String>) throws -> (clean: Double, corrupt: Double, cleanLogProbs: Tensor, cache: ActivationCache) {
        let (cleanOut, cache) = try model.runWithCache(TokenBatch(clean), names: hooks, logitPositions: PatchRun.lastOnly(clean.count))
        let cleanLogits = PatchRun.lastLogits(cleanOut)                                // [1, vocab]
        let cleanLogProbs = cleanLogits.logSoftmax(axis: -1).reshaped([cleanLogits.shape[1]])
        let corruptLogits = PatchRun.lastLogits(try model.runWithHooks(TokenBatch(corrupt), hooks: Hooks(), logitPositions: PatchRun.lastOnly(corrupt.count)))
        let c = Double(metric.evaluate(cleanLogits, cleanLogProbs: cleanLogProbs).scalars[0])
        let k = Double(metric.evaluate(corruptLogits, cleanLogProbs: cleanLogProbs).scalars[0])
        return (c, k, cleanLogProbs, cache)
    }

    /// Patches every cell of a `site` sweep and returns the grid of metric values.
    public func run(site: PatchSite, positions: PatchPositions = .each, layers: [Int]? = nil,
                    columnLabels: [String]? = nil, progress: (Double) -> Void = { _ in }) throws -> PatchingResult {
        let plan = try cells(site: site, positions: positions, layers: layers)
        let values = try run(cells: plan.cells, progress: progress)
        var grid = [[Double]](repeating: [Double](repeating: .nan, count: plan.columnCount), count: plan.rows.count)
        for (cell, v) in zip(plan.cells, values.patched) { grid[cell.row][cell.column] = v }
        let columns: [String]
        if site == .heads && positions == .all {
            columns = (0..<plan.columnCount).map { "H\($0)" }
        } else if positions == .all {
            columns = ["all"]
        } else {
            columns = columnLabels ?? (0..<plan.columnCount).map { "\($0)" }
        }
        return PatchingResult(metric: metric.name, site: site.rawValue, clean: values.clean, corrupt: values.corrupt,
                              grid: grid, layers: plan.layers, rows: plan.rows, columns: columns)
    }

    /// The patched metric of each cell (in order), with the clean and corrupted metrics.
    public func run(cells: [PatchCell], progress: (Double) -> Void = { _ in }) throws -> (clean: Double, corrupt: Double, patched: [Double]) {
        let base = try baselines(hooks: Set(cells.map(\.hook)))
        for cell in cells {
            guard base.cache[cell.hook] != nil else { throw PatchingError.invalidInput("the model has no hook point \(cell.hook)") }
            for p in cell.positions ?? [] where p < 0 || p >= clean.count {
                throw PatchingError.invalidInput("position \(p) is out of range 0..<\(clean.count)")
            }
        }
        // Positions before a cell's first patched position are the corrupted run's own: run them
        // once (a KV cache) and only the suffix per copy. Cells are grouped by that start.
        let t = corrupt.count
        let starts = cells.map { reusePrefix ? ($0.positions?.min() ?? 0) : 0 }
        var prefixCache: KVCache?
        if starts.contains(where: { $0 > 0 }) {
            let cache = KVCache(layers: model.dimensions.layers, batch: 1)
            _ = model.forward(TokenBatch(corrupt), run: HookRun(logitPositions: PatchRun.lastOnly(t)), cache: cache)
            prefixCache = cache
        }
        var out = [Double](repeating: .nan, count: cells.count)
        var done = 0
        for start in Set(starts).sorted() {
            let members = cells.indices.filter { starts[$0] == start }
            var i = 0
            while i < members.count {
                let chunk = Array(members[i..<min(members.count, i + batchSize)])
                let hooks = Self.patchHooks(chunk.map { cells[$0] }, sources: base.cache, length: t, offset: start)
                let suffix = Array(corrupt[start...])
                let output: ModelOutput
                if start == 0 {
                    output = try model.runWithHooks(PatchRun.replicated(corrupt, chunk.count), hooks: hooks,
                                                    logitPositions: PatchRun.lastOnly(t))
                } else {
                    output = model.forward(PatchRun.replicated(suffix, chunk.count),
                                           run: HookRun(hooks: hooks, logitPositions: PatchRun.lastOnly(suffix.count)),
                                           cache: prefixCache!.prefix(start, copies: chunk.count))
                }
                let m = metric.evaluate(PatchRun.lastLogits(output), cleanLogProbs: base.cleanLogProbs)
                for (c, v) in zip(chunk, m.scalars) { out[c] = Double(v) }
                i += chunk.count
                done += chunk.count
                progress(Double(done) / Double(cells.count))
            }
        }
        return (base.clean, base.corrupt, out)
    }

    /// Hooks that patch copy c of a batch with `chunk[c]`: per hook point, a 0/1 mask over
    /// (copy, position, head) selects where the source activation replaces the run's own.
    /// With `offset` > 0 the run covers positions offset..<length only (a suffix after a cached prefix).
    static func patchHooks(_ chunk: [PatchCell], sources: ActivationCache, length fullLength: Int, offset: Int = 0) -> Hooks {
        var hooks = Hooks()
        let length = fullLength - offset
        for name in Set(chunk.map(\.hook)).sorted() {
            let source = offset == 0 ? sources[name]! : sources[name]!.slice(axis: 1, offset..<fullLength).contiguous()   // [1, t, ...]
            let copies = chunk.count
            let perHead = source.rank == 4
            let heads = perHead ? source.shape[2] : 1
            var values = [Float](repeating: 0, count: copies * length * heads)
            for (c, cell) in chunk.enumerated() where cell.hook == name {
                for p in cell.positions ?? Array(offset..<fullLength) {
                    for h in 0..<heads where cell.head == nil || cell.head == h {
                        values[(c * length + p - offset) * heads + h] = 1
                    }
                }
            }
            let mask = Tensor(shape: perHead ? [copies, length, heads, 1] : [copies, length, 1], scalars: values)
            let keep = 1 - mask
            let patched = source * mask                                    // [copies, t, ...]
            hooks.add(name) { t in t * keep + patched }
        }
        return hooks
    }
}

