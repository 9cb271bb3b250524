import Foundation

/// Recipes for the logit and tuned lens, attention analysis and direct logit attribution on real models.
enum LensAttentionRecipes {
    static let all: [any Recipe.Type] = [
    ]
}
