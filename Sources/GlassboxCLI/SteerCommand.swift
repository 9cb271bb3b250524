import ArgumentParser
import Foundation
import Glassbox

struct SteerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steer",
        abstract: "Steer generation with a difference-of-means vector from contrast prompts (ActAdd, arXiv 2308.10248) or ablate its direction (arXiv 2406.11717); shows unsteered and steered greedy generations side by side.")
    @OptionGroup var options: ModelOptions
    @OptionGroup var input: PromptOptions
    @Option(name: .long, help: "A positive contrast prompt (repeat for several; their mean is used).") var positive: [String] = []
    @Option(name: .long, help: "A negative contrast prompt (repeat for several).") var negative: [String] = []
    @Option(name: .long, help: "Block whose input (blocks.L.hook_resid_pre) the vector is read at and added to.") var layer: Int
    @Option(name: .long, help: "Multiple of the vector added at every position (ignored with --ablate).") var coefficient: Float = 4
    @Flag(name: .long, help: "Project the vector's direction out of the residual stream at every layer and position instead of adding it.") var ablate = false
    @Option(name: .long, help: "Token of each contrast prompt to read: last or mean.") var readout: String = "last"
    @Option(name: .long, help: "Number of new tokens at most.") var maxTokens = 24

    func validate() throws {
        guard !positive.isEmpty, !negative.isEmpty else { throw ValidationError("give at least one --positive and one --negative prompt") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        guard TokenReadout(rawValue: readout) != nil else { throw ValidationError("--readout must be 'last' or 'mean', got '\(readout)'") }
    }

    struct Continuation: Encodable { let text: String; let ids: [Int] }
    struct Output: Encodable {
        let mode: String, layer: Int, hook: String, coefficient: Float?
        let vectorNorm: Double, prompt: String
        let unsteered: Continuation, steered: Continuation
        enum CodingKeys: String, CodingKey { case mode, layer, hook, coefficient, vectorNorm = "vector_norm", prompt, unsteered, steered }
    }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            let (text, ids) = try input.encode(with: m)
            let vector = try SteeringVector.differenceOfMeans(m.model, positive: try positive.map { try m.encode($0) },
                                                              negative: try negative.map { try m.encode($0) },
                                                              layer: layer, readout: TokenReadout(rawValue: readout)!)
            let intervention: SteeringIntervention = ablate ? .ablate(direction: vector.vector) : .add(vector, coefficient: coefficient)
            let result = try SteeredGeneration.run(m.model, prompt: ids, intervention: intervention, maxTokens: maxTokens, stopTokens: m.stopTokens)
            let decode = { (r: GenerationResult) in Continuation(text: m.tokenizer!.decode(r.newIDs, skipSpecial: true), ids: r.newIDs) }
            let out = Output(mode: ablate ? "ablate" : "add", layer: layer, hook: vector.hookName, coefficient: ablate ? nil : coefficient,
                             vectorNorm: vector.norm, prompt: text, unsteered: decode(result.unsteered), steered: decode(result.steered))
            if options.json { try CLIOutput.json(out); return }
            let what = ablate ? "direction ablated at every layer" : String(format: "%+g × v added at %@", coefficient, vector.hookName)
            print(String(format: "steering vector: mean(%d positive) − mean(%d negative) at %@, ‖v‖ = %.3f; %@",
                         positive.count, negative.count, vector.hookName, vector.norm, what))
            print("prompt: \(input.prompt.debugDescription)\n")
            let left = wrap(out.unsteered.text, width: 38), right = wrap(out.steered.text, width: 38)
            let rows = (0..<max(left.count, right.count)).map { [$0 < left.count ? left[$0] : "", $0 < right.count ? right[$0] : ""] }
            print(Terminal.table(["unsteered", ablate ? "direction ablated" : String(format: "steered (%+g)", coefficient)], rows))
        }
    }

    /// Greedy word wrap (newlines start a new line); long words are cut.
    func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                var w = String(word)
                while w.count > width { if !line.isEmpty { lines.append(line); line = "" }; lines.append(String(w.prefix(width))); w = String(w.dropFirst(width)) }
                if line.isEmpty { line = w } else if line.count + 1 + w.count <= width { line += " " + w } else { lines.append(line); line = w }
            }
            lines.append(line)
        }
        while lines.last == "" { lines.removeLast() }
        return lines
    }
}
