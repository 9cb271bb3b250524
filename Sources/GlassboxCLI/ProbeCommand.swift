import ArgumentParser
import Foundation
import Glassbox

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Linear probes per layer on a CSV of labelled statements: held-out accuracy of logistic-regression (arXiv 1610.01644) and mass-mean (arXiv 2310.06824) probes, with a control task.")
    @OptionGroup var options: ModelOptions
    @Option(name: .long, help: "CSV with columns statement,label[,item] (e.g. data/probes/cities.csv).") var data: String
    @Option(name: .long, help: "Fraction of the statements held out for testing.") var testFraction = 0.25
    @Option(name: .long, help: "L2 penalty λ of the logistic probes (on standardised features).") var l2 = 1e-2
    @Option(name: .long, help: "Seed of the split, the control labels and the probes' starting weights.") var seed: UInt64 = 0
    @Option(name: .long, help: "Residual indices to probe, comma-separated (default: all, 0 = embedding).") var layers: String?
    @Option(name: .long, help: "Statements per forward pass.") var batchSize = 16
    @Option(name: .long, help: "Use only the first N statements of the file (a quick look).") var limit: Int?

    func validate() throws {
        guard testFraction > 0 && testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1)") }
        guard l2 >= 0 else { throw ValidationError("--l2 must be ≥ 0") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let limit, limit < 4 { throw ValidationError("--limit must be at least 4 (a training and a held-out part of both classes)") }
        _ = try layerList()
    }

    func layerList() throws -> [Int]? {
        guard let layers else { return nil }
        return try layers.split(separator: ",").map {
            guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw ValidationError("--layers: '\($0)' is not a residual index") }
            return v
        }
    }

    struct Output: Encodable {
        let data: String, statements: Int, train: Int, test: Int, l2: Double, seed: UInt64
        let bestLayer: Int?, layers: [ProbeLayerResult]
        enum CodingKeys: String, CodingKey { case data, statements, train, test, l2, seed, bestLayer = "best_layer", layers }
    }

    func run() throws {
        try CLIOutput.run {
            guard let text = FileManager.default.contents(atPath: data).flatMap({ String(data: $0, encoding: .utf8) }) else {
                throw SteeringProbeError.invalidData(source: data, line: 0, problem: "cannot read the file as UTF-8 text (does it exist?)")
            }
            var dataset = try ProbeDataset.parse(csv: text, source: data)
            if let limit, limit < dataset.count {
                dataset = ProbeDataset(statements: Array(dataset.statements.prefix(limit)), labels: Array(dataset.labels.prefix(limit)),
                                       items: Array(dataset.items.prefix(limit)))
                guard Set(dataset.labels).count == 2 else {
                    throw SteeringProbeError.invalidArgument(name: "--limit", value: "\(limit)", expected: "enough statements for both classes (the first \(limit) hold only one)")
                }
            }
            let m = try options.load()
            let prompts = try dataset.statements.map { try m.encode($0) }
            let acts = try ResidualActivations.collect(m.model, prompts: prompts, indices: try layerList(), batchSize: batchSize)
            let sweep = try ProbeSweep.run(acts, labels: dataset.labels, items: dataset.items, testFraction: testFraction, l2: l2, seed: seed)
            if options.json {
                try CLIOutput.json(Output(data: data, statements: dataset.count, train: sweep.trainCount, test: sweep.testCount,
                                          l2: l2, seed: seed, bestLayer: sweep.best?.layer, layers: sweep.layers))
                return
            }
            print("\(dataset.count) statements (\(sweep.trainCount) train / \(sweep.testCount) held out), \(Set(dataset.items).count) item types; λ = \(l2), seed \(seed)")
            let rows = sweep.layers.map { l -> [String] in
                [String(l.layer), HookName.resid(l.layer), String(format: "%.3f", l.logistic), String(format: "%.3f", l.massMean),
                 String(format: "%.3f", l.control), String(format: "%+.3f", l.selectivity),
                 String(repeating: "█", count: Int((l.logistic * 20).rounded())) + (l.layer == sweep.best?.layer ? " ◀ best" : "")]
            }
            print(Terminal.table(["r", "hook", "logistic", "mass-mean", "control", "selectivity", "held-out accuracy (logistic)"], rows))
        }
    }
}
