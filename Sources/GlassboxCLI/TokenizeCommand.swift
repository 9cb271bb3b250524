import ArgumentParser
import Foundation
import Glassbox

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Token ids and strings of a text.")
    @OptionGroup var options: ModelOptions
    @Argument(help: "The text.") var text: String

    struct Output: Encodable { let ids: [Int]; let tokens: [String] }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            let ids = try m.encode(text)
            let out = Output(ids: ids, tokens: m.tokenizer!.tokens(ids))
            if options.json { try CLIOutput.json(out); return }
            for (i, t) in zip(out.ids, out.tokens) { print("\(i)\t\(t)") }
        }
    }
}
