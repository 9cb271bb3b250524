import Foundation

/// Recipes for activation patching, attribution patching, causal tracing and ablations.
enum PatchingRecipes {
    static let all: [any Recipe.Type] = [
    ]
}
