import ArgumentParser
import Foundation
import Glassbox

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Causal tracing (arXiv 2202.05262): noise the subject, restore one state at a time, layer × position.")
    @OptionGroup var options: ModelOptions
    @Argument(help: "The factual prompt, e.g. \"The Eiffel Tower is located in the city of\".") var prompt: String
    @Option(name: .long, help: "The subject as it appears in the prompt, e.g. \"The Eiffel Tower\".") var subject: String
    @Option(name: .long, help: "The answer token (default: the model's top prediction on the clean prompt).") var answer: String?
    @Option(name: .long, help: "hidden, mlp or attention.") var kind: CausalTracing.Kind = .hidden
    @Option(name: .long, help: "Noise std as a multiple of the subject-embedding std.") var noise: Double = 3
    @Option(name: .long, help: "Subjects (comma-separated) over which the embedding std is measured (default: this subject).") var stdSubjects: String?
    @Option(name: .long, help: "Noise samples per state.") var samples = 5
    @Option(name: .long, help: "Layers restored together for mlp / attention.") var window = 10
    @Option(name: .long, help: "Seed of the noise.") var seed: UInt64 = 0

    struct Output: Encodable {
        let kind: String; let answer: String; let clean: Double; let corrupt: Double
        let noise_std: Double; let samples: Int; let window: Int
        let subject: [Int]; let tokens: [String]; let layers: [Int]
        let grid: [[Double]]; let indirect_effect: [[Double]]
    }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            guard let tok = m.tokenizer else { throw ModelError.invalidInput("\(m.name): no supported tokenizer") }
            let ids = tok.encode(prompt)
            func subjectIDs(_ s: String) -> [Int] { tok.encode((s.first == " " ? "" : " ") + s, addSpecialTokens: false, parseSpecial: false) }
            // The subject's tokens: as written at the prompt's start, or with a leading space inside it.
            let candidates = [tok.encode(subject, addSpecialTokens: false, parseSpecial: false), subjectIDs(subject)]
            guard let range = candidates.lazy.compactMap({ CausalTracing.locate($0, in: ids) }).first else {
                throw ValidationError("--subject \(subject.debugDescription) does not occur as tokens in the prompt (prompt tokens: \(PatchCLI.tokens(ids, m)))")
            }
            let stdSet = (stdSubjects?.split(separator: ",").map { subjectIDs(String($0)) } ?? []) + [Array(ids[range])]
            let sigma = try CausalTracing.subjectEmbeddingStd(model: m.model, subjects: stdSet)
            let answerID: Int
            if let answer { answerID = try PatchCLI.singleToken(answer, "--answer", m) } else {
                answerID = try m.model(TokenBatch(ids)).logits!.select(axis: 0, 0).select(axis: 0, ids.count - 1).argmax()[0]
            }
            let tracer = try CausalTracing(model: m.model, noiseStd: Float(noise) * sigma, samples: samples, window: window, seed: seed)
            let r = try tracer.run(ids: ids, subject: range, answer: answerID, kind: kind)
            let tokens = PatchCLI.tokens(ids, m)
            let answerText = PatchCLI.tokens([answerID], m)[0]
            if options.json {
                try CLIOutput.json(Output(kind: r.kind, answer: answerText, clean: r.clean, corrupt: r.corrupt, noise_std: r.noiseStd,
                                          samples: r.samples, window: r.window, subject: Array(r.subject), tokens: tokens,
                                          layers: Array(0..<r.grid.count), grid: r.grid, indirect_effect: r.indirectEffect))
                return
            }
            print(String(format: "p(%@): clean %.4f, subject noised %.4f (noise std %.4f = %.1f × %.4f, %d samples)",
                         answerText.debugDescription, r.clean, r.corrupt, r.noiseStd, noise, sigma, r.samples))
            // Transposed like the paper's figures: rows are tokens, columns layers.
            let transposed = tokens.indices.map { p in r.indirectEffect.map { $0[p] } }
            let labels = tokens.enumerated().map { p, t in (r.subject.contains(p) ? "*" : " ") + t.debugDescription }
            print(Terminal.heatmap(transposed, rowLabels: labels, columnLabels: [],
                                   title: "indirect effect of restoring \(r.kind)\(r.window > 1 ? " (window \(r.window))" : ""): rows tokens (* subject), columns layers 0…\(r.grid.count - 1)"))
        }
    }
}

struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Ablate heads, MLPs or neurons (zero, mean or resample) and measure the next-token metric.")
    @OptionGroup var options: ModelOptions
    @Argument(help: "The prompt.") var prompt: String
    @Option(name: .long, parsing: .upToNextOption, help: "Components: L.H (head), mlpL (MLP), L:N (neuron).") var component: [String]
    @Option(name: .long, help: "zero, mean or resample.") var mode: AblationMode = .zero
    @Option(name: .long, help: "A reference prompt for mean / resample ablation (repeat the option).") var reference: [String] = []
    @Option(name: .long, help: "The answer token, e.g. \" Mary\".") var answer: String?
    @Option(name: .long, help: "The competing token, e.g. \" John\".") var wrong: String?
    @Option(name: .long, help: "logit_diff (default), probability or kl (KL(unablated ‖ ablated)).") var metric = "logit_diff"
    @Option(name: .long, help: "Seed for picking the resample reference.") var seed: UInt64 = 0

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            guard let tok = m.tokenizer else { throw ModelError.invalidInput("\(m.name): no supported tokenizer") }
            let comps = try component.map { try AblationComponent(parsing: $0) }
            let metric = try PatchCLI.metric(self.metric, answer: answer, wrong: wrong, m)
            let result = try Ablation(model: m.model, metric: metric)
                .run(ids: tok.encode(prompt), components: comps, mode: mode, reference: reference.map { tok.encode($0) }, seed: seed)
            if options.json { try CLIOutput.json(result); return }
            print(String(format: "%@ unablated: %.4f (%@ ablation%@)", result.metric, result.baseline, result.mode,
                         result.resampledReference.map { " from reference \($0)" } ?? ""))
            print(Terminal.table(["component", result.metric, "change"],
                                 result.rows.map { [$0.component, String(format: "%.4f", $0.value), String(format: "%+.4f", $0.change)] }))
        }
    }
}
