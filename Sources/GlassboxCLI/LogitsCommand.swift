import ArgumentParser
import Foundation
import Glassbox

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logits", abstract: "The top next-token logits at the last position of a prompt.")
    @OptionGroup var options: ModelOptions
    @Argument(help: "The prompt.") var prompt: String
    @Option(name: .long, help: "How many tokens to show.") var top = 10
    @Flag(name: .long, help: "Wrap the prompt as a user message in the model's chat template.") var chat = false
    @Option(name: .long, help: "With --chat: a system message (else the template's default).") var system: String?
    @Option(name: .long, help: "Token id(s) put before the prompt, comma-separated (e.g. 0 for <|endoftext|> as attention sink).")
    var prefix: String?

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive") }
        _ = try parsePrefix(prefix)
    }

    struct Entry: Encodable { let id: Int; let token: String; let logit: Float }
    struct Output: Encodable { let ids: [Int]; let top: [Entry] }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            guard m.model.isCausal else { throw ModelError.invalidInput("\(m.name) is an encoder; it has no next-token logits") }
            let text = chat ? try m.chatPrompt(prompt, system: system) : prompt
            let ids = try m.encode(text, prefix: try parsePrefix(prefix))
            let logits = try m.model(TokenBatch(ids)).logits!.select(axis: 0, 0).select(axis: 0, ids.count - 1)  // [vocab]
            let (values, indices) = logits.topK(Swift.min(top, logits.count))
            let entries = zip(indices, values.scalars).map { Entry(id: $0, token: m.tokenizer!.token($0) ?? "", logit: $1) }
            let out = Output(ids: ids, top: entries)
            if options.json { try CLIOutput.json(out); return }
            print("ids: \(ids)")
            for e in entries { print(String(format: "%8d  %10.4f  ", e.id, e.logit) + e.token.debugDescription) }
        }
    }
}

func parsePrefix(_ s: String?) throws -> [Int] {
    guard let s, !s.isEmpty else { return [] }
    return try s.split(separator: ",").map {
        guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw ValidationError("--prefix: '\($0)' is not a token id") }
        return v
    }
}
