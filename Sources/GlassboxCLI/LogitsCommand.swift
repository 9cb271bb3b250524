import ArgumentParser
import Foundation
import Glassbox

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logits", abstract: "The top next-token logits at the last position of a prompt.")
    @OptionGroup var options: ModelOptions
    @OptionGroup var input: PromptOptions
    @Option(name: .long, help: "How many tokens to show.") var top = 10

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive") }
    }

    struct Entry: Encodable { let id: Int; let token: String; let logit: Float }
    struct Output: Encodable { let ids: [Int]; let top: [Entry] }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            guard m.model.isCausal else { throw ModelError.invalidInput("\(m.name) is an encoder; it has no next-token logits") }
            let ids = try input.encode(with: m).ids
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

