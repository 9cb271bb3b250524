import Foundation

/// The verdict of one expectation. A skip is never a pass.
public enum Verdict: String, Sendable, Codable, Equatable {
    case pass, fail, skipped
}

/// The outcome of a whole target.
public enum TargetStatus: String, Sendable, Codable, Equatable {
    /// Every expectation holds.
    case passed
    /// At least one expectation does not hold (or the recipe did not produce its metric).
    case failed
    /// The target could not run here (e.g. its model is unavailable).
    case skipped
    /// The recipe threw; every expectation fails.
    case error
}

/// One expectation, as measured.
public struct ExpectationResult: Sendable, Codable, Equatable {
    public var metric: String
    public var published: PublishedValue
    /// The criterion, as text (`0.5 ± 0.05`).
    public var check: String
    public var kind: ExpectationKind
    public var measured: Double?
    public var verdict: Verdict
    /// Why it failed or was skipped.
    public var reason: String?
    /// Where the published number is printed.
    public var source: String

    public init(metric: String, published: PublishedValue, check: String, kind: ExpectationKind,
                measured: Double?, verdict: Verdict, reason: String?, source: String) {
        self.metric = metric
        self.published = published
        self.check = check
        self.kind = kind
        self.measured = measured
        self.verdict = verdict
        self.reason = reason
        self.source = source
    }
}

/// Everything a run of one target measured, as stored in `reports/results.json`.
public struct TargetResult: Sendable, Codable, Equatable {
    public var id: String
    public var paper: String
    public var claim: String
    public var recipe: String
    public var model: String
    public var tier: Tier
    public var seed: UInt64
    public var parameters: [String: ParameterValue]
    public var status: TargetStatus
    /// Why the target was skipped or errored.
    public var reason: String?
    public var metrics: [String: Double]
    public var expectations: [ExpectationResult]
    /// Figure file names under `reports/figures/`.
    public var figures: [String]
    public var notes: [String]
    public var durationSeconds: Double
    public var commit: String?
    public var machine: String

    enum CodingKeys: String, CodingKey {
        case id, paper, claim, recipe, model, tier, seed, parameters, status, reason, metrics, expectations, figures, notes
        case durationSeconds = "duration_seconds"
        case commit, machine
    }

    public var passedCount: Int { expectations.filter { $0.verdict == .pass }.count }
}

/// `reports/results.json`: every target's latest result, keyed by id.
public struct ResultsFile: Sendable, Codable, Equatable {
    public static let currentVersion = 1
    public var version: Int
    public var targets: [String: TargetResult]

    public init(targets: [String: TargetResult] = [:]) {
        self.version = Self.currentVersion
        self.targets = targets
    }

    /// Replaces the entries of the targets in `results`, keeping every other target.
    public mutating func merge(_ results: [TargetResult]) {
        for r in results { targets[r.id] = r }
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }

    /// Stable, sorted, pretty JSON with a trailing newline.
    public func encoded() throws -> Data {
        var data = try Self.encoder().encode(self)
        data.append(0x0a)
        return data
    }

    /// Reads a results file; a missing file is an empty one when `missingIsEmpty`.
    public static func load(from url: URL, missingIsEmpty: Bool = true) throws -> ResultsFile {
        guard FileManager.default.fileExists(atPath: url.path) else {
            if missingIsEmpty { return ResultsFile() }
            throw ReproductionError.io(path: url.path, reason: "no such file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ReproductionError.io(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        let file: ResultsFile
        do { file = try decoder().decode(ResultsFile.self, from: data) } catch {
            throw ReproductionError.invalidResults(path: url.path, reason: describe(error))
        }
        guard file.version == currentVersion else {
            throw ReproductionError.invalidResults(path: url.path, reason: "version \(file.version), expected \(currentVersion)")
        }
        return file
    }

    /// Writes atomically (temp file + rename).
    public func write(to url: URL) throws {
        try writeAtomically(try encoded(), to: url)
    }
}

/// A decoding error as "field path: problem".
func describe(_ error: Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func path(_ c: DecodingError.Context) -> String {
        let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "(top level)" : p
    }
    switch e {
    case .keyNotFound(let key, let c): return "\(path(c)): missing field '\(key.stringValue)'"
    case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): return "\(path(c)): \(c.debugDescription)"
    @unknown default: return "\(error)"
    }
}

/// Where and on what a run happened. Only these fields (plus durations) may differ
/// between two runs of the same code.
public struct RunEnvironment: Sendable, Equatable {
    public var commit: String?
    public var machine: String

    public init(commit: String?, machine: String) {
        self.commit = commit
        self.machine = machine
    }

    /// The current commit (`git rev-parse HEAD` in `directory`, nil outside a repository)
    /// and a one-line machine description.
    public static func current(directory: URL) -> RunEnvironment {
        RunEnvironment(commit: gitCommit(directory: directory), machine: machineDescription())
    }

    static func gitCommit(directory: URL) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory.path, "rev-parse", "HEAD"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.count == 40 ? text : nil
    }

    static func machineDescription() -> String {
        let info = ProcessInfo.processInfo
        var cpu = ""
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        #if arch(x86_64)
        let arch = "x86_64"
        #elseif arch(arm64)
        let arch = "arm64"
        #else
        let arch = "unknown-arch"
        #endif
        #if os(Linux)
        let os = "Linux"
        #elseif os(macOS)
        let os = "macOS"
        #else
        let os = "unknown-OS"
        #endif
        let gib = Double(info.physicalMemory) / 1_073_741_824
        var parts = ["\(os) \(arch)", "\(info.activeProcessorCount) cores", "\(Int(gib.rounded())) GiB"]
        if !cpu.isEmpty { parts.insert(cpu, at: 1) }
        return parts.joined(separator: ", ")
    }
}
