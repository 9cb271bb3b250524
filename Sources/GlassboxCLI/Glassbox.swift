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
            // Lenses, attention, direct logit attribution (Sources/GlassboxCLI/LensCommand.swift, AttentionCommand.swift)
            LensCommand.self, AttentionCommand.self, HeadsCommand.self, DLACommand.self,
            // Patching family (Sources/GlassboxCLI/PatchCommand.swift, TraceCommand.swift)
            PatchCommand.self, TraceCommand.self, AblateCommand.self,
            AttributeCommand.self,
            // Steering and probes (Sources/GlassboxCLI/SteerCommand.swift, ProbeCommand.swift)
            SteerCommand.self,
            ProbeCommand.self,
            // Reproductions
            ReproduceCommand.self,
            CheckCommand.self,
            ResultsCommand.self,
            RecipesCommand.self,
            TourCommand.self,
            // Literature
            PapersCommand.self,
        ]
    )
}
