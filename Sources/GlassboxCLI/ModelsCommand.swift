import ArgumentParser
import Foundation
import Glassbox

/// Options shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Registry name (see `glassbox models list`), a GGUF file, or a folder with config.json + model.safetensors.")
    var model: String = "smollm2-135m-instruct"

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func load() throws -> LoadedModel {
        try ModelLoader.load(model, log: { CLIOutput.note($0) })
    }
}

/// The prompt and how it is framed (shared by `logits` and `generate`).
struct PromptOptions: ParsableArguments {
    @Argument(help: "The prompt.") var prompt: String
    @Flag(name: .long, help: "Wrap the prompt as a user message in the model's chat template.") var chat = false
    @Option(name: .long, help: "With --chat: a system message (else the template's default).") var system: String?
    @Option(name: .long, help: "Token id(s) put before the prompt, comma-separated (e.g. 0 for <|endoftext|> as attention sink).")
    var prefix: String?

    func validate() throws { _ = try prefixIDs() }

    func prefixIDs() throws -> [Int] {
        guard let prefix, !prefix.isEmpty else { return [] }
        return try prefix.split(separator: ",").map {
            guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw ValidationError("--prefix: '\($0)' is not a token id") }
            return v
        }
    }

    /// The text actually tokenized (after the chat template) and its ids.
    func encode(with m: LoadedModel) throws -> (text: String, ids: [Int]) {
        let text = chat ? try m.chatPrompt(prompt, system: system) : prompt
        return (text, try m.encode(text, prefix: try prefixIDs()))
    }
}

enum CLIOutput {
    static func note(_ line: String) {
        FileHandle.standardError.write(Data(("glassbox: " + line + "\n").utf8))
    }

    /// Prints one JSON object on one line.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Runs `body`, turning library errors into a message and exit status 1.
    static func run(_ body: () throws -> Void) throws {
        do { try body() } catch let e as ValidationError { throw e } catch let e as ExitCode { throw e } catch {
            note("error: \(error)")
            throw ExitCode(1)
        }
    }
}

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List, fetch and inspect models.",
        subcommands: [List.self, Fetch.self, Inspect.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The registry and what is cached.")
        @Flag(name: .long, help: "Print one JSON object.") var json = false

        struct Row: Encodable { let name, summary, package, path: String; let cached: Bool }

        func run() throws {
            let cache = ModelCache.default
            let rows = ModelRegistry.entries.map { Row(name: $0.name, summary: $0.summary, package: $0.requirement,
                                                       path: cache.loadPath($0), cached: cache.isCached($0)) }
            struct Output: Encodable { let cache: String; let models: [Row] }
            if json { return try CLIOutput.json(Output(cache: cache.root, models: rows)) }
            print("cache: \(cache.root)")
            for r in rows { print("\(r.cached ? "✓" : " ") \(r.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(r.summary)  [\(r.package)]") }
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fetch models into the cache ($GLASSBOX_CACHE, default ~/.cache/glassbox). Quiet when already cached.")
        @Argument(help: "Registry names.") var names: [String] = []
        @Flag(name: .long, help: "Fetch every registry model.") var all = false
        @Flag(name: .long, help: "Print one JSON object.") var json = false

        func validate() throws {
            if names.isEmpty && !all { throw ValidationError("name a model or pass --all (known: \(ModelRegistry.names.joined(separator: ", ")))") }
            for n in names where ModelRegistry.entry(n) == nil {
                throw ValidationError("unknown model '\(n)' (known: \(ModelRegistry.names.joined(separator: ", ")))")
            }
        }

        func run() throws {
            let cache = ModelCache.default
            let entries = all ? ModelRegistry.entries : names.compactMap(ModelRegistry.entry)
            var paths: [String: String] = [:]
            try CLIOutput.run {
                for e in entries {
                    paths[e.name] = try cache.fetch(e, log: { CLIOutput.note("\(e.name): \($0)") })
                }
            }
            if json { try CLIOutput.json(paths) }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Architecture, hyper-parameters, tensor types and tokenizer of a model file or registry name.")
        @Argument(help: "A GGUF file, a safetensors folder, or a registry name.") var file: String
        @Flag(name: .long, help: "Print one JSON object.") var json = false

        struct Report: Encodable {
            let name, path, architecture: String
            let dimensions: ModelDimensions
            let tensorTypes: [String: Int]
            let tokenizer: String?
            let vocabularySize: Int?
            let chatTemplate: Bool
        }

        func run() throws {
            try CLIOutput.run {
                let m = try ModelLoader.load(file, log: { CLIOutput.note($0) })
                let tok = m.tokenizer.map { String(describing: type(of: $0)) }
                let r = Report(name: m.name, path: m.path, architecture: m.model.architecture.rawValue, dimensions: m.model.dimensions,
                               tensorTypes: m.tensorTypes, tokenizer: tok, vocabularySize: m.tokenizer?.vocabularySize,
                               chatTemplate: m.chatTemplate != nil)
                if json { try CLIOutput.json(r); return }
                let d = r.dimensions
                print("\(r.name): \(r.architecture) (\(r.path))")
                print("  layers \(d.layers), d_model \(d.dModel), heads \(d.heads) (kv \(d.kvHeads)), d_head \(d.dHead), d_mlp \(d.dMLP), vocab \(d.vocabularySize)\(d.maxPositions.map { ", positions \($0)" } ?? "")")
                print("  tensors: " + r.tensorTypes.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", "))
                print("  tokenizer: \(tok ?? "none supported")\(r.vocabularySize.map { " (\($0) tokens)" } ?? "")\(r.chatTemplate ? ", ChatML chat template" : "")")
            }
        }
    }
}
