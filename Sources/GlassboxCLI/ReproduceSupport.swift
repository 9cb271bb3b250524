import ArgumentParser
import Foundation
import Glassbox

extension Tier: ExpressibleByArgument {}

/// Where the repository's folders are.
struct RepositoryOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The repository root, holding reproductions/, reports/ and papers/.", valueName: "dir"))
    var root: String = "."

    var rootURL: URL { URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL }
    var reproductions: URL { rootURL.appendingPathComponent("reproductions") }
    var reports: URL { rootURL.appendingPathComponent("reports") }
    var papers: URL { rootURL.appendingPathComponent("papers") }
}

/// Target selection shared by `reproduce` and `check`.
struct SelectionOptions: ParsableArguments {
    @Argument(help: "Target slugs (file names in reproductions/ without .yaml); all when none are given.")
    var slugs: [String] = []

    @Option(help: "Filter by paper id (e.g. 2209.10652).")
    var paper: String?

    @Option(help: "Filter by family (from the paper's catalog entry or the manifest's families).")
    var family: String?

    @Option(help: ArgumentHelp("Run only shard K of N (1-based), for CI matrices and job arrays.", valueName: "K/N"))
    var shard: String?

    @Option(help: "Targets to run at the same time.")
    var jobs: Int = 1
}

/// Messages to standard error (libraries never print; the CLI does all of it).
enum Console {
    static let lock = NSLock()

    static func error(_ message: String) {
        write("glassbox: \(message)\n")
    }

    static func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data(text.utf8))
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }
}

/// Exit status 2 ("could not run") after printing why.
func cannotRun(_ message: String) -> ExitCode {
    Console.error(message)
    return ExitCode(2)
}

/// Runs async library code from a synchronous command and waits for it.
private final class BlockingBox<T>: @unchecked Sendable {
    var value: T?
}

func runBlocking<T: Sendable>(_ operation: @escaping @Sendable () async -> T) -> T {
    let box = BlockingBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await operation()
        done.signal()
    }
    done.wait()
    return box.value!
}

/// Loads and selects the manifests; problems become exit status 2.
func selectTargets(_ repo: RepositoryOptions, _ selection: SelectionOptions, tier: Tier?) throws -> [Manifest] {
    try selectTargetsInCatalog(repo, selection, tier: tier).targets
}

/// The selected manifests and every manifest of `reproductions/` (the catalog the roll-up lists).
func selectTargetsInCatalog(_ repo: RepositoryOptions, _ selection: SelectionOptions, tier: Tier?) throws -> (targets: [Manifest], catalog: [Manifest]) {
    guard selection.jobs >= 1 else { throw cannotRun("--jobs must be at least 1 (got \(selection.jobs))") }
    guard FileManager.default.fileExists(atPath: repo.reproductions.path) else {
        if !selection.slugs.isEmpty { throw cannotRun("no reproductions/ folder under \(repo.root) (use --root to point at the repository)") }
        Console.error("note: no reproductions/ folder under \(repo.root), so there is nothing to run")
        return ([], [])
    }
    do {
        let manifests = try loadManifests(directory: repo.reproductions, registry: RecipeRegistry.builtIn)
        let shard = try selection.shard.map(TargetSelection.Shard.init(parsing:))
        let families = PaperFamilies(papersDirectory: repo.papers)
        let targets = try TargetSelection(slugs: selection.slugs, tier: tier, paper: selection.paper, family: selection.family, shard: shard)
            .apply(to: manifests, families: families.families(of:))
        return (targets, manifests)
    } catch let error as ReproductionError {
        throw cannotRun(error.description)
    }
}

/// The live display: a status line on a terminal, one line per finished target otherwise.
final class ProgressDisplay: @unchecked Sendable {
    private let lock = NSLock()
    private let live = Console.stderrIsTerminal
    private let total: Int
    private var done = 0, passed = 0, failed = 0, skipped = 0
    private var running: [String: String] = [:]
    private var order: [String] = []
    private var lastDraw = Date.distantPast

    init(total: Int) { self.total = total }

    func handle(_ event: RunEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case let .started(id, _, _):
            running[id] = ""
            order.append(id)
        case let .progress(id, fraction, message):
            running[id] = "\(Int((fraction * 100).rounded()))%" + (message.isEmpty ? "" : " \(message)")
            // Redraw at most ten times a second.
            if Date().timeIntervalSince(lastDraw) < 0.1 { return }
        case let .finished(outcome):
            let result = outcome.result
            running[result.id] = nil
            order.removeAll { $0 == result.id }
            done += 1
            switch result.status {
            case .passed: passed += 1
            case .failed, .error: failed += 1
            case .skipped: skipped += 1
            }
            clearLine()
            Console.write(Self.line(for: result) + "\n")
        }
        drawStatus()
    }

    static func line(for r: TargetResult) -> String {
        let mark: String
        switch r.status {
        case .passed: mark = "pass"
        case .failed: mark = "FAIL"
        case .error: mark = "ERROR"
        case .skipped: mark = "skip"
        }
        var text = "\(mark.padding(toLength: 5, withPad: " ", startingAt: 0)) \(r.id)  \(r.passedCount)/\(r.expectations.count) expectations  \(String(format: "%.1f", r.durationSeconds)) s"
        if let reason = r.reason { text += "  (\(reason.split(separator: "\n").first ?? ""))" }
        for e in r.expectations where e.verdict == .fail && r.status == .failed {
            text += "\n      \(e.metric): \(e.reason ?? "failed")"
        }
        return text
    }

    private func clearLine() {
        if live { Console.write("\r\u{1B}[K") }
    }

    private func drawStatus() {
        guard live else { return }
        var status = "[\(done)/\(total)] pass \(passed)  fail \(failed)  skip \(skipped)"
        if let id = order.first {
            status += "  | \(id) \(running[id] ?? "")"
            if order.count > 1 { status += " (+\(order.count - 1) more)" }
        }
        lastDraw = Date()
        Console.write("\r\u{1B}[K" + String(status.prefix(160)))
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        clearLine()
    }
}
