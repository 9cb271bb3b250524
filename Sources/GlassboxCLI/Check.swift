import ArgumentParser
import Foundation
import Glassbox

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Regression gate: run targets, compare with their expectations and with the committed baseline.",
        discussion: """
        Exit status: 0 all hold, 1 an expectation failed or a metric drifted from the baseline beyond the \
        target's drift tolerance (or, with --strict, a target was skipped), 2 could not run. \
        Skipped targets are never counted as passed. reports/ is not modified.
        """
    )

    @OptionGroup var selection: SelectionOptions

    @Option(help: "fast: the fast tier only; full: every target.")
    var tier: Tier = .fast

    @Option(help: ArgumentHelp("Results to compare with (default: reports/results.json under --root; skipped when absent).", valueName: "file"))
    var baseline: String?

    @Option(help: ArgumentHelp("Also write JUnit XML here.", valueName: "file"))
    var junit: String?

    @Flag(help: "Print the comparison as JSON instead of a table.")
    var json = false

    @Flag(help: "Fail when a target is skipped.")
    var strict = false

    @OptionGroup var repository: RepositoryOptions

    func run() throws {
        let baselineFile: ResultsFile?
        do {
            if let baseline {
                baselineFile = try ResultsFile.load(from: URL(fileURLWithPath: baseline), missingIsEmpty: false)
            } else {
                let url = repository.reports.appendingPathComponent("results.json")
                baselineFile = FileManager.default.fileExists(atPath: url.path) ? try ResultsFile.load(from: url) : nil
            }
        } catch let error as ReproductionError {
            throw cannotRun("baseline: \(error.description)")
        }
        let targets = try selectTargets(repository, selection, tier: tier)
        if targets.isEmpty {
            Console.error("note: no \(tier == .fast ? "fast-tier " : "")targets to check")
        }
        let runner = Runner(registry: .builtIn, resolver: DefaultModelResolver(baseDirectory: repository.rootURL),
                            environment: RunEnvironment.current(directory: repository.rootURL))
        let display = ProgressDisplay(total: targets.count)
        let jobs = selection.jobs
        let quiet = json
        let outcomes = runBlocking { await runner.run(targets, jobs: jobs) { if !quiet { display.handle($0) } } }
        display.finish()
        let results = outcomes.map(\.result)
        let drift = Dictionary(uniqueKeysWithValues: targets.map { ($0.id, $0.drift) })
        let report = RegressionCheck.compare(results, drift: drift, baseline: baselineFile, strict: strict)

        if let junit {
            do {
                try writeAtomically(report.junit(results: results), to: URL(fileURLWithPath: junit))
            } catch let error as ReproductionError {
                throw cannotRun(error.description)
            }
        }
        if json {
            print(try report.json())
        } else {
            let table = report.table()
            if !table.isEmpty { print(table + "\n") }
            print(report.summary)
        }
        if report.fails { throw ExitCode(1) }
    }
}
