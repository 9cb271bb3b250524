import Foundation
import GlassboxTensor

/// Probe accuracies at one residual index.
public struct ProbeLayerResult: Sendable, Codable, Equatable {
    /// Residual index r (r = 0 embedding, r = l + 1 output of block l).
    public var layer: Int
    /// Held-out accuracy of the logistic-regression probe.
    public var logistic: Double
    /// Held-out accuracy of the mass-mean probe.
    public var massMean: Double
    /// Held-out accuracy of the logistic probe trained on the control task.
    public var control: Double
    /// logistic − control (Hewitt & Liang's selectivity).
    public var selectivity: Double
    /// Training accuracy of the logistic probe.
    public var trainLogistic: Double
}

/// Probes at every residual index with a seeded held-out split and a control task.
///
/// Logistic-regression probes (arXiv 1610.01644) and mass-mean probes (arXiv 2310.06824) are
/// trained on the training part of each layer's activations and scored on the held-out part.
/// The control task (Hewitt & Liang, "Designing and Interpreting Probes with Control Tasks",
/// EMNLP 2019) gives each item type one random label (seeded), the same for every statement
/// about that item; a logistic probe with the same features, split and λ is trained on it,
/// and selectivity = task accuracy − control accuracy.
public struct ProbeSweep: Sendable, Codable, Equatable {
    public var layers: [ProbeLayerResult]
    public var trainCount: Int
    public var testCount: Int
    public var l2: Double
    public var seed: UInt64

    /// The layer with the highest held-out logistic accuracy (the first on ties).
    public var best: ProbeLayerResult? {
        layers.reduce(nil) { b, l in b == nil || l.logistic > b!.logistic ? l : b }
    }

    /// A seeded split of `count` indices: (train, test) with ⌈testFraction·count⌉ test items.
    public static func split(count: Int, testFraction: Double, seed: UInt64) -> (train: [Int], test: [Int]) {
        var rng = SeededGenerator(seed: seed)
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let nTest = min(count - 1, max(1, Int((testFraction * Double(count)).rounded(.up))))
        return (Array(order[nTest...]).sorted(), Array(order[..<nTest]).sorted())
    }

    /// Control labels: one seeded coin flip per distinct item (in sorted order of the items).
    public static func controlLabels(items: [String], seed: UInt64) -> [Bool] {
        var rng = SeededGenerator(seed: seed ^ 0x436F_6E74_726F_6C00)
        let types = Array(Set(items)).sorted()
        let label = Dictionary(uniqueKeysWithValues: types.map { ($0, rng.nextDouble() < 0.5) })
        return items.map { label[$0]! }
    }

    /// Runs the sweep over `activations` (every index it holds).
    public static func run(_ activations: ResidualActivations, labels: [Bool], items: [String], testFraction: Double = 0.25,
                           l2: Double = 1e-2, seed: UInt64 = 0, progress: ((Int, Int) -> Void)? = nil) throws -> ProbeSweep {
        guard labels.count == activations.count, items.count == labels.count else {
            throw SteeringProbeError.invalidArgument(name: "labels", value: "\(labels.count) labels, \(items.count) items", expected: "one per activation row (\(activations.count))")
        }
        guard testFraction > 0 && testFraction < 1 else {
            throw SteeringProbeError.invalidArgument(name: "test fraction", value: "\(testFraction)", expected: "in (0, 1)")
        }
        let (train, test) = split(count: labels.count, testFraction: testFraction, seed: seed)
        let control = controlLabels(items: items, seed: seed)
        func pick<T>(_ a: [T], _ idx: [Int]) -> [T] { idx.map { a[$0] } }
        var results: [ProbeLayerResult] = []
        for (k, r) in activations.indices.enumerated() {
            let rows = activations[r]
            let xTrain = pick(rows, train), xTest = pick(rows, test)
            let yTrain = pick(labels, train), yTest = pick(labels, test)
            let probe = try LogisticProbe.train(xTrain, yTrain, l2: l2, seed: seed)
            let massMean = try MassMeanProbe(xTrain, yTrain)
            let cTrain = pick(control, train)
            let controlAccuracy: Double
            if Set(cTrain).count == 2 {
                controlAccuracy = try LogisticProbe.train(xTrain, cTrain, l2: l2, seed: seed).accuracy(xTest, pick(control, test))
            } else {
                controlAccuracy = ProbeMetrics.accuracy(xTest.map { _ in cTrain[0] }, pick(control, test))
            }
            let acc = probe.accuracy(xTest, yTest)
            results.append(ProbeLayerResult(layer: r, logistic: acc, massMean: massMean.accuracy(xTest, yTest), control: controlAccuracy,
                                            selectivity: acc - controlAccuracy, trainLogistic: probe.accuracy(xTrain, yTrain)))
            progress?(k + 1, activations.indices.count)
        }
        return ProbeSweep(layers: results, trainCount: train.count, testCount: test.count, l2: l2, seed: seed)
    }
}
