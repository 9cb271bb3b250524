import Foundation
import GlassboxReports
@testable import GlassboxReproductions

/// 4·Σ_{k<N} (−1)^k/(2k+1) → π, with the alternating-series error bound 4/(2N+1).
enum LeibnizRecipe: Recipe {
    static let name = "test.leibniz"
    static let summary = "Partial sums of the Leibniz series for π."
    static let parameters = [RecipeParameter("terms", .int, default: .int(1000), "number of terms N")]
    static let metrics = [
        RecipeMetric("pi_estimate", "4 × the N-term partial sum"),
        RecipeMetric("error_bound", "4/(2N+1), the alternating-series bound"),
    ]
    /// +1 for the real series; the broken variant below flips the sign of odd terms.
    static var oddSign: Double { -1 }

    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        try compute(context, oddSign: oddSign)
    }

    static func compute(_ context: RecipeContext, oddSign: Double) throws -> RecipeOutput {
        let n = try context.parameters.int("terms")
        var sum = 0.0
        var trace: [Series.Point] = []
        for k in 0..<n {
            sum += (k % 2 == 0 ? 1 : oddSign) / Double(2 * k + 1)
            if (k + 1) % max(1, n / 20) == 0 {
                trace.append(.init(x: Double(k + 1), y: 4 * sum))
                context.progress(Double(k + 1) / Double(n), "term \(k + 1)/\(n)")
            }
        }
        try context.addFigure("partial-sums", caption: "4 × partial sum against the number of terms",
                              chart: LineChart(series: [Series(name: "estimate", points: trace)], xLabel: "terms", yLabel: "estimate",
                                               referenceLines: [ReferenceLine(value: context.published("pi_estimate") ?? Double.pi, label: "published")]))
        return RecipeOutput(metrics: ["pi_estimate": 4 * sum, "error_bound": 4 / Double(2 * n + 1)],
                            notes: ["The partial sums alternate around π."])
    }
}

/// The same recipe with a sign error: every term added (the harmonic-like series diverges).
enum FlippedLeibnizRecipe: Recipe {
    static let name = LeibnizRecipe.name
    static let summary = LeibnizRecipe.summary
    static let parameters = LeibnizRecipe.parameters
    static let metrics = LeibnizRecipe.metrics
    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        try LeibnizRecipe.compute(context, oddSign: +1)
    }
}

/// Σ_{k<n} r^k and its limit 1/(1−r).
enum GeometricRecipe: Recipe {
    static let name = "test.geometric"
    static let summary = "A geometric series and its limit."
    static let parameters = [
        RecipeParameter("ratio", .number, "common ratio r, |r| < 1"),
        RecipeParameter("terms", .int, default: .int(10), "number of terms"),
    ]
    static let metrics = [RecipeMetric("partial_sum", "Σ_{k<n} r^k"), RecipeMetric("limit", "1/(1−r)")]
    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let r = try context.parameters.double("ratio")
        let n = try context.parameters.int("terms")
        var sum = 0.0, term = 1.0
        for _ in 0..<n { sum += term; term *= r }
        return RecipeOutput(metrics: ["partial_sum": sum, "limit": 1 / (1 - r)])
    }
}

/// Needs a real model file; reports whether it found one.
enum NeedsModelRecipe: Recipe {
    static let name = "test.needs-model"
    static let summary = "Asks for its model."
    static let parameters: [RecipeParameter] = []
    static let metrics = [RecipeMetric("model_found", "1 when the model resolved to a file")]
    static func run(_ context: RecipeContext) throws -> RecipeOutput {
        let url = try context.requireModel()
        return RecipeOutput(metrics: ["model_found": url == nil ? 0 : 1])
    }
}

/// Always throws.
enum ThrowingRecipe: Recipe {
    struct Broken: Error, CustomStringConvertible { var description: String { "matrix is singular" } }
    static let name = "test.throws"
    static let summary = "Fails."
    static let parameters: [RecipeParameter] = []
    static let metrics = [RecipeMetric("x", "never produced")]
    static func run(_ context: RecipeContext) throws -> RecipeOutput { throw Broken() }
}

let testRegistry = RecipeRegistry([LeibnizRecipe.self, GeometricRecipe.self, NeedsModelRecipe.self, ThrowingRecipe.self])
let brokenRegistry = RecipeRegistry([FlippedLeibnizRecipe.self, GeometricRecipe.self, NeedsModelRecipe.self, ThrowingRecipe.self])
let fixedEnvironment = RunEnvironment(commit: "0123456789abcdef0123456789abcdef01234567", machine: "test machine")
let noModels = StaticModelResolver(["toy": .available(nil)])

/// `Tests/Fixtures/reproductions/<sub>`.
func fixture(_ sub: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/reproductions").appendingPathComponent(sub)
}

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-repro-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func fixtureManifests() throws -> [Manifest] {
    try loadManifests(directory: fixture("targets"), registry: testRegistry)
}

func runner(_ registry: RecipeRegistry = testRegistry, resolver: any ModelResolver = noModels) -> Runner {
    Runner(registry: registry, resolver: resolver, environment: fixedEnvironment)
}
