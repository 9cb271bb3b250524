import Foundation
import GlassboxReports

/// Writes `reports/`: one Markdown report per target, its figures, the merged
/// `results.json` and the `README.md` roll-up. Every number written comes from the
/// outcomes passed in (the run that writes them) or, for the roll-up of targets not run
/// now, from the stored results.
public struct ReportWriter: Sendable {
    public var reportsDirectory: URL

    public init(reportsDirectory: URL) {
        self.reportsDirectory = reportsDirectory
    }

    public var resultsURL: URL { reportsDirectory.appendingPathComponent("results.json") }
    public var figuresDirectory: URL { reportsDirectory.appendingPathComponent("figures") }

    /// Writes everything for `outcomes`, merging them into the existing results, and
    /// returns the merged results.
    @discardableResult
    public func write(_ outcomes: [Runner.Outcome]) throws -> ResultsFile {
        var results = try ResultsFile.load(from: resultsURL)
        for outcome in outcomes {
            let id = outcome.result.id
            // Figures of an earlier run that this run no longer draws are removed.
            let stale = Set(results.targets[id]?.figures ?? []).subtracting(outcome.result.figures)
            for name in stale.sorted() {
                try? FileManager.default.removeItem(at: figuresDirectory.appendingPathComponent(name))
            }
            for (figure, file) in zip(outcome.figures, outcome.result.figures) {
                try writeAtomically(figure.svg, to: figuresDirectory.appendingPathComponent(file))
            }
            try writeAtomically(Self.targetReport(outcome), to: reportsDirectory.appendingPathComponent("\(id).md"))
        }
        results.merge(outcomes.map(\.result))
        try results.write(to: resultsURL)
        try writeAtomically(Self.rollUp(results), to: reportsDirectory.appendingPathComponent("README.md"))
        return results
    }

    // MARK: - Target report

    static func paperLink(_ paper: String) -> String {
        Markdown.link(paper, to: "../papers/\(paper.replacingOccurrences(of: "/", with: "_")).md")
    }

    static func badge(for result: TargetResult, link: String? = nil) -> String {
        let total = result.expectations.count
        switch result.status {
        case .passed: return Markdown.badge(label: result.id, message: "pass \(result.passedCount)/\(total)", color: "brightgreen", link: link)
        case .failed: return Markdown.badge(label: result.id, message: "fail \(result.passedCount)/\(total)", color: "red", link: link)
        case .skipped: return Markdown.badge(label: result.id, message: "skipped", color: "lightgrey", link: link)
        case .error: return Markdown.badge(label: result.id, message: "error", color: "critical", link: link)
        }
    }

    static func verdictText(_ v: Verdict) -> String {
        switch v {
        case .pass: return "✅ pass"
        case .fail: return "❌ fail"
        case .skipped: return "⏭️ skipped"
        }
    }

    /// The Markdown report of one target. Deterministic apart from the run line
    /// (commit, machine, duration).
    public static func targetReport(_ outcome: Runner.Outcome) -> String {
        let r = outcome.result
        let m = outcome.manifest
        var doc = MarkdownDocument()
        doc.heading("\(r.id): reproduction report")
        doc.paragraph(badge(for: r))
        var header = ["**Paper:** \(paperLink(r.paper))"]
        if !r.paper.hasPrefix("web/") {
            header[0] += " ([arXiv:\(r.paper)](https://arxiv.org/abs/\(r.paper)))"
        }
        header.append("**Claim:** \(Markdown.escape(r.claim))")
        header.append("**Source of the published numbers:** \(Markdown.escape(m.source))")
        doc.paragraph(header.joined(separator: "  \n"))

        doc.heading("Verdict", level: 2)
        let total = r.expectations.count
        switch r.status {
        case .passed:
            doc.paragraph("✅ **Reproduced**: all \(total) expectation\(total == 1 ? "" : "s") hold.")
        case .failed:
            let failed = r.expectations.filter { $0.verdict == .fail }.count
            doc.paragraph("❌ **Not reproduced**: \(failed) of \(total) expectation\(total == 1 ? "" : "s") fail.")
        case .skipped:
            doc.paragraph("⏭️ **Skipped** (not a pass): \(Markdown.escape(r.reason ?? "no reason given")).")
        case .error:
            doc.paragraph("❌ **The recipe failed**, so no expectation could hold:")
            doc.codeBlock(r.reason ?? "unknown error")
        }

        doc.heading("Published vs measured", level: 2)
        var table = MarkdownTable(headers: ["Metric", "Kind", "Published", "Measured", "Criterion", "Verdict", "Source of the published number"],
                                  alignments: [.left, .left, .right, .right, .left, .left, .left])
        for e in r.expectations {
            table.addRow([Markdown.code(e.metric), e.kind.rawValue, e.published.description,
                          e.measured.map(formatMetric) ?? "—", e.check, verdictText(e.verdict), e.source])
        }
        doc.table(table)
        let failures = r.expectations.filter { $0.verdict != .pass && $0.reason != nil }
        if !failures.isEmpty && r.status != .error && r.status != .skipped {
            doc.bulletList(failures.map { "\(Markdown.code($0.metric)): \(Markdown.escape($0.reason!))" })
        }
        let extra = r.metrics.keys.filter { k in !r.expectations.contains { $0.metric == k } }.sorted()
        if !extra.isEmpty {
            doc.paragraph("Other metrics measured in this run:")
            doc.table(headers: ["Metric", "Value"], alignments: [.left, .right],
                      rows: extra.map { [Markdown.code($0), formatMetric(r.metrics[$0]!)] })
        }

        doc.heading("Setup", level: 2)
        var setup = MarkdownTable(headers: ["", ""], alignments: [.left, .left])
        setup.addRow(["Recipe", Markdown.code(r.recipe) + " (`glassbox recipes \(r.recipe)`)"])
        setup.addRow(["Model", Markdown.code(r.model)])
        setup.addRow(["Tier", r.tier.rawValue])
        setup.addRow(["Seed", String(r.seed)])
        for key in r.parameters.keys.sorted() {
            setup.addRow(["Parameter " + Markdown.code(key), Markdown.code(r.parameters[key]!.description)])
        }
        doc.table(setup)
        doc.paragraph("Run on commit \(r.commit.map { Markdown.code(String($0.prefix(12))) } ?? "(not in a git checkout)"), \(Markdown.escape(r.machine)), in \(formatDuration(r.durationSeconds)). Rerun with `glassbox reproduce \(r.id)`.")

        if !outcome.figures.isEmpty {
            doc.heading("Figures", level: 2)
            for (figure, file) in zip(outcome.figures, r.figures) {
                doc.figure(figure.caption.isEmpty ? figure.name : figure.caption, source: "figures/\(file)", caption: figure.caption)
            }
        }
        if !r.notes.isEmpty {
            doc.heading("Observations", level: 2)
            doc.bulletList(r.notes)
        }

        doc.heading("Deviations from the paper", level: 2)
        doc.paragraph(m.deviations.map(Markdown.escape) ?? "None recorded: the setup follows the paper's.")

        doc.heading("What it means", level: 2)
        var meaning: [String] = []
        for e in m.expect {
            var line = "\(Markdown.code(e.metric)) (\(e.kind.rawValue))"
            if let why = e.why { line += ": " + sentence(Markdown.escape(why)) }
            if e.kind == .directional, let wd = e.whyDirectional { line += " Directional because " + sentence(Markdown.escape(wd)) }
            meaning.append(line)
        }
        doc.bulletList(meaning)
        switch r.status {
        case .passed:
            doc.paragraph("Every check holds, so this run supports the claim as stated above" + (m.expect.contains { $0.kind == .directional } ? " (for directional checks: its sign or ordering, not the paper's exact number)." : "."))
        case .failed:
            doc.paragraph("At least one check does not hold: either the method as implemented here differs from the paper's, or the claim does not carry over to this setup. The failing rows above say by how much.")
        case .skipped:
            doc.paragraph("Nothing was measured on this machine, so this report says nothing about the claim.")
        case .error:
            doc.paragraph("Nothing was measured because the recipe failed; fix the error above and rerun.")
        }
        if let notes = m.notes { doc.paragraph(Markdown.escape(notes)) }
        doc.rule()
        doc.paragraph("*Generated by `glassbox reproduce`; every number above comes from the run it describes. Do not edit by hand.*")
        return doc.render()
    }

    /// Ends `text` with a full stop unless it already ends with punctuation.
    static func sentence(_ text: String) -> String {
        guard let last = text.last else { return text }
        return ".!?".contains(last) ? text : text + "."
    }

    static func formatDuration(_ s: Double) -> String {
        s < 60 ? "\(NumberFormat.fixed(s, decimals: 1)) s" : "\(Int(s) / 60) min \(Int(s) % 60) s"
    }

    // MARK: - Roll-up

    /// `reports/README.md`: every target with a badge linking its report, its paper, its claim.
    public static func rollUp(_ results: ResultsFile) -> String {
        let all = results.targets.values.sorted { $0.id < $1.id }
        var doc = MarkdownDocument()
        doc.heading("Reproduction reports")
        let passed = all.filter { $0.status == .passed }.count
        let failed = all.filter { $0.status == .failed || $0.status == .error }.count
        let skipped = all.filter { $0.status == .skipped }.count
        doc.paragraph([
            Markdown.badge(label: "reproduced", message: "\(passed)/\(all.count)", color: passed == all.count && !all.isEmpty ? "brightgreen" : "yellow"),
            Markdown.badge(label: "failed", message: String(failed), color: failed == 0 ? "lightgrey" : "red"),
            Markdown.badge(label: "skipped", message: String(skipped), color: "lightgrey"),
        ].joined(separator: " "))
        doc.paragraph("One row per reproduction target (`reproductions/<slug>.yaml`). A skipped target was not run here (e.g. its model was unavailable) and is not a pass. Regenerate with `glassbox reproduce`; `glassbox check` compares a fresh run with `results.json`.")
        var table = MarkdownTable(headers: ["Target", "Paper", "Claim", "Tier", "Expectations", "Verdict"],
                                  alignments: [.left, .left, .left, .left, .right, .left])
        for r in all {
            table.addRow([Markdown.link(r.id, to: "\(r.id).md"), paperLink(r.paper), Markdown.escape(r.claim), r.tier.rawValue,
                          "\(r.passedCount)/\(r.expectations.count)", badge(for: r, link: "\(r.id).md")])
        }
        doc.table(table)
        doc.heading("By paper", level: 2)
        let byPaper = Dictionary(grouping: all, by: \.paper)
        doc.bulletList(byPaper.keys.sorted().map { paper in
            paperLink(paper) + ": " + byPaper[paper]!.map { Markdown.link($0.id, to: "\($0.id).md") }.joined(separator: ", ")
        })
        return doc.render()
    }
}
