import Foundation
import Testing
import GlassboxTensor

/// Two-sided closeness check for the toy-model tests; reports the worst index.
func expectToyClose(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float = 0, _ what: String = "",
                    sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    var worst = -1
    var worstExcess: Float = 0
    for i in 0..<min(actual.count, expected.count) {
        let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
        if !(excess <= worstExcess) || actual[i].isNaN { worstExcess = excess.isNaN ? .infinity : excess; worst = i }
    }
    if worst >= 0 {
        Issue.record("\(what): index \(worst): \(actual[worst]) vs \(expected[worst]) (atol \(atol), rtol \(rtol))", sourceLocation: sourceLocation)
    }
}

/// A fresh temporary directory for a test's files.
func toyTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-toys-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
