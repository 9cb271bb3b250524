import Foundation
import GlassboxTensor

/// Features as rows of Float vectors ([n][d]) with Bool labels.
public typealias ProbeFeatures = [[Float]]

/// Per-feature standardisation fitted on training rows (mean 0, variance 1; constant
/// features are left unscaled).
public struct Standardizer: Sendable, Codable, Equatable {
    public var mean: [Double]
    public var scale: [Double]

    public init(fitting rows: ProbeFeatures) {
        let d = rows.first?.count ?? 0
        mean = Vectors.mean(rows)
        var variance = [Double](repeating: 0, count: d)
        for r in rows { for j in 0..<d { let c = Double(r[j]) - mean[j]; variance[j] += c * c } }
        scale = variance.map { v in
            let s = (v / Double(max(rows.count, 1))).squareRoot()
            return s > 1e-12 ? 1 / s : 1
        }
    }

    public func apply(_ x: [Float]) -> [Double] { (0..<x.count).map { (Double(x[$0]) - mean[$0]) * scale[$0] } }
}

/// A logistic-regression probe (Alain & Bengio, "Understanding intermediate layers using
/// linear classifier probes", arXiv 1610.01644): p(y = 1 | x) = σ(w·x̂ + b) on standardised
/// features x̂, trained full batch with L-BFGS on the mean cross-entropy + (λ/2)‖w‖²
/// (a strictly convex objective, so the optimum does not depend on the seeded start).
public struct LogisticProbe: Sendable, Codable, Equatable {
    public var standardizer: Standardizer
    public var weights: [Double]
    public var bias: Double
    /// Final value of the training objective.
    public var loss: Double
    public var iterations: Int

    /// Probability of the positive class.
    public func probability(_ x: [Float]) -> Double {
        let z = zip(weights, standardizer.apply(x)).reduce(bias) { $0 + $1.0 * $1.1 }
        return 1 / (1 + Foundation.exp(-z))
    }

    public func predict(_ x: [Float]) -> Bool { probability(x) > 0.5 }

    public func accuracy(_ rows: ProbeFeatures, _ labels: [Bool]) -> Double {
        ProbeMetrics.accuracy(rows.map(predict), labels)
    }

    /// Fits the probe. `l2` is λ; `seed` draws the (small, normal) starting weights.
    public static func train(_ rows: ProbeFeatures, _ labels: [Bool], l2: Double = 1e-2, seed: UInt64 = 0,
                             maxIterations: Int = 300, tolerance: Double = 1e-7) throws -> LogisticProbe {
        try ProbeMetrics.checkShapes(rows, labels)
        guard l2 >= 0 else { throw SteeringProbeError.invalidArgument(name: "l2", value: "\(l2)", expected: "≥ 0") }
        let standardizer = Standardizer(fitting: rows)
        let x = rows.map(standardizer.apply)
        let y = labels.map { $0 ? 1.0 : 0.0 }
        let n = Double(x.count), d = x[0].count
        var rng = SeededGenerator(seed: seed)
        var theta = (0..<d).map { _ in Double(rng.nextNormal()) * 0.01 } + [0]   // [w…, b]

        func objective(_ th: [Double]) -> (Double, [Double]) {
            var loss = 0.0
            var g = [Double](repeating: 0, count: d + 1)
            for i in 0..<x.count {
                var z = th[d]
                let xi = x[i]
                for j in 0..<d { z += th[j] * xi[j] }
                // softplus(z) − y z, stably.
                loss += (z > 0 ? z + Foundation.log1p(Foundation.exp(-z)) : Foundation.log1p(Foundation.exp(z))) - y[i] * z
                let r = 1 / (1 + Foundation.exp(-z)) - y[i]
                for j in 0..<d { g[j] += r * xi[j] }
                g[d] += r
            }
            var reg = 0.0
            for j in 0..<d { g[j] = g[j] / n + l2 * th[j]; reg += th[j] * th[j] }
            g[d] /= n
            return (loss / n + 0.5 * l2 * reg, g)
        }

        let (best, value, iterations) = LBFGS.minimize(theta, objective, maxIterations: maxIterations, tolerance: tolerance)
        theta = best
        return LogisticProbe(standardizer: standardizer, weights: Array(theta[0..<d]), bias: theta[d], loss: value, iterations: iterations)
    }
}

/// A mass-mean probe (Marks & Tegmark, "The Geometry of Truth", arXiv 2310.06824): the
/// direction θ = μ₊ − μ₋ between the class means, and the decision p(x) = σ(θ·x − c) with the
/// threshold c = θ·(μ₊ + μ₋)/2 halfway between the projected means (no optimisation).
public struct MassMeanProbe: Sendable, Codable, Equatable {
    /// μ₊ − μ₋ in the raw activation space.
    public var direction: [Double]
    public var threshold: Double

    public init(_ rows: ProbeFeatures, _ labels: [Bool]) throws {
        try ProbeMetrics.checkShapes(rows, labels)
        let pos = zip(rows, labels).filter { $0.1 }.map(\.0), neg = zip(rows, labels).filter { !$0.1 }.map(\.0)
        guard !pos.isEmpty, !neg.isEmpty else {
            throw SteeringProbeError.invalidArgument(name: "labels", value: "\(pos.count) true, \(neg.count) false", expected: "both classes present")
        }
        let mp = Vectors.mean(pos), mn = Vectors.mean(neg)
        direction = zip(mp, mn).map { $0 - $1 }
        threshold = zip(direction, zip(mp, mn)).reduce(0) { $0 + $1.0 * ($1.1.0 + $1.1.1) / 2 }
    }

    public func score(_ x: [Float]) -> Double { Vectors.dot(direction, x) - threshold }
    public func predict(_ x: [Float]) -> Bool { score(x) > 0 }
    public func accuracy(_ rows: ProbeFeatures, _ labels: [Bool]) -> Double { ProbeMetrics.accuracy(rows.map(predict), labels) }
}

public enum ProbeMetrics {
    public static func accuracy(_ predicted: [Bool], _ labels: [Bool]) -> Double {
        guard !labels.isEmpty else { return .nan }
        return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    static func checkShapes(_ rows: ProbeFeatures, _ labels: [Bool]) throws {
        guard !rows.isEmpty, rows.count == labels.count else {
            throw SteeringProbeError.invalidArgument(name: "probe data", value: "\(rows.count) rows, \(labels.count) labels", expected: "as many labels as rows, at least one")
        }
        let d = rows[0].count
        guard d > 0, rows.allSatisfy({ $0.count == d }) else {
            throw SteeringProbeError.invalidArgument(name: "probe features", value: "rows of differing or zero width", expected: "every row of the same width > 0")
        }
    }
}

/// Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4) with a backtracking Armijo line
/// search, for smooth convex objectives of a few thousand variables.
enum LBFGS {
    static func minimize(_ start: [Double], _ f: ([Double]) -> (Double, [Double]), memory: Int = 10,
                         maxIterations: Int, tolerance: Double) -> (x: [Double], value: Double, iterations: Int) {
        var x = start
        var (fx, g) = f(x)
        var sList: [[Double]] = [], yList: [[Double]] = [], rhoList: [Double] = []
        func dot(_ a: [Double], _ b: [Double]) -> Double { var s = 0.0; for i in 0..<a.count { s += a[i] * b[i] }; return s }
        var iteration = 0
        while iteration < maxIterations {
            iteration += 1
            if dot(g, g).squareRoot() < tolerance { break }
            // Two-loop recursion: direction = −H g.
            var q = g
            var alphas = [Double](repeating: 0, count: sList.count)
            for i in stride(from: sList.count - 1, through: 0, by: -1) {
                alphas[i] = rhoList[i] * dot(sList[i], q)
                for j in 0..<q.count { q[j] -= alphas[i] * yList[i][j] }
            }
            if let s = sList.last, let y = yList.last {
                let gamma = dot(s, y) / dot(y, y)
                for j in 0..<q.count { q[j] *= gamma }
            }
            for i in 0..<sList.count {
                let beta = rhoList[i] * dot(yList[i], q)
                for j in 0..<q.count { q[j] += sList[i][j] * (alphas[i] - beta) }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 { direction = g.map { -$0 }; slope = -dot(g, g); sList = []; yList = []; rhoList = [] }
            var step = sList.isEmpty ? min(1, 1 / max(dot(g, g).squareRoot(), 1e-12)) : 1.0
            var accepted = false
            var newX = x, newF = fx, newG = g
            for _ in 0..<40 {
                newX = zip(x, direction).map { $0 + step * $1 }
                (newF, newG) = f(newX)
                if newF <= fx + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            guard accepted else { break }
            let s = zip(newX, x).map { $0 - $1 }, y = zip(newG, g).map { $0 - $1 }
            let sy = dot(s, y)
            if sy > 1e-12 {
                sList.append(s); yList.append(y); rhoList.append(1 / sy)
                if sList.count > memory { sList.removeFirst(); yList.removeFirst(); rhoList.removeFirst() }
            }
            let decrease = fx - newF
            x = newX; fx = newF; g = newG
            if decrease < tolerance * max(1, abs(fx)) { break }
        }
        return (x, fx, iteration)
    }
}
