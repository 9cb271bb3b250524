import Foundation

/// Recipes on the toy models: superposition, grokking, induction in attention-only transformers, SAEs on synthetic data.
enum ToyRecipes {
    static let all: [any Recipe.Type] = [
    ]
}
