import ArgumentParser
import Foundation
import Glassbox

/// Writes one outcome at a time from the runner's callbacks; remembers the first failure.
final class IncrementalReportWriter: @unchecked Sendable {
    private let writer: ReportWriter
    private let lock = NSLock()
    private(set) var firstError: ReproductionError?

    init(_ writer: ReportWriter) { self.writer = writer }

    func write(_ outcome: Runner.Outcome) {
        lock.lock()
        defer { lock.unlock() }
        guard firstError == nil else { return }
        do { try writer.write([outcome]) } catch let error as ReproductionError {
            firstError = error
        } catch {
            firstError = .io(path: writer.reportsDirectory.path, reason: "\(error)")
        }
    }
}

struct ReproduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract: "Run reproduction targets and write reports/ (per-target Markdown, figures, results.json, README.md).",
        discussion: """
        Exit status: 0 every run target holds (skips allowed), 1 an expectation failed, 2 could not run. \
        With --manifest, runs one manifest from anywhere without touching reports/.
        """
    )

    @OptionGroup var selection: SelectionOptions

    @Option(help: "fast: the fast tier only; full: every target.")
    var tier: Tier?

    @Option(help: ArgumentHelp("Run this manifest file (any path) and print its metrics and verdicts; reports/ is not written.", valueName: "path"))
    var manifest: String?

    @Flag(help: "With --manifest: print {\"id\", \"metrics\", \"expectations\"} as JSON.")
    var json = false

    @OptionGroup var repository: RepositoryOptions

    func run() throws {
        if let manifest { return try runManifest(manifest) }
        if json { throw cannotRun("--json goes with --manifest") }
        let (targets, catalog) = try selectTargetsInCatalog(repository, selection, tier: tier)
        guard !targets.isEmpty else {
            // Not an error: an empty tier or shard simply has nothing to do.
            Console.error("note: no reproduction targets selected; nothing was run")
            return
        }
        let runner = Runner(registry: .builtIn, resolver: DefaultModelResolver(baseDirectory: repository.rootURL),
                            environment: RunEnvironment.current(directory: repository.rootURL))
        let display = ProgressDisplay(total: targets.count)
        let jobs = selection.jobs
        // Each report is written as soon as its target finishes, so an interrupted run keeps
        // what it has done; the writes are serialised (results.json is merged each time).
        // The roll-up lists every manifest (run now, run before, or not run) and checks the
        // papers' `reproductions:` lists against them.
        let writer = IncrementalReportWriter(ReportWriter(reportsDirectory: repository.reports, catalog: catalog,
                                                          papersDirectory: repository.papers))
        let outcomes = runBlocking {
            await runner.run(targets, jobs: jobs) { event in
                display.handle(event)
                if case .finished(let outcome) = event { writer.write(outcome) }
            }
        }
        display.finish()
        if let error = writer.firstError { throw cannotRun(error.description) }
        let results = outcomes.map(\.result)
        let passed = results.filter { $0.status == .passed }.count
        let failed = results.filter { $0.status == .failed || $0.status == .error }.count
        let skipped = results.filter { $0.status == .skipped }.count
        print("\(results.count) target\(results.count == 1 ? "" : "s"): \(passed) passed, \(failed) failed, \(skipped) skipped (not passed). Reports in \(repository.reports.path)/")
        if failed > 0 { throw ExitCode(1) }
    }

    private func runManifest(_ path: String) throws {
        guard selection.slugs.isEmpty, tier == nil, selection.paper == nil, selection.family == nil, selection.shard == nil else {
            throw cannotRun("--manifest runs one file; it does not take slugs, --tier, --paper, --family or --shard")
        }
        let url = URL(fileURLWithPath: path)
        let manifest: Manifest
        do {
            manifest = try Manifest.load(contentsOf: url, displayName: path)
            _ = try RecipeRegistry.builtIn.validate(manifest)
        } catch let error as ReproductionError {
            throw cannotRun(error.description)
        }
        let runner = Runner(registry: .builtIn, resolver: DefaultModelResolver(baseDirectory: repository.rootURL),
                            environment: RunEnvironment.current(directory: repository.rootURL))
        let display = ProgressDisplay(total: 1)
        let outcome = runBlocking { await runner.run([manifest]) { if !json { display.handle($0) } } }[0]
        display.finish()
        let result = outcome.result
        if json {
            print(try ManifestRunSummary(result).json())
        } else {
            print("\(result.id): \(result.status.rawValue)" + (result.reason.map { " (\($0))" } ?? ""))
            for key in result.metrics.keys.sorted() {
                print("  \(key) = \(formatMetric(result.metrics[key]!))")
            }
            for e in result.expectations {
                print("  \(e.verdict.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(e.metric): published \(e.published), measured \(e.measured.map(formatMetric) ?? "—"), expected \(e.check)")
            }
        }
        if result.status == .failed || result.status == .error { throw ExitCode(1) }
    }
}
