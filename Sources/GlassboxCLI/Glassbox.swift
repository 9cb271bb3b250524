import ArgumentParser
import Glassbox

@main
struct GlassboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glassbox",
        abstract: "Reproducible LLM interpretability: methods, models, papers and reproduction targets.",
        subcommands: [
            // Models (Sources/GlassboxCLI/Models*.swift …)
            ModelsCommand.self,
            TokenizeCommand.self,
            LogitsCommand.self,
            GenerateCommand.self,
            AttributeCommand.self,
            // Reproductions
            ReproduceCommand.self,
            CheckCommand.self,
            RecipesCommand.self,
            // Literature
            PapersCommand.self,
        ]
    )
}
