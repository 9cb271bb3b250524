import Foundation
import Testing
@testable import GlassboxPapers

@Suite struct SearchTests {
    @Test func bm25ScoresMatchTheFormula() {
        let papers = [
            Paper(id: "1501.00001", title: "", abstract: "apple apple banana"),
            Paper(id: "1501.00002", title: "", abstract: "banana cherry"),
            Paper(id: "1501.00003", title: "", abstract: "cherry cherry cherry date"),
        ]
        let index = SearchIndex(papers: papers)
        let hits = index.search("apple")
        #expect(hits.map(\.id) == ["1501.00001"])
        let idf = log(1 + (3 - 1 + 0.5) / (1 + 0.5))
        #expect(abs(hits[0].score - idf * 2 * 2.2 / (2 + 1.2 * 1)) < 1e-5)
        // cherry: df = 2; doc 3 (tf 3, length 4) beats doc 2 (tf 1, length 2).
        let cherry = index.search("cherries")
        #expect(cherry.map(\.id) == ["1501.00003", "1501.00002"])
        let idf2 = log(1 + (3 - 2 + 0.5) / (2 + 0.5))
        let norm3 = 1 - 0.75 + 0.75 * 4.0 / 3.0
        #expect(abs(cherry[0].score - idf2 * 3 * 2.2 / (3 + 1.2 * norm3)) < 1e-5)
        #expect(index.search("durian").isEmpty)
        #expect(index.search("the of and").isEmpty)
    }

    @Test(arguments: [
        ("superposition polytopes", "2209.10652"),
        ("logit lens residual stream", "web/logit-lens"),
        ("electron HERA", "hep-ex/0307015"),
        ("sparse autoencoder", "2401.00001"),
    ])
    func findsFixturePapers(query: String, top: String) throws {
        let catalog = try Catalog(directory: Fixtures.catalog.appendingPathComponent("papers"))
        #expect(SearchIndex(papers: catalog.papers).search(query).first?.id == top)
    }

    @Test func titleWeighsMoreThanAbstract() {
        let index = SearchIndex(papers: [
            Paper(id: "1501.00001", title: "Grokking", abstract: "a study of training dynamics"),
            Paper(id: "1501.00002", title: "Training dynamics", abstract: "a study of grokking"),
        ])
        #expect(index.search("grokking").map(\.id) == ["1501.00001", "1501.00002"])
    }

    @Test func syntheticCatalogIsDeterministicAndRanked() {
        let a = PapersBenchmark.syntheticPapers(count: 500, seed: 7)
        #expect(a == PapersBenchmark.syntheticPapers(count: 500, seed: 7))
        #expect(a != PapersBenchmark.syntheticPapers(count: 500, seed: 8))
        #expect(Set(a.map(\.id)).count == 500)
        let hits = SearchIndex(papers: a).search("sparse autoencoder features", limit: 10)
        #expect(hits.count == 10)
        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
    }
}

@Suite struct BrowseTests {
    func view() throws -> CatalogView {
        CatalogView(catalog: try Catalog(directory: Fixtures.catalog.appendingPathComponent("papers")))
    }

    @Test func statusesFromResults() throws {
        let v = try view()
        #expect(try v.listing("2209.10652").status == .reproduced)
        #expect(try v.listing("2209.10652").targets == [LinkedTarget(id: "tms-basic", model: "toy", verdict: .pass)])
        #expect(try v.listing("web/logit-lens").status == .failing)
        #expect(try v.listing("hep-ex/0307015").status == .untested)
        #expect(throws: PapersError.unknownPaper("2301.05217")) { try v.listing("2301.05217") }
    }

    @Test func missingResultsMeansUntested() throws {
        let v = CatalogView(catalog: try Catalog(directory: Fixtures.catalog.appendingPathComponent("papers")),
                                resultsFile: Fixtures.catalog.appendingPathComponent("reports/none.json"))
        #expect(v.results == nil)
        #expect(v.listings.allSatisfy { $0.status == .untested })
    }

    @Test(arguments: [
        (PaperFilter(), ["2209.10652", "hep-ex/0307015", "web/logit-lens"]),
        (PaperFilter(candidates: .only), ["2401.00001"]),
        (PaperFilter(candidates: .include), ["2209.10652", "2401.00001", "hep-ex/0307015", "web/logit-lens"]),
        (PaperFilter(family: "Superposition"), ["2209.10652"]),
        (PaperFilter(method: "logit-lens"), ["web/logit-lens"]),
        (PaperFilter(year: 2003), ["hep-ex/0307015"]),
        (PaperFilter(status: .failing), ["web/logit-lens"]),
        (PaperFilter(status: .untested), ["hep-ex/0307015"]),
        (PaperFilter(family: "superposition", status: .failing), []),
    ])
    func filters(filter: PaperFilter, expected: [String]) throws {
        #expect(try view().list(filter).map(\.id) == expected)
    }

    @Test(arguments: [
        (#"{"targets": {"a": {"status": "passed"}, "b": "regression", "c": {"passed": false}}}"#, ["a": TargetVerdict.pass, "b": .fail, "c": .fail]),
        (#"{"targets": [{"target": "a", "checks": [{"verdict": "pass"}, {"verdict": "skipped"}]}, {"id": "b", "outcome": "ok"}]}"#, ["a": .skipped, "b": .pass]),
        (#"{"results": [{"slug": "a", "verdict": "weird"}]}"#, ["a": .unknown]),
        (#"{"commit": "abc"}"#, [:]),
    ])
    func lenientResults(json: String, expected: [String: TargetVerdict]) throws {
        #expect(try ResultsSummary.parse(Data(json.utf8), path: "r.json").verdicts == expected)
    }

    @Test func brokenResultsFileIsReportedAndIgnored() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        try "{ not json".write(to: root.appendingPathComponent("reports/results.json"), atomically: true, encoding: .utf8)
        let v = CatalogView(catalog: try Catalog(directory: root.appendingPathComponent("papers")))
        #expect(v.results == nil)
        #expect(v.resultsProblem?.description.hasSuffix("reports/results.json: expected a JSON object with a 'targets' list") == true)
        #expect(v.listings.allSatisfy { $0.status == .untested })
    }

    @Test func invalidResultsJSONIsAClearError() {
        #expect(throws: PapersError.malformedPaperFile(path: "r.json", message: "expected a JSON object with a 'targets' list")) {
            try ResultsSummary.parse(Data("[1, 2".utf8), path: "r.json")
        }
    }

    @Test func indexMarkdown() throws {
        let md = CatalogIndex.markdown(try view())
        #expect(md.contains("3 annotated papers (1 reproduced, 1 failing, 1 untested), 2 linked reproduction targets.\n"))
        #expect(md.contains("| superposition | feature-geometry | 1 | 1 | toy | 1 |\n"))
        #expect(md.contains("| lenses | logit-lens | 1 | 1 | smollm2-135m-instruct | 0 |\n"))
        #expect(md.contains("- ✅ **[Toy Models of Superposition](2209.10652.md)** (2022) — Small ReLU autoencoders learn to represent more features than dimensions when the features are sparse. Targets: [`tms-basic`](../reports/tms-basic.md).\n"))
        #expect(md.contains("- ❌ **[interpreting GPT: the logit lens](web_logit-lens.md)** (2020)"))
        #expect(md.contains("- [A Candidate Paper on Sparse Autoencoders](2401.00001.md) (2024)\n"))
        let families = md.components(separatedBy: "\n").filter { $0.hasPrefix("## ") }
        #expect(families == ["## Contents", "## Coverage", "## attribution", "## lenses", "## superposition", "## Candidates awaiting annotation"])
    }

    @Test func indexIsWrittenAtomicallyAndIgnoredByTheCatalog() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let catalog = try Catalog(directory: root.appendingPathComponent("papers"))
        let url = try CatalogIndex.write(CatalogView(catalog: catalog))
        #expect(url.lastPathComponent == "README.md")
        let reloaded = try Catalog(directory: root.appendingPathComponent("papers"))
        #expect(reloaded.papers.count == 4 && reloaded.problems.isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("papers").path).filter { $0.contains(".tmp") }
        #expect(leftovers.isEmpty)
    }
}

@Suite struct TokenizerTests {
    @Test(arguments: [
        ("The Induction HEADS of GPT-2", ["induction", "head", "gpt", "2"]),
        ("Studies of classes, lenses and buses", ["study", "class", "lense", "buse"]),
        ("Ré-sumé: naïve Bayes’s limits — ℓ1 penalties", ["ré", "sumé", "naïve", "baye", "limit", "ℓ1", "penalty"]),
    ] as [(String, [String])])
    func terms(text: String, expected: [String]) {
        #expect(Tokenizer.terms(text) == expected)
    }
}

@Suite struct SectionTests {
    @Test func headingsMatchCaseInsensitivelyAndFencesAreSkipped() {
        let p = Paper(id: "1501.00001", title: "T", body: "## summary\n\nFirst sentence here. Second one.\n\n```\n## Key claims inside a fence\n```\n## Key Claims\n- x\n")
        #expect(p.section("Summary")?.hasPrefix("First sentence here.") == true)
        #expect(p.section("key claims") == "- x")
        #expect(p.section("Method") == nil)
        #expect(p.oneLineSummary == "First sentence here.")
    }

    @Test func authorsAreSearchable() {
        let index = SearchIndex(papers: [Paper(id: "1501.00001", title: "A", authors: ["Nelson Elhage"]),
                                         Paper(id: "1501.00002", title: "B", authors: ["Chris Olah"])])
        #expect(index.search("elhage").map(\.id) == ["1501.00001"])
    }
}
