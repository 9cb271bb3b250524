import Foundation
import GlassboxMethods

/// Recipes on the toy models: superposition, grokking, induction in attention-only transformers, SAEs on synthetic data.
enum ToyRecipes {
    static let all: [any Recipe.Type] = [
        SuperpositionBasicRecipe.self,
        SuperpositionPentagonRecipe.self,
        SuperpositionDimensionalityRecipe.self,
        GrokkingRecipe.self,
        InductionToyRecipe.self,
        SAEGroundTruthRecipe.self,
        SAETopKVersusReLURecipe.self,
    ]
}

// MARK: - Helpers shared by the toy recipes

extension RecipeContext {
    /// A training-loop progress handler mapped onto [start, end] of this recipe's progress.
    func toyProgress(_ label: String, from start: Double = 0, to end: Double = 1) -> ToyProgressHandler {
        { p in
            let fraction = Double(p.step) / Double(max(p.totalSteps, 1))
            self.progress(start + (end - start) * fraction, "\(label) step \(p.step)/\(p.totalSteps)")
        }
    }

    /// A seed derived from the target's seed for the `index`-th independent run of a recipe.
    func derivedSeed(_ index: UInt64) -> UInt64 { seed &+ index &* 0x9E37_79B9_7F4A_7C15 }

    /// A manifest value checked against a predicate; throws naming the parameter otherwise.
    func checked<T>(_ name: String, _ value: T, _ expected: String, _ ok: (T) -> Bool) throws -> T {
        guard ok(value) else {
            throw ReproductionError.parameter(recipe: recipe, name: name, problem: "expected \(expected) (got \(value))")
        }
        return value
    }
}

/// "0.999" → "s0999": a sparsity as part of a figure name.
func sparsityTag(_ s: Float) -> String {
    "s" + String(format: "%.4g", Double(s)).replacingOccurrences(of: ".", with: "")
}

/// A sparsity as printed in captions and labels ("0.999").
func sparsityText(_ s: Float) -> String { String(format: "%.4g", Double(s)) }

/// Fixed-point text for notes.
func fixed(_ x: Double, _ decimals: Int = 3) -> String { String(format: "%.\(decimals)f", x) }
