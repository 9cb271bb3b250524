import Foundation
import GlassboxReports

/// Writes `reports/`: one Markdown report per target, its figures, the merged
/// `results.json` and the `README.md` roll-up. Every number written comes from the
/// outcomes passed in (the run that writes them) or, for the roll-up of targets not run
/// now, from the stored results.
public struct ReportWriter: Sendable {
    public var reportsDirectory: URL
    /// Every manifest in `reproductions/`: the roll-up lists each one, run or not. Nil: the
    /// roll-up lists the targets that have results only.
    public var catalog: [Manifest]?
    /// `papers/`: the roll-up checks each paper's `reproductions:` list against the manifests.
    public var papersDirectory: URL?

    public init(reportsDirectory: URL, catalog: [Manifest]? = nil, papersDirectory: URL? = nil) {
        self.reportsDirectory = reportsDirectory
        self.catalog = catalog
        self.papersDirectory = papersDirectory
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
        try writeRollUp(results)
        return results
    }

    /// Writes `README.md` from `results` (and the catalog and papers, when set).
    public func writeRollUp(_ results: ResultsFile) throws {
        let paperLists = papersDirectory.map { PaperFamilies(papersDirectory: $0).allReproductions() }
        try writeAtomically(Self.rollUp(results, catalog: catalog, paperLists: paperLists),
                            to: reportsDirectory.appendingPathComponent("README.md"))
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

    /// `12.3 s` under a minute, `4 min 5 s` above.
    public static func formatDuration(_ s: Double) -> String {
        s < 60 ? "\(NumberFormat.fixed(s, decimals: 1)) s" : "\(Int(s) / 60) min \(Int(s) % 60) s"
    }

    // MARK: - Roll-up

    /// One row of the roll-up: a manifest and its stored result, if it has one.
    struct RollUpEntry {
        var id: String
        var paper: String
        var claim: String
        var tier: Tier
        var expectations: Int
        var result: TargetResult?
    }

    /// `reports/README.md`: every target of `catalog` (every manifest in `reproductions/`; when
    /// nil, every target in `results`) with its tier, a badge linking its report, its paper and
    /// its claim. A target with no stored result is listed as not run, with the command that runs
    /// it. With `paperLists` (paper id → its `reproductions:` slugs in `papers/`) the roll-up
    /// says whether those lists and the manifests' `paper` fields agree, and lists every mismatch.
    public static func rollUp(_ results: ResultsFile, catalog: [Manifest]? = nil, paperLists: [String: [String]]? = nil) -> String {
        let entries: [RollUpEntry]
        if let catalog {
            entries = catalog.sorted { $0.id < $1.id }.map {
                RollUpEntry(id: $0.id, paper: $0.paper, claim: $0.claim, tier: $0.tier, expectations: $0.expect.count, result: results.targets[$0.id])
            }
        } else {
            entries = results.targets.values.sorted { $0.id < $1.id }.map {
                RollUpEntry(id: $0.id, paper: $0.paper, claim: $0.claim, tier: $0.tier, expectations: $0.expectations.count, result: $0)
            }
        }
        let run = entries.compactMap(\.result)
        let notRun = entries.filter { $0.result == nil }
        var doc = MarkdownDocument()
        doc.heading("Reproduction reports")
        let passed = run.filter { $0.status == .passed }.count
        let failed = run.filter { $0.status == .failed || $0.status == .error }.count
        let skipped = run.filter { $0.status == .skipped }.count
        let total = entries.count
        doc.paragraph([
            Markdown.badge(label: "reproduced", message: "\(passed)/\(total)", color: passed == total && total > 0 ? "brightgreen" : "yellow"),
            Markdown.badge(label: "failed", message: String(failed), color: failed == 0 ? "lightgrey" : "red"),
            Markdown.badge(label: "skipped", message: String(skipped), color: "lightgrey"),
            Markdown.badge(label: "not run", message: String(notRun.count), color: "lightgrey"),
        ].joined(separator: " "))
        var counts = "**\(run.count) of \(total) target\(total == 1 ? "" : "s") run, \(passed) passed**"
        var rest: [String] = []
        if failed > 0 { rest.append("\(failed) failed") }
        if skipped > 0 { rest.append("\(skipped) skipped (not passed)") }
        if !rest.isEmpty { counts += ", " + rest.joined(separator: ", ") }
        let tiers = Tier.allCases.compactMap { tier -> String? in
            let inTier = entries.filter { $0.tier == tier }
            return inTier.isEmpty ? nil : "\(tier.rawValue) tier \(inTier.filter { $0.result != nil }.count) of \(inTier.count) run"
        }
        doc.paragraph(counts + " (" + tiers.joined(separator: ", ") + ").")
        doc.paragraph("One row per reproduction target (`reproductions/<slug>.yaml`). A skipped target was not run here (e.g. its model was unavailable) and is not a pass; a target marked not run has no result in `results.json` yet, and the command beside it runs it. `glassbox reproduce --tier fast` runs the fast tier (what `make reproduce` does) and keeps the stored results of the full tier; `glassbox reproduce` runs everything. `glassbox check` compares a fresh run with `results.json`.")
        var table = MarkdownTable(headers: ["Target", "Paper", "Claim", "Tier", "Expectations", "Verdict"],
                                  alignments: [.left, .left, .left, .left, .right, .left])
        for e in entries {
            if let r = e.result {
                table.addRow([Markdown.link(r.id, to: "\(r.id).md"), paperLink(r.paper), Markdown.escape(r.claim), r.tier.rawValue,
                              "\(r.passedCount)/\(r.expectations.count)", badge(for: r, link: "\(r.id).md")])
            } else {
                table.addRow([Markdown.link(e.id, to: "../reproductions/\(e.id).yaml"), paperLink(e.paper), Markdown.escape(e.claim), e.tier.rawValue,
                              "—/\(e.expectations)",
                              Markdown.badge(label: e.id, message: "not run", color: "lightgrey") + " run: " + Markdown.code("glassbox reproduce \(e.id)")])
            }
        }
        doc.table(table)
        if catalog != nil {
            let listed = Set(entries.map(\.id))
            let orphans = results.targets.keys.filter { !listed.contains($0) }.sorted()
            if !orphans.isEmpty {
                doc.paragraph("`results.json` also holds results of targets with no manifest in `reproductions/` (not listed above): " + orphans.map(Markdown.code).joined(separator: ", ") + ".")
            }
        }

        doc.heading("By paper", level: 2)
        let byPaper = Dictionary(grouping: entries, by: \.paper)
        doc.bulletList(byPaper.keys.sorted().map { paper in
            paperLink(paper) + ": " + byPaper[paper]!.map { e in
                e.result == nil ? "\(e.id) (not run)" : Markdown.link(e.id, to: "\(e.id).md")
            }.joined(separator: ", ")
        })
        if let paperLists {
            let problems = catalogMismatches(entries, paperLists: paperLists)
            if problems.isEmpty {
                doc.paragraph("Each paper's `reproductions:` list in `papers/` names exactly the targets above whose manifests name that paper.")
            } else {
                doc.paragraph("The `reproductions:` lists in `papers/` and the manifests' `paper` fields disagree:")
                doc.bulletList(problems)
            }
        }
        return doc.render()
    }

    /// Where the papers' `reproductions:` lists and the manifests' `paper` fields disagree.
    static func catalogMismatches(_ entries: [RollUpEntry], paperLists: [String: [String]]) -> [String] {
        var problems: [String] = []
        let paperOf = Dictionary(entries.map { ($0.id, $0.paper) }, uniquingKeysWith: { a, _ in a })
        for e in entries {
            guard let list = paperLists[e.paper] else {
                problems.append("\(Markdown.code("reproductions/\(e.id).yaml")) names paper \(Markdown.code(e.paper)), which has no file in `papers/`.")
                continue
            }
            if !list.contains(e.id) {
                problems.append("\(paperLink(e.paper)) does not list \(Markdown.code(e.id)), whose manifest names it.")
            }
        }
        for (paper, list) in paperLists.sorted(by: { $0.key < $1.key }) {
            for slug in list where paperOf[slug] != paper {
                if let other = paperOf[slug] {
                    problems.append("\(paperLink(paper)) lists \(Markdown.code(slug)), whose manifest names paper \(Markdown.code(other)).")
                } else {
                    problems.append("\(paperLink(paper)) lists \(Markdown.code(slug)), which has no manifest in `reproductions/`.")
                }
            }
        }
        return problems
    }
}
