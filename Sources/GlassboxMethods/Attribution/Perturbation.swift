import Foundation
import GlassboxTensor

/// A cooperative game over input features: v(S) is the function's value when the features in
/// S keep their input values and the others take the baseline's. Every perturbation method
/// (occlusion, Shapley values, Kernel SHAP, LIME) is defined on it.
public struct CoalitionGame: @unchecked Sendable {
    /// Number of features (players).
    public let players: Int
    /// v(S) for each coalition (true = feature present), evaluated in batches.
    public let evaluate: ([[Bool]]) -> [Double]

    public init(players: Int, evaluate: @escaping ([[Bool]]) -> [Double]) {
        self.players = players
        self.evaluate = evaluate
    }

    /// The game of `function` at `input` against `baseline`. `featureMask` (one entry per
    /// element of the input, values 0..<players) groups elements into features; by default
    /// feature i is the slice `input[i]` along the first axis (a token's embedding row for a
    /// [tokens, dModel] input, an element for a vector).
    public init(function: BatchedFunction, input: Tensor, baseline: Tensor? = nil, featureMask: [Int]? = nil,
                internalBatchSize: Int = 64) throws {
        let base = baseline ?? Tensor.zeros(input.shape)
        try checkSameShape(input, base, "coalition game")
        let n = input.count
        let group: [Int]
        if let featureMask {
            guard featureMask.count == n else {
                throw AttributionError.invalidArgument("feature mask has \(featureMask.count) entries, expected one per input element (\(n))")
            }
            group = featureMask
        } else {
            let inner = n / Swift.max(input.shape.first ?? 1, 1)
            group = (0..<n).map { $0 / Swift.max(inner, 1) }
        }
        let players = (group.max() ?? -1) + 1
        guard players > 0, group.allSatisfy({ $0 >= 0 }), Set(group).count == players else {
            throw AttributionError.invalidArgument("feature mask must use every id in 0..<\(players) and no negative ids")
        }
        let x = input.scalars, x0 = base.scalars, shape = input.shape
        self.init(players: players) { masks in
            var out: [Double] = []
            out.reserveCapacity(masks.count)
            for range in chunks(masks.count, size: internalBatchSize) {
                let rows = range.map { r in (0..<n).map { masks[r][group[$0]] ? x[$0] : x0[$0] } }
                out += function.values(stackRows(rows, shape: shape))
            }
            return out
        }
    }
}

/// What a perturbation method returns: one score per feature.
public struct FeatureAttribution: Sendable, Equatable {
    public var attributions: [Double]
    /// v(∅): the value with every feature at the baseline.
    public var baseValue: Double
    /// v(N): the value at the input.
    public var fullValue: Double
    /// Σ attributions − (v(N) − v(∅)) (0 for methods with efficiency).
    public var delta: Double { attributions.reduce(0, +) - (fullValue - baseValue) }
    /// Function evaluations used.
    public var evaluations: Int
}

/// Occlusion / leave-one-out (Zeiler & Fergus, arXiv 1311.2901; as in Captum's `Occlusion`
/// with a window of one feature): attribution i = v(N) − v(N ∖ {i}), the drop when feature i
/// alone is replaced by the baseline (a replacement token, the mean embedding, zeros).
public struct Occlusion: Sendable {
    public var game: CoalitionGame
    public init(_ game: CoalitionGame) { self.game = game }

    public func attribute() -> FeatureAttribution {
        let n = game.players
        var masks = [[Bool](repeating: true, count: n), [Bool](repeating: false, count: n)]
        for i in 0..<n { var m = [Bool](repeating: true, count: n); m[i] = false; masks.append(m) }
        let v = game.evaluate(masks)
        return FeatureAttribution(attributions: (0..<n).map { v[0] - v[2 + $0] }, baseValue: v[1], fullValue: v[0], evaluations: masks.count)
    }
}

/// Exact Shapley values (Shapley 1953; the attribution form of Lundberg & Lee, arXiv
/// 1705.07874): φᵢ = Σ_{S ⊆ N∖{i}} |S|!(n−|S|−1)!/n! · (v(S ∪ {i}) − v(S)), from all 2ⁿ
/// coalitions — practical up to ~14 features, refused above 20.
public struct ExactShapley: Sendable {
    public var game: CoalitionGame
    public init(_ game: CoalitionGame) { self.game = game }

    public static let maxPlayers = 20

    public func attribute() throws -> FeatureAttribution {
        let n = game.players
        guard n <= ExactShapley.maxPlayers else {
            throw AttributionError.invalidArgument("exact Shapley values need 2^\(n) evaluations; use at most \(ExactShapley.maxPlayers) features (or Kernel SHAP)")
        }
        let count = 1 << n
        let v = game.evaluate((0..<count).map { s in (0..<n).map { s & (1 << $0) != 0 } })
        // weight(|S|) = |S|! (n − |S| − 1)! / n!
        var weight = [Double](repeating: 0, count: n)
        for k in 0..<n { weight[k] = 1 / (Double(n) * binomial(n - 1, k)) }
        var phi = [Double](repeating: 0, count: n)
        for s in 0..<count {
            let size = s.nonzeroBitCount
            for i in 0..<n where s & (1 << i) == 0 {
                phi[i] += weight[size] * (v[s | (1 << i)] - v[s])
            }
        }
        return FeatureAttribution(attributions: phi, baseValue: v[0], fullValue: v[count - 1], evaluations: count)
    }
}

/// Kernel SHAP (Lundberg & Lee, "A Unified Approach to Interpreting Model Predictions",
/// arXiv 1705.07874): Shapley values as the weighted least-squares fit of v(S) ≈ φ₀ + Σ_{i∈S} φᵢ
/// with the Shapley kernel π(S) = (n−1) / (C(n,|S|) |S| (n−|S|)), under the efficiency
/// constraint Σφᵢ = v(N) − v(∅) (and φ₀ = v(∅)). With `samples` = nil, or at least the
/// 2ⁿ − 2 proper coalitions, every coalition is used and the result equals the exact Shapley
/// values; otherwise `samples` coalitions are drawn (seeded) with sizes from the kernel's
/// distribution and uniform members, each then weighted equally.
public struct KernelSHAP: Sendable {
    public var game: CoalitionGame
    public var samples: Int?
    public var seed: UInt64

    public init(_ game: CoalitionGame, samples: Int? = nil, seed: UInt64 = 0) {
        self.game = game
        self.samples = samples
        self.seed = seed
    }

    public func attribute() throws -> FeatureAttribution {
        let n = game.players
        guard n >= 2 else {
            let v = game.evaluate([[true], [false]])
            return FeatureAttribution(attributions: [v[0] - v[1]], baseValue: v[1], fullValue: v[0], evaluations: 2)
        }
        var masks: [[Bool]] = []
        var weights: [Double] = []
        let proper = n < 62 ? (1 << n) - 2 : Int.max
        if let samples, samples < proper {
            guard samples >= 1 else { throw AttributionError.invalidArgument("Kernel SHAP samples = \(samples): expected ≥ 1") }
            var rng = SeededGenerator(seed: seed)
            // P(size k) ∝ (n − 1) / (k (n − k)).
            let sizeWeights = (1..<n).map { k in Double(n - 1) / (Double(k) * Double(n - k)) }
            let totalWeight = sizeWeights.reduce(0, +)
            for _ in 0..<samples {
                var u = rng.nextDouble() * totalWeight, k = 1
                while k < n - 1 && u >= sizeWeights[k - 1] { u -= sizeWeights[k - 1]; k += 1 }
                var members = Array(0..<n)
                rng.shuffle(&members)
                var m = [Bool](repeating: false, count: n)
                for i in members.prefix(k) { m[i] = true }
                masks.append(m)
                weights.append(1)
            }
        } else {
            guard n <= ExactShapley.maxPlayers else {
                throw AttributionError.invalidArgument("Kernel SHAP over all coalitions needs 2^\(n) evaluations; pass a number of samples")
            }
            for s in 1..<((1 << n) - 1) {
                let m = (0..<n).map { s & (1 << $0) != 0 }
                let k = s.nonzeroBitCount
                masks.append(m)
                weights.append(Double(n - 1) / (binomial(n, k) * Double(k) * Double(n - k)))
            }
        }
        let ends = game.evaluate([[Bool](repeating: true, count: n), [Bool](repeating: false, count: n)])
        let full = ends[0], empty = ends[1], total = full - empty
        let v = game.evaluate(masks)
        // Eliminate φ_{n−1} = total − Σ_{i<n−1} φᵢ: y − z_{n−1}·total ≈ Σ_{i<n−1} (zᵢ − z_{n−1}) φᵢ.
        var rows: [[Double]] = [], targets: [Double] = []
        for (m, value) in zip(masks, v) {
            let zl = m[n - 1] ? 1.0 : 0.0
            rows.append((0..<(n - 1)).map { (m[$0] ? 1.0 : 0.0) - zl })
            targets.append(value - empty - zl * total)
        }
        let phiHead = try WeightedLeastSquares.solve(rows: rows, targets: targets, weights: weights, ridge: 0, intercept: false).coefficients
        let phi = phiHead + [total - phiHead.reduce(0, +)]
        return FeatureAttribution(attributions: phi, baseValue: empty, fullValue: full, evaluations: masks.count + 2)
    }
}

/// What LIME returns.
public struct LIMEResult: Sendable, Equatable {
    /// Surrogate coefficients per feature (0 for features not selected).
    public var coefficients: [Double]
    public var intercept: Double
    /// Indices of the features the sparse surrogate kept, by decreasing |coefficient|.
    public var selected: [Int]
    /// Weighted R² of the surrogate on the samples.
    public var score: Double
    public var evaluations: Int
}

/// LIME (Ribeiro, Singh & Guestrin, "Why Should I Trust You?", arXiv 1602.04938): a sparse
/// weighted linear surrogate of v over `samples` random coalitions (seeded; each feature kept
/// with probability ½, the first sample is the input itself), weighted by the exponential
/// kernel π(z) = exp(−D(z)² / width²) with D the cosine distance between z and the all-ones
/// vector. The surrogate is a ridge regression (λ = `ridge`, with intercept, as LIME's
/// default `Ridge(alpha=1)`); with `maxFeatures` = K the K features of largest |coefficient|
/// are kept and the ridge refitted on them (LIME's "highest weights" selection).
public struct LIME: Sendable {
    public var game: CoalitionGame
    public var samples: Int
    public var kernelWidth: Double
    public var maxFeatures: Int?
    public var ridge: Double
    public var seed: UInt64

    public init(_ game: CoalitionGame, samples: Int = 500, kernelWidth: Double = 0.25, maxFeatures: Int? = nil,
                ridge: Double = 1, seed: UInt64 = 0) {
        self.game = game
        self.samples = samples
        self.kernelWidth = kernelWidth
        self.maxFeatures = maxFeatures
        self.ridge = ridge
        self.seed = seed
    }

    public func attribute() throws -> LIMEResult {
        let n = game.players
        guard samples >= 2 else { throw AttributionError.invalidArgument("LIME samples = \(samples): expected ≥ 2") }
        guard kernelWidth > 0 else { throw AttributionError.invalidArgument("LIME kernel width \(kernelWidth): expected > 0") }
        if let k = maxFeatures, k < 1 || k > n { throw AttributionError.invalidArgument("LIME max features \(k): expected 1…\(n)") }
        var rng = SeededGenerator(seed: seed)
        var masks: [[Bool]] = [[Bool](repeating: true, count: n)]
        while masks.count < samples { masks.append((0..<n).map { _ in rng.next() & 1 == 1 }) }
        let v = game.evaluate(masks)
        let weights = masks.map { m -> Double in
            let on = Double(m.filter { $0 }.count)
            let cosine = on == 0 ? 0 : on / (on.squareRoot() * Double(n).squareRoot())
            let d = 1 - cosine
            return Foundation.exp(-(d * d) / (kernelWidth * kernelWidth))
        }
        let design = masks.map { $0.map { $0 ? 1.0 : 0.0 } }
        var fit = try WeightedLeastSquares.solve(rows: design, targets: v, weights: weights, ridge: ridge, intercept: true)
        var selected = Array(0..<n)
        if let k = maxFeatures, k < n {
            selected = Array((0..<n).sorted { Swift.abs(fit.coefficients[$0]) > Swift.abs(fit.coefficients[$1]) }.prefix(k))
            let sub = design.map { row in selected.map { row[$0] } }
            let refit = try WeightedLeastSquares.solve(rows: sub, targets: v, weights: weights, ridge: ridge, intercept: true)
            var coefficients = [Double](repeating: 0, count: n)
            for (j, i) in selected.enumerated() { coefficients[i] = refit.coefficients[j] }
            fit = WeightedLeastSquares.Fit(coefficients: coefficients, intercept: refit.intercept, score: refit.score)
        }
        selected.sort { Swift.abs(fit.coefficients[$0]) > Swift.abs(fit.coefficients[$1]) }
        return LIMEResult(coefficients: fit.coefficients, intercept: fit.intercept, selected: selected, score: fit.score,
                          evaluations: masks.count)
    }
}

func binomial(_ n: Int, _ k: Int) -> Double {
    guard k >= 0 && k <= n else { return 0 }
    var r = 1.0
    for i in 0..<Swift.min(k, n - k) { r = r * Double(n - i) / Double(i + 1) }
    return r
}

/// Weighted (ridge) least squares in Double: minimises Σ wᵣ (yᵣ − b − xᵣ·β)² + λ‖β‖²
/// (the intercept b is not penalised) through the normal equations.
enum WeightedLeastSquares {
    struct Fit { var coefficients: [Double]; var intercept: Double; var score: Double }

    static func solve(rows: [[Double]], targets: [Double], weights: [Double], ridge: Double, intercept: Bool) throws -> Fit {
        let p = rows.first?.count ?? 0
        let q = p + (intercept ? 1 : 0)
        var a = [Double](repeating: 0, count: q * q), b = [Double](repeating: 0, count: q)
        for (r, row) in rows.enumerated() {
            let x = intercept ? row + [1] : row
            let w = weights[r]
            for i in 0..<q {
                b[i] += w * x[i] * targets[r]
                for j in 0..<q { a[i * q + j] += w * x[i] * x[j] }
            }
        }
        for i in 0..<p { a[i * q + i] += ridge }
        let beta = try solveLinear(a, b, q)
        let coefficients = Array(beta.prefix(p)), b0 = intercept ? beta[p] : 0
        // Weighted R².
        let wsum = weights.reduce(0, +)
        let mean = zip(weights, targets).reduce(0) { $0 + $1.0 * $1.1 } / Swift.max(wsum, 1e-300)
        var ssRes = 0.0, ssTot = 0.0
        for (r, row) in rows.enumerated() {
            let pred = b0 + zip(row, coefficients).reduce(0) { $0 + $1.0 * $1.1 }
            ssRes += weights[r] * (targets[r] - pred) * (targets[r] - pred)
            ssTot += weights[r] * (targets[r] - mean) * (targets[r] - mean)
        }
        return Fit(coefficients: coefficients, intercept: b0, score: ssTot > 0 ? 1 - ssRes / ssTot : 1)
    }

    /// Solves A x = b (A is q×q, row-major) by Gaussian elimination with partial pivoting.
    static func solveLinear(_ matrix: [Double], _ rhs: [Double], _ q: Int) throws -> [Double] {
        var a = matrix, b = rhs
        let scale = a.map(Swift.abs).max() ?? 1
        for col in 0..<q {
            var pivot = col
            for r in (col + 1)..<Swift.max(q, col + 1) where Swift.abs(a[r * q + col]) > Swift.abs(a[pivot * q + col]) { pivot = r }
            guard Swift.abs(a[pivot * q + col]) > 1e-13 * Swift.max(scale, 1e-300) else {
                throw AttributionError.invalidArgument("least squares: the design is singular (too few distinct coalitions for \(q) unknowns); use more samples")
            }
            if pivot != col {
                for j in 0..<q { a.swapAt(col * q + j, pivot * q + j) }
                b.swapAt(col, pivot)
            }
            for r in (col + 1)..<Swift.max(q, col + 1) {
                let f = a[r * q + col] / a[col * q + col]
                if f == 0 { continue }
                for j in col..<q { a[r * q + j] -= f * a[col * q + j] }
                b[r] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: q)
        for r in stride(from: q - 1, through: 0, by: -1) {
            var s = b[r]
            for j in (r + 1)..<q { s -= a[r * q + j] * x[j] }
            x[r] = s / a[r * q + r]
        }
        return x
    }
}
