import ArgumentParser
import Foundation
import Glassbox

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Continue a prompt (greedy by default; seeded sampling with --temperature).")
    @OptionGroup var options: ModelOptions
    @OptionGroup var input: PromptOptions
    @Option(name: .long, help: "Number of new tokens at most.") var maxTokens = 30
    @Option(name: .long, help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
    @Option(name: .long, help: "Sample among the k most likely tokens.") var topK: Int?
    @Option(name: .long, help: "Nucleus sampling: the smallest set reaching probability p.") var topP: Float?
    @Option(name: .long, help: "Seed of the sampler.") var seed: UInt64 = 0

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        if let topK, topK <= 0 { throw ValidationError("--top-k must be positive") }
    }

    struct Output: Encodable {
        let promptIDs: [Int]
        let newIDs: [Int]
        let text: String
        let stoppedAtStopToken: Bool
        let steps: [GenerationStep]
        enum CodingKeys: String, CodingKey { case promptIDs = "prompt_ids", newIDs = "new_ids", text, stoppedAtStopToken = "stopped", steps }
    }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            let (text, ids) = try input.encode(with: m)
            let sampling = Sampling(temperature: temperature, topK: topK, topP: topP, seed: seed)
            let result = try m.model.generate(prompt: ids, maxTokens: maxTokens, sampling: sampling, stopTokens: m.stopTokens)
            let newText = m.tokenizer!.decode(result.newIDs, skipSpecial: true)
            if options.json {
                try CLIOutput.json(Output(promptIDs: ids, newIDs: result.newIDs, text: newText, stoppedAtStopToken: result.stoppedAtStopToken, steps: result.steps))
                return
            }
            print(text + newText)
        }
    }
}
