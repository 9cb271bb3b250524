import Foundation

/// Recipes for steering vectors, directional ablation and linear probes.
enum SteeringProbeRecipes {
    static let all: [any Recipe.Type] = [
    ]
}
