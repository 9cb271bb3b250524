import Foundation
import Testing
@testable import GlassboxModels
import GlassboxTensor

/// Paths of the committed fixtures: Tests/Fixtures/models (this module's, see its README) and
/// Tests/Fixtures/formats (the tiny checkpoints, shared with the formats tests).
enum Fixtures {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func models(_ relative: String) -> String { root.appendingPathComponent("models/" + relative).path }
    static func formats(_ relative: String) -> String { root.appendingPathComponent("formats/" + relative).path }

    static func json(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

/// Nested JSON arrays of numbers, flattened.
func flat(_ any: Any?) -> [Double] {
    if let d = any as? Double { return [d] }
    if let n = any as? NSNumber { return [n.doubleValue] }
    if let a = any as? [Any] { return a.flatMap { flat($0) } }
    return []
}

/// Two-sided closeness check that reports the worst index and the max difference.
func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    var worst = -1, maxDiff = 0.0
    for i in 0..<min(actual.count, expected.count) {
        let diff = abs(Double(actual[i]) - expected[i])
        if !(diff <= maxDiff) { maxDiff = diff; worst = i }
    }
    #expect(maxDiff <= tolerance, "\(what): max |diff| \(maxDiff) at index \(worst): \(worst >= 0 ? Double(actual[worst]) : 0) vs \(worst >= 0 ? expected[worst] : 0)",
            sourceLocation: sourceLocation)
}

func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "maxAbsDiff: \(a.shape) vs \(b.shape)")
    return zip(a.scalars, b.scalars).reduce(0) { Swift.max($0, Swift.abs($1.0 - $1.1)) }
}
