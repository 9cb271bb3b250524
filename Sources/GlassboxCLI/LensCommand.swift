import ArgumentParser
import Foundation
import Glassbox

/// `glassbox lens`: the logit lens (or a tuned lens) of a prompt, and `glassbox lens train`.
struct LensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lens",
        abstract: "Logit lens / tuned lens: what each residual index predicts (KL to the final output, top tokens).",
        subcommands: [Show.self, Train.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Decode every residual index of a prompt (the default subcommand).")
        @OptionGroup var options: ModelOptions
        @OptionGroup var input: PromptOptions
        @Option(name: .long, help: "A tuned lens written by `glassbox lens train` (safetensors); without it, the logit lens.") var tuned: String?
        @Option(name: .long, help: "Token position to read (0-based; negative counts from the end). Default: the last.") var position: Int?
        @Option(name: .long, help: "How many top tokens per residual index.") var top = 5
        @Option(name: .long, help: "A token (text, e.g. \" Paris\") whose rank and probability to report.") var target: String?
        @Flag(name: .long, help: "Also show a heatmap of KL(final ‖ lens) over every residual index × position.") var grid = false

        func validate() throws {
            guard top > 0 else { throw ValidationError("--top must be positive") }
        }

        struct Token: Encodable { let id: Int; let token: String; let prob: Double }
        struct Layer: Encodable {
            let layer: Int; let kl: Double; let top: [Token]
            let target_rank: Int?; let target_prob: Double?
        }
        struct Output: Encodable {
            let tokens: [String]; let ids: [Int]; let position: Int; let lens: String
            let target: Token?; let layers: [Layer]; let kl_grid: [[Double]]?
        }

        func run() throws {
            try CLIOutput.run {
                let m = try options.load()
                let ids = try input.encode(with: m).ids
                let pos = try CLIPositions.resolve(position, length: ids.count)
                var lens = LogitLens(topK: top)
                if let tuned { lens.translator = try TunedLens.load(from: URL(fileURLWithPath: tuned), for: m.model) }
                let targetID = try target.map { try CLITokens.single($0, model: m, option: "--target") }
                let positions = grid ? Array(0..<ids.count) : [pos]
                let result = try lens.apply(m.model, ids: ids, positions: positions, target: targetID)
                let at = positions.firstIndex(of: pos)!
                let text = CLITokens.texts(ids, model: m)
                let layers = result.readings.enumerated().map { r, row in
                    Layer(layer: r, kl: row[at].kl,
                          top: row[at].top.map { Token(id: $0.id, token: CLITokens.text($0.id, model: m), prob: $0.prob) },
                          target_rank: row[at].targetRank, target_prob: row[at].targetProb)
                }
                let klGrid = grid ? result.readings.map { $0.map(\.kl) } : nil
                let out = Output(tokens: text, ids: ids, position: pos, lens: tuned == nil ? "logit" : "tuned",
                                 target: targetID.map { Token(id: $0, token: CLITokens.text($0, model: m), prob: 0) },
                                 layers: layers, kl_grid: klGrid)
                if options.json { try CLIOutput.json(out); return }
                print("\(out.lens) lens of \(m.name) at position \(pos) (\(text[pos].debugDescription)) of \(ids.count) tokens; r = 0 embedding, r = l+1 after block l")
                var header = ["r", "KL(final‖lens)", ""]
                if targetID != nil { header += ["target rank", "target p"] }
                header.append("top tokens (prob)")
                let maxKL = layers.map(\.kl).max() ?? 1
                let rows = layers.map { l -> [String] in
                    var row = [String(l.layer), String(format: "%.4f", l.kl), CLIBars.bar(l.kl, max: maxKL, width: 20)]
                    if targetID != nil { row += [String(l.target_rank ?? -1), String(format: "%.4f", l.target_prob ?? 0)] }
                    row.append(l.top.map { "\($0.token.debugDescription) \(String(format: "%.3f", $0.prob))" }.joined(separator: "  "))
                    return row
                }
                print(Terminal.table(header, rows))
                if let klGrid {
                    print("")
                    print(Terminal.heatmap(klGrid, rowLabels: layers.map { "r=\($0.layer)" }, columnLabels: text,
                                           title: "KL(final ‖ lens) per residual index (rows) × position (columns)"))
                }
            }
        }
    }

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "train", abstract: "Train a tuned lens (arXiv 2303.08112) by distillation on a text corpus.")
        @OptionGroup var options: ModelOptions
        @Option(name: .long, help: "Where to write the translators (safetensors).") var output: String
        @Option(name: .long, help: "Text files to train on (repeatable). Default: every data/corpus/*.txt.") var corpus: [String] = []
        @Option(name: .long, help: "Residual indices to train, comma-separated (default: all 0..<layers).") var layers: String?
        @Option(name: .long, help: "Optimiser steps per translator.") var steps = 100
        @Option(name: .long, help: "Tokens per optimiser step.") var batchTokens = 64
        @Option(name: .long, help: "Adam learning rate.") var learningRate: Float = 1e-3
        @Option(name: .long, help: "Chunk length for caching activations.") var sequenceLength = 64
        @Option(name: .long, help: "Use at most this many corpus tokens.") var maxTokens = 1024
        @Option(name: .long, help: "Tokens at the end of the corpus held out for evaluation.") var heldOut = 128
        @Option(name: .long, help: "Seed of the batch sampling.") var seed: UInt64 = 0

        func parsedLayers() throws -> [Int]? {
            guard let layers else { return nil }
            return try layers.split(separator: ",").map {
                guard let v = Int($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--layers: '\($0)' is not a residual index") }
                return v
            }
        }

        func validate() throws { _ = try parsedLayers() }

        struct Output: Encodable { let output: String; let train_tokens: Int; let indices: [TunedLensTrainer.IndexReport] }

        func run() throws {
            try CLIOutput.run {
                let m = try options.load()
                let files = try corpus.isEmpty ? CLICorpus.defaultFiles() : corpus.map { URL(fileURLWithPath: $0) }
                var tokens: [Int] = []
                for f in files {
                    guard let text = try? String(contentsOf: f, encoding: .utf8) else {
                        throw ModelError.invalidInput("\(f.path): not a readable UTF-8 text file")
                    }
                    tokens += try m.encode(text)
                }
                let config = TunedLensTrainer.Configuration(indices: try parsedLayers(), steps: steps, batchTokens: batchTokens,
                                                            learningRate: learningRate, sequenceLength: sequenceLength,
                                                            maxTokens: maxTokens, heldOutTokens: heldOut, seed: seed)
                let (lens, report) = try TunedLensTrainer(config).train(m.model, tokens: tokens, metadata: ["model": m.name]) { f, msg in
                    CLIOutput.note(String(format: "[%3.0f%%] ", f * 100) + msg)
                }
                try lens.save(to: URL(fileURLWithPath: output))
                let out = Output(output: output, train_tokens: Swift.min(tokens.count, maxTokens) - heldOut, indices: report)
                if options.json { try CLIOutput.json(out); return }
                print("wrote \(output): \(report.count) translators, trained on \(out.train_tokens) tokens of \(files.count) file(s)")
                print(Terminal.table(["r", "logit lens KL", "tuned lens KL", "last train loss"], report.map {
                    [String($0.index), String(format: "%.4f", $0.logitLensKL), String(format: "%.4f", $0.tunedLensKL), String(format: "%.4f", $0.finalTrainingLoss)]
                }))
                print("(KL(final ‖ lens) in nats, mean over \(heldOut) held-out tokens)")
            }
        }
    }
}

/// Helpers shared by the lens, attention and dla commands.
enum CLIPositions {
    /// A position given on the command line (negative counts from the end); nil = the last.
    static func resolve(_ p: Int?, length: Int) throws -> Int {
        guard let p else { return length - 1 }
        let v = p < 0 ? length + p : p
        guard v >= 0 && v < length else { throw ModelError.invalidInput("--position \(p) is outside the prompt's \(length) tokens (0…\(length - 1), or -1…-\(length))") }
        return v
    }
}

enum CLITokens {
    /// The readable text of one token (decoded bytes, e.g. " Paris").
    static func text(_ id: Int, model m: LoadedModel) -> String { m.tokenizer?.decode([id]) ?? "<\(id)>" }
    static func texts(_ ids: [Int], model m: LoadedModel) -> [String] { ids.map { text($0, model: m) } }

    /// The id of a text that must be exactly one token.
    static func single(_ s: String, model m: LoadedModel, option: String) throws -> Int {
        let ids = try m.encode(s)
        guard ids.count == 1 else {
            throw ModelError.invalidInput("\(option) \(s.debugDescription) is \(ids.count) tokens (\(ids)); it must be exactly one token (mind the leading space)")
        }
        return ids[0]
    }
}

enum CLIBars {
    /// A horizontal bar of `value / max` of `width` cells.
    static func bar(_ value: Double, max: Double, width: Int) -> String {
        let n = max > 0 && value.isFinite ? Int((value / max * Double(width)).rounded()) : 0
        return String(repeating: "█", count: Swift.max(0, Swift.min(width, n)))
    }
}

enum CLICorpus {
    /// Every `data/corpus/*.txt`, sorted by name.
    static func defaultFiles() throws -> [URL] {
        let dir = try DataFiles.locate("corpus")
        let files = (try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil))
            .filter { $0.pathExtension == "txt" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        guard !files.isEmpty else { throw ModelError.invalidInput("\(dir.path): no .txt files (pass --corpus FILE)") }
        return files
    }
}
