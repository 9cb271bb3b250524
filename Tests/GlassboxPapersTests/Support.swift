import Foundation
@testable import GlassboxPapers

/// Fixtures live in Tests/Fixtures/papers (found from this file's location).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/papers")
    static var catalog: URL { root.appendingPathComponent("catalog") }

    static func text(_ relative: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }

    /// A fresh copy of the fixture repository (papers/, reproductions/, reports/) in a temporary directory.
    static func copyOfCatalog() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-papers-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: catalog, to: dir)
        return dir
    }

    /// Every file under `dir` with its bytes, for before/after comparisons.
    static func snapshot(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: dir.path) else { return out }
        while let rel = e.nextObject() as? String {
            var isDir: ObjCBool = false
            let full = dir.appendingPathComponent(rel)
            if fm.fileExists(atPath: full.path, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = try Data(contentsOf: full)
            }
        }
        return out
    }
}
