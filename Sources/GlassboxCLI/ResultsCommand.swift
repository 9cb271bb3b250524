import ArgumentParser
import Foundation
import Glassbox

/// Shows what the last runs measured, from `reports/results.json`, without running anything.
struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "Show stored reproduction results (reports/results.json) without running anything: every target's verdict, or one target's metrics against the published numbers.",
        discussion: """
        Without slugs, lists every manifest in reproductions/ with its tier and latest verdict \
        (or "not run"). With slugs, prints each target's expectations (published, measured, \
        criterion, verdict), its other metrics and where its report is. --roll-up rewrites \
        reports/README.md from the stored results and the manifests. \
        Exit status: 0 shown, 1 a named target failed or has no result yet, 2 could not read.
        """
    )

    @Argument(help: "Target slugs (file names in reproductions/ without .yaml); all when none are given.")
    var slugs: [String] = []

    @Flag(help: "Print the results as JSON.")
    var json = false

    @Flag(name: .customLong("roll-up"), help: "Rewrite reports/README.md from reports/results.json and the manifests (nothing is run).")
    var rollUp = false

    @OptionGroup var repository: RepositoryOptions

    /// One target as `--json` prints it.
    struct Entry: Encodable {
        var id: String
        var tier: Tier
        /// passed, failed, skipped, error, or "not run".
        var status: String
        var metrics: [String: Double]
        var expectations: [ManifestRunSummary.Item]
        var durationSeconds: Double?
        var commit: String?

        enum CodingKeys: String, CodingKey {
            case id, tier, status, metrics, expectations
            case durationSeconds = "duration_seconds"
            case commit
        }
    }

    func run() throws {
        let catalog: [Manifest]
        let results: ResultsFile
        do {
            // Sorted by id, as the roll-up lists them (file-name order puts `x-all.yaml` before `x.yaml`).
            catalog = try loadManifests(directory: repository.reproductions, registry: RecipeRegistry.builtIn).sorted { $0.id < $1.id }
            results = try ResultsFile.load(from: repository.reports.appendingPathComponent("results.json"))
        } catch let error as ReproductionError {
            throw cannotRun(error.description)
        }
        let byID = Dictionary(uniqueKeysWithValues: catalog.map { ($0.id, $0) })
        if let unknown = slugs.first(where: { byID[$0] == nil }) {
            throw cannotRun("no target named '\(unknown)' in reproductions/")
        }
        if rollUp {
            do {
                try ReportWriter(reportsDirectory: repository.reports, catalog: catalog, papersDirectory: repository.papers)
                    .writeRollUp(results)
            } catch let error as ReproductionError {
                throw cannotRun(error.description)
            }
            print("wrote \(repository.reports.path)/README.md from results.json: \(results.targets.count) results, \(catalog.count) manifests")
            return
        }
        let shown = slugs.isEmpty ? catalog : slugs.map { byID[$0]! }
        if json {
            let entries = shown.map { m -> Entry in
                guard let r = results.targets[m.id] else {
                    return Entry(id: m.id, tier: m.tier, status: "not run", metrics: [:], expectations: [], durationSeconds: nil, commit: nil)
                }
                return Entry(id: r.id, tier: r.tier, status: r.status.rawValue, metrics: r.metrics,
                             expectations: ManifestRunSummary(r).expectations, durationSeconds: r.durationSeconds, commit: r.commit)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
            print(String(decoding: try encoder.encode(entries), as: UTF8.self))
        } else if slugs.isEmpty {
            print(Self.overview(catalog, results))
        } else {
            print(shown.map { Self.detail($0, results.targets[$0.id]) }.joined(separator: "\n\n"))
        }
        guard !slugs.isEmpty else { return }
        let bad = shown.filter { m in
            guard let r = results.targets[m.id] else { return true }
            return r.status == .failed || r.status == .error
        }
        if !bad.isEmpty {
            Console.error("not reproduced or not run: \(bad.map(\.id).joined(separator: ", "))")
            throw ExitCode(1)
        }
    }

    static func verdict(_ r: TargetResult) -> String {
        let counts = "\(r.passedCount)/\(r.expectations.count)"
        switch r.status {
        case .passed: return "pass \(counts)"
        case .failed: return "FAIL \(counts)"
        case .skipped: return "skipped"
        case .error: return "ERROR"
        }
    }

    static func duration(_ r: TargetResult) -> String { ReportWriter.formatDuration(r.durationSeconds) }

    static func runLine(_ r: TargetResult) -> String {
        "\(r.tier.rawValue) tier, \(duration(r)), commit \(r.commit.map { String($0.prefix(12)) } ?? "none")"
    }

    /// Every manifest with its tier and latest verdict, and the counts.
    static func overview(_ catalog: [Manifest], _ results: ResultsFile) -> String {
        let run = catalog.compactMap { results.targets[$0.id] }
        let passed = run.filter { $0.status == .passed }.count
        let failed = run.filter { $0.status == .failed || $0.status == .error }.count
        let skipped = run.filter { $0.status == .skipped }.count
        var head = "\(run.count) of \(catalog.count) targets run, \(passed) passed"
        if failed > 0 { head += ", \(failed) failed" }
        if skipped > 0 { head += ", \(skipped) skipped (not passed)" }
        let rows = catalog.map { m -> [String] in
            guard let r = results.targets[m.id] else { return [m.id, m.tier.rawValue, "not run", "—", "glassbox reproduce \(m.id)"] }
            return [m.id, m.tier.rawValue, verdict(r), duration(r), "reports/\(m.id).md"]
        }
        return head + "\n\n" + Terminal.table(["target", "tier", "verdict", "time", "report / command"], rows)
    }

    /// One target's expectations and other metrics.
    static func detail(_ m: Manifest, _ r: TargetResult?) -> String {
        guard let r else {
            return "\(m.id): not run (\(m.tier.rawValue) tier); run it with `glassbox reproduce \(m.id)`"
        }
        var lines = ["\(r.id): \(verdict(r)) (\(runLine(r)))"]
        if let reason = r.reason { lines.append("  \(reason.split(separator: "\n").first ?? "")") }
        let rows = r.expectations.map { e in
            [e.metric, e.kind.rawValue, e.published.description, e.measured.map(formatMetric) ?? "—", e.check, e.verdict.rawValue]
        }
        lines.append(Terminal.table(["metric", "kind", "published", "measured", "criterion", "verdict"], rows))
        let extra = r.metrics.keys.filter { k in !r.expectations.contains { $0.metric == k } }.sorted()
        if !extra.isEmpty {
            lines.append("other metrics: " + extra.map { "\($0) = \(formatMetric(r.metrics[$0]!))" }.joined(separator: ", "))
        }
        lines.append("report: reports/\(r.id).md")
        return lines.joined(separator: "\n")
    }
}
