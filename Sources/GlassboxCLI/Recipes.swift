import ArgumentParser
import Foundation
import Glassbox

struct RecipesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipes",
        abstract: "List the recipes manifests can name, or show one's parameters, defaults and metrics."
    )

    @Argument(help: "A recipe name (e.g. superposition.basic).")
    var name: String?

    func run() throws {
        let registry = RecipeRegistry.builtIn
        guard let name else {
            if registry.names.isEmpty {
                print("No recipes are registered yet.")
                return
            }
            let width = registry.names.map(\.count).max() ?? 0
            for n in registry.names {
                print(n.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + registry.recipe(named: n)!.summary)
            }
            return
        }
        guard let recipe = registry.recipe(named: name) else {
            let known = registry.names.isEmpty ? "none are registered" : "known: " + registry.names.joined(separator: ", ")
            throw cannotRun("no recipe named '\(name)' (\(known))")
        }
        print("\(recipe.name) — \(recipe.summary)\n")
        print("Parameters:")
        if recipe.parameters.isEmpty { print("  (none)") }
        let pw = recipe.parameters.map(\.name.count).max() ?? 0
        for p in recipe.parameters {
            let def = p.defaultValue.map { "default \($0)" } ?? "required"
            print("  \(p.name.padding(toLength: pw, withPad: " ", startingAt: 0))  \(p.kind.rawValue), \(def) — \(p.description)")
        }
        print("\nMetrics:")
        let mw = recipe.metrics.map(\.name.count).max() ?? 0
        for m in recipe.metrics {
            print("  \(m.name.padding(toLength: mw, withPad: " ", startingAt: 0))  \(m.description)")
        }
    }
}
