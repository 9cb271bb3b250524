import Foundation

/// Recipes for feature attribution: gradients, integrated gradients, DeepLIFT, occlusion, Shapley values, LIME.
enum AttributionRecipes {
    static let all: [any Recipe.Type] = [
    ]
}
