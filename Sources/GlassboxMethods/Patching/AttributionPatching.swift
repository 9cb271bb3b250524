import Foundation
import GlassboxModels
import GlassboxTensor

/// Attribution patching (arXiv 2310.10348, "Attribution Patching Outperforms Automated
/// Circuit Discovery"; Nanda 2023): the first-order Taylor estimate of every cell of an
/// activation-patching grid from two forward passes and one backward pass,
///
///     metric(patched) ≈ metric(corrupt) + Σ (a_clean − a_corrupt) · ∂metric/∂a |_corrupt,
///
/// summed over the patched positions (and the head's dimensions). Exact when the metric is
/// linear in the patched activation.
public struct AttributionPatching {
    public let patching: ActivationPatching

    public init(model: any TransformerModel, clean: [Int], corrupt: [Int], metric: PatchMetric) throws {
        patching = try ActivationPatching(model: model, clean: clean, corrupt: corrupt, metric: metric)
    }

    /// The estimated grid of a `site` sweep (same layout as ``ActivationPatching/run(site:positions:layers:columnLabels:progress:)``).
    public func run(site: PatchSite, positions: PatchPositions = .each, layers: [Int]? = nil,
                    columnLabels: [String]? = nil) throws -> PatchingResult {
        let plan = try patching.cells(site: site, positions: positions, layers: layers)
        let values = try run(cells: plan.cells)
        var grid = [[Double]](repeating: [Double](repeating: .nan, count: plan.columnCount), count: plan.rows.count)
        for (cell, v) in zip(plan.cells, values.patched) { grid[cell.row][cell.column] = v }
        let columns: [String]
        if site == .heads && positions == .all { columns = (0..<plan.columnCount).map { "H\($0)" } }
        else if positions == .all { columns = ["all"] }
        else { columns = columnLabels ?? (0..<plan.columnCount).map { "\($0)" } }
        return PatchingResult(metric: patching.metric.name, site: site.rawValue, clean: values.clean, corrupt: values.corrupt,
                              grid: grid, layers: plan.layers, rows: plan.rows, columns: columns)
    }

    /// The estimated patched metric of each cell, with the (exact) clean and corrupted metrics.
    public func run(cells: [PatchCell]) throws -> (clean: Double, corrupt: Double, patched: [Double]) {
        let model = patching.model, metric = patching.metric
        let names = Array(Set(cells.map(\.hook))).sorted()
        let base = try patching.baselines(hooks: Set(names))
        let length = patching.corrupt.count
        let (_, grads, acts) = try model.gradients(TokenBatch(patching.corrupt), withRespectTo: names,
                                                   logitPositions: PatchRun.lastOnly(length)) { out in
            metric.evaluate(PatchRun.lastLogits(out), cleanLogProbs: base.cleanLogProbs).sum()
        }
        // Per hook: (clean − corrupt) · gradient, summed over the feature axis: [t] or [t, heads].
        var effects: [String: (values: [Float], heads: Int)] = [:]
        for name in names {
            let delta = base.cache[name]! - acts[name]!                   // [1, t, ...]
            let product = delta * grads[name]!
            let heads = product.rank == 4 ? product.shape[2] : 1
            effects[name] = (product.sum(axes: [product.rank - 1]).contiguous().scalars, heads)
        }
        let patched = cells.map { cell -> Double in
            let (e, heads) = effects[cell.hook]!
            var total = 0.0
            for p in cell.positions ?? Array(0..<length) {
                for h in 0..<heads where cell.head == nil || cell.head == h { total += Double(e[p * heads + h]) }
            }
            return base.corrupt + total
        }
        return (base.clean, base.corrupt, patched)
    }
}
