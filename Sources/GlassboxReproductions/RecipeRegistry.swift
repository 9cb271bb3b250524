import Foundation

/// Maps `recipe:` names to recipe types.
public struct RecipeRegistry: Sendable {
    public private(set) var recipes: [String: any Recipe.Type] = [:]

    public init(_ recipes: [any Recipe.Type] = []) {
        for r in recipes { self.recipes[r.name] = r }
    }

    /// The recipes shipped with Glassbox, one list per family (`Recipes/<Family>Recipes.swift`).
    /// A new recipe is one file plus one line in its family's list.
    public static let builtIn = RecipeRegistry(
        ToyRecipes.all + LensAttentionRecipes.all + PatchingRecipes.all
            + SteeringProbeRecipes.all + AttributionRecipes.all
            + SAERecipes.all
    )

    public var names: [String] { recipes.keys.sorted() }

    public func recipe(named name: String) -> (any Recipe.Type)? { recipes[name] }

    /// Adds (or replaces) a recipe.
    public mutating func register(_ recipe: any Recipe.Type) { recipes[recipe.name] = recipe }

    /// Checks a manifest against its recipe — the recipe exists, every parameter is
    /// declared and of the declared type, required ones are given, every expected metric
    /// and drift entry is one the recipe produces — and returns the resolved parameters.
    public func validate(_ manifest: Manifest) throws -> ResolvedParameters {
        let file = manifest.file
        guard let recipe = recipes[manifest.recipe] else {
            throw ReproductionError.unknownRecipe(file: file, name: manifest.recipe, known: names)
        }
        var values: [String: ParameterValue] = [:]
        let declared = Dictionary(recipe.parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for key in manifest.parameters.keys.sorted() {
            guard let p = declared[key] else {
                throw ReproductionError.invalidManifest(file: file, field: "parameters.\(key)",
                    problem: "recipe '\(recipe.name)' has no such parameter (it takes: \(recipe.parameters.map(\.name).joined(separator: ", ")))")
            }
            let v = manifest.parameters[key]!
            guard p.kind.accepts(v) else {
                throw ReproductionError.invalidManifest(file: file, field: "parameters.\(key)", problem: "expected \(p.kind.rawValue) (got \(v))")
            }
            values[key] = v
        }
        for p in recipe.parameters where values[p.name] == nil {
            guard let d = p.defaultValue else {
                throw ReproductionError.invalidManifest(file: file, field: "parameters.\(p.name)", problem: "missing; recipe '\(recipe.name)' requires it (\(p.description))")
            }
            values[p.name] = d
        }
        let metrics = Set(recipe.metrics.map(\.name))
        for (i, e) in manifest.expect.enumerated() where !metrics.contains(e.metric) {
            throw ReproductionError.invalidManifest(file: file, field: "expect[\(i)].metric",
                problem: "recipe '\(recipe.name)' produces no metric '\(e.metric)' (it produces: \(recipe.metrics.map(\.name).joined(separator: ", ")))")
        }
        for key in manifest.drift.perMetric.keys.sorted() where !metrics.contains(key) {
            throw ReproductionError.invalidManifest(file: file, field: "drift.\(key)", problem: "recipe '\(recipe.name)' produces no such metric")
        }
        return ResolvedParameters(recipe: recipe.name, values: values)
    }
}
