import ArgumentParser
import Glassbox

@main
struct GlassboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbox",
        abstract: "Reproducible LLM interpretability: methods, models, papers and reproduction targets.",
        subcommands: [
            ModelsCommand.self,
            TokenizeCommand.self,
            LogitsCommand.self,
            GenerateCommand.self,
        ]
    )
}
