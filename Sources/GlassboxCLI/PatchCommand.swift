import ArgumentParser
import Foundation
import Glassbox

extension PatchSite: ExpressibleByArgument {}
extension PatchPositions: ExpressibleByArgument {}
extension CausalTracing.Kind: ExpressibleByArgument {}
extension AblationMode: ExpressibleByArgument {}

/// Helpers shared by `patch`, `trace` and `ablate`.
enum PatchCLI {
    /// The id of a text that must be exactly one token (e.g. " Mary").
    static func singleToken(_ text: String, _ option: String, _ m: LoadedModel) throws -> Int {
        guard let tok = m.tokenizer else { throw ModelError.invalidInput("\(m.name): no supported tokenizer in \(m.path)") }
        let ids = tok.encode(text, addSpecialTokens: false, parseSpecial: false)
        guard ids.count == 1 else {
            throw ValidationError("\(option) \(text.debugDescription) is \(ids.count) tokens \(ids); it must be exactly one token (mind the leading space, e.g. \" Mary\")")
        }
        return ids[0]
    }

    static func tokens(_ ids: [Int], _ m: LoadedModel) -> [String] {
        ids.map { m.tokenizer?.decode([$0]) ?? "\($0)" }
    }

    /// The metric named by `--metric` with `--answer` / `--wrong`.
    static func metric(_ name: String, answer: String?, wrong: String?, _ m: LoadedModel) throws -> PatchMetric {
        switch name {
        case "logit_diff":
            guard let answer, let wrong else { throw ValidationError("--metric logit_diff needs --answer and --wrong") }
            return .logitDifference(answer: try singleToken(answer, "--answer", m), wrong: try singleToken(wrong, "--wrong", m))
        case "probability":
            guard let answer else { throw ValidationError("--metric probability needs --answer") }
            return .probability(answer: try singleToken(answer, "--answer", m))
        case "kl":
            return .klDivergence
        default:
            throw ValidationError("--metric '\(name)': expected logit_diff, probability or kl")
        }
    }

    static func layers(_ text: String?) throws -> [Int]? {
        guard let text, !text.isEmpty else { return nil }
        return try text.split(separator: ",").flatMap { part -> [Int] in
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let lo = Int(bounds[0]), let hi = Int(bounds.last!), lo >= 0, lo <= hi else {
                throw ValidationError("--layers: '\(part)' is not a layer or a range like 3-7")
            }
            return Array(lo...hi)
        }
    }
}

struct PatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Activation patching (arXiv 2211.00593): clean activations patched into a corrupted run, layer × position.")
    @OptionGroup var options: ModelOptions
    @Option(name: .long, help: "The clean prompt.") var clean: String
    @Option(name: .long, help: "The corrupted prompt (same number of tokens).") var corrupt: String
    @Option(name: .long, help: "The correct answer token of the clean prompt, e.g. \" Mary\".") var answer: String?
    @Option(name: .long, help: "The competing token, e.g. \" John\".") var wrong: String?
    @Option(name: .long, help: "logit_diff (default), probability (of --answer) or kl (KL(clean ‖ patched)).") var metric = "logit_diff"
    @Option(name: .long, help: "resid_pre, resid_mid, resid_post, attn_out, mlp_out or head.") var site: PatchSite = .residPre
    @Option(name: .long, help: "each (a column per position) or all (all positions at once).") var positions: PatchPositions = .each
    @Option(name: .long, help: "Layers, e.g. 0-5,10 (default all).") var layers: String?
    @Option(name: .long, help: "Copies of the prompt per forward pass (default about 512 tokens).") var batch: Int?
    @Flag(name: .long, help: "Report (patched − corrupt) / (clean − corrupt): 0 = corrupted, 1 = clean.") var normalize = false
    @Flag(name: .long, help: "Also estimate the grid by attribution patching (arXiv 2310.10348) and report its correlation.") var attribution = false

    struct Attribution: Encodable { let grid: [[Double]]; let correlation: Double }
    struct Output: Encodable {
        let metric: String; let site: String; let normalized: Bool
        let clean: Double; let corrupt: Double
        let grid: [[Double]]; let layers: [Int]; let rows: [String]; let columns: [String]; let tokens: [String]
        let attribution: Attribution?
    }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            guard let tok = m.tokenizer else { throw ModelError.invalidInput("\(m.name): no supported tokenizer") }
            let cleanIDs = tok.encode(clean), corruptIDs = tok.encode(corrupt)
            let metric = try PatchCLI.metric(self.metric, answer: answer, wrong: wrong, m)
            let tokens = PatchCLI.tokens(cleanIDs, m)
            let patching = try ActivationPatching(model: m.model, clean: cleanIDs, corrupt: corruptIDs, metric: metric, batchSize: batch)
            let ls = try PatchCLI.layers(layers)
            let result = try patching.run(site: site, positions: positions, layers: ls, columnLabels: tokens)
            var attr: Attribution?
            if attribution {
                let estimate = try AttributionPatching(model: m.model, clean: cleanIDs, corrupt: corruptIDs, metric: metric)
                    .run(site: site, positions: positions, layers: ls, columnLabels: tokens)
                attr = Attribution(grid: normalize ? estimate.normalizedGrid : estimate.grid, correlation: estimate.correlation(with: result))
            }
            let grid = normalize ? result.normalizedGrid : result.grid
            if options.json {
                try CLIOutput.json(Output(metric: result.metric, site: result.site, normalized: normalize, clean: result.clean,
                                          corrupt: result.corrupt, grid: grid, layers: result.layers, rows: result.rows,
                                          columns: result.columns, tokens: tokens, attribution: attr))
                return
            }
            print(String(format: "%@ clean %.4f, corrupt %.4f (site %@, %@)", result.metric, result.clean, result.corrupt,
                         result.site, normalize ? "normalized: 0 = corrupt, 1 = clean" : "raw values"))
            print(Terminal.heatmap(grid, rowLabels: result.rows.map { "L" + $0 }, columnLabels: result.columns,
                                   title: "rows: layers (\(result.site)); columns: \(positions == .each ? "positions" : result.columns.joined(separator: " "))"))
            if let attr {
                print(String(format: "attribution patching: correlation with exact patching %.4f", attr.correlation))
                print(Terminal.heatmap(attr.grid, rowLabels: result.rows.map { "L" + $0 }, columnLabels: [], title: "attribution-patching estimate"))
            }
        }
    }
}
