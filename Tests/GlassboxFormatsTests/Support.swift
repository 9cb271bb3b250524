import Foundation
import Testing

/// Paths of the committed fixtures (Tests/Fixtures/formats, see its README).
enum Fixtures {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/formats")

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(relative))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    /// The SmolLM2-135M-Instruct Q4_1 GGUF, when the environment names it (tests needing it skip otherwise).
    static let smolLM2: String? = {
        guard let p = ProcessInfo.processInfo.environment["GLASSBOX_SMOLLM2_GGUF"],
              FileManager.default.fileExists(atPath: p) else { return nil }
        return p
    }()

    /// A scratch file with `bytes`, removed by the caller.
    static func temporaryFile(_ bytes: [UInt8], suffix: String) throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("glassbox-formats-\(UUID().uuidString)\(suffix)")
        try Data(bytes).write(to: url)
        return url.path
    }
}

/// Two-sided closeness check that reports the worst index.
func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double, relative: Double = 0,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    var worst = -1
    var worstExcess = 0.0
    for i in 0..<min(actual.count, expected.count) {
        let diff = abs(Double(actual[i]) - expected[i])
        let allowed = tolerance + relative * abs(expected[i])
        if diff > allowed, diff - allowed > worstExcess || worst < 0 {
            worst = i
            worstExcess = diff - allowed
        }
    }
    #expect(worst < 0, "\(what): worst index \(worst): \(worst >= 0 ? Double(actual[worst]) : 0) vs \(worst >= 0 ? expected[worst] : 0)",
            sourceLocation: sourceLocation)
}
