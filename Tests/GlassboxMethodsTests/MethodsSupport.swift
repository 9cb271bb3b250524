import Foundation
import Testing
import GlassboxModels
import GlassboxTensor

/// The reference models, loaded from the model cache once (nil when not fetched; `make test`
/// fetches them first with `glassbox models fetch --all`).
enum MethodModels {
    static func cached(_ name: String) -> LoadedModel? {
        let cache = ModelCache.default
        guard let entry = ModelRegistry.entry(name), cache.isCached(entry) else { return nil }
        return try? ModelLoader.load(name, cache: cache, fetch: false)
    }
    static let smolLM2 = cached("smollm2-135m-instruct")
    static let hasSmol = smolLM2 != nil
    static let skipSmol = Comment(rawValue: "smollm2-135m-instruct is not in the model cache; run `glassbox models fetch smollm2-135m-instruct` (make test does)")
}

/// Committed fixtures: `Tests/Fixtures/methods` (see its README) and the prompt files
/// shared with the models tests in `Tests/Fixtures/models`.
enum MethodFixtures {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func methods(_ relative: String) -> String { root.appendingPathComponent("methods/" + relative).path }
    static func models(_ relative: String) -> String { root.appendingPathComponent("models/" + relative).path }

    static func json(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

/// Nested JSON arrays of numbers, flattened in row-major order.
func flatNumbers(_ any: Any?) -> [Double] {
    if let n = any as? NSNumber { return [n.doubleValue] }
    if let a = any as? [Any] { return a.flatMap { flatNumbers($0) } }
    return []
}

/// Two-sided closeness check: |actual − expected| ≤ atol + rtol·|expected| everywhere;
/// reports the worst index and the largest difference.
func expectAllClose(_ actual: [Double], _ expected: [Double], atol: Double, rtol: Double = 0, _ what: String,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    var worst = -1, worstExcess = -Double.infinity, maxDiff = 0.0
    for i in 0..<min(actual.count, expected.count) {
        let diff = abs(actual[i] - expected[i])
        maxDiff = max(maxDiff, diff.isNaN ? .infinity : diff)
        let excess = diff.isNaN ? .infinity : diff - (atol + rtol * abs(expected[i]))
        if excess > worstExcess { worstExcess = excess; worst = i }
    }
    if worst >= 0 && worstExcess > 0 {
        Issue.record("\(what): index \(worst): \(actual[worst]) vs \(expected[worst]) (max |diff| \(maxDiff), atol \(atol), rtol \(rtol))",
                     sourceLocation: sourceLocation)
    }
}

/// The tiny random Llama checkpoint of Tests/Fixtures/formats (2 layers, d_model 64,
/// 4 heads / 2 KV heads, vocab 96): fast identity tests that need no download.
enum TinyLlama {
    static let model: any TransformerModel = {
        let folder = MethodFixtures.root.appendingPathComponent("formats/tiny/llama").path
        return try! ModelLoader.load(path: folder, name: "tiny-llama").model
    }()
}
