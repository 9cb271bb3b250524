import Foundation
import Testing
@testable import GlassboxPapers

@Suite struct PaperIDTests {
    @Test(arguments: [
        ("2209.10652", "2209.10652", nil, "2209.10652.md"),
        ("2209.10652v2", "2209.10652", 2, "2209.10652.md"),
        ("arXiv:0706.0001v1", "0706.0001", 1, "0706.0001.md"),
        ("https://arxiv.org/abs/2301.05217v3", "2301.05217", 3, "2301.05217.md"),
        ("http://arxiv.org/abs/hep-ex/0307015", "hep-ex/0307015", nil, "hep-ex_0307015.md"),
        ("oai:arXiv.org:2203.01250v3", "2203.01250", 3, "2203.01250.md"),
        ("hep-th/9901001", "hep-th/9901001", nil, "hep-th_9901001.md"),
        ("math.GT/0309136v2", "math.GT/0309136", 2, "math.GT_0309136.md"),
        ("HEP-TH/9901001", "hep-th/9901001", nil, "hep-th_9901001.md"),
        ("web/logit-lens", "web/logit-lens", nil, "web_logit-lens.md"),
    ] as [(String, String, Int?, String)])
    func parses(raw: String, base: String, version: Int?, fileName: String) throws {
        let id = try PaperID(raw)
        #expect(id.base == base)
        #expect(id.version == version)
        #expect(id.fileName == fileName)
        #expect(try PaperID.fromFileName(fileName).base == base)
    }

    @Test(arguments: ["", "1234.12345", "2209.1065", "1501.0001", "0612.0001", "2213.00001", "2209.10652v0",
                      "hep-th/990100", "hep-th/9913001", "web/", "web/Bad_Slug", "2209.10652v", "cs/ab12345"])
    func rejects(raw: String) {
        #expect(throws: PapersError.invalidID(raw)) { try PaperID(raw) }
    }
}

@Suite struct PaperFileTests {
    @Test func parsesFixtureCatalog() throws {
        let catalog = try Catalog(directory: Fixtures.catalog.appendingPathComponent("papers"))
        #expect(catalog.problems.isEmpty)
        #expect(catalog.papers.map(\.id) == ["2209.10652", "2401.00001", "hep-ex/0307015", "web/logit-lens"])
        let tms = try #require(catalog.paper("2209.10652v1"))
        #expect(tms.version == 1)
        #expect(tms.authors == ["Nelson Elhage", "Tristan Hume", "Catherine Olsson"])
        #expect(tms.families == ["superposition"])
        #expect(tms.methods == ["toy-model", "feature-geometry"])
        #expect(tms.tags == ["toy", "anthropic"])
        #expect(tms.year == 2022)
        #expect(tms.abstract.hasPrefix("Fixture abstract written for the tests: toy ReLU models"))
        #expect(!tms.abstract.contains("\n"))
        #expect(tms.oneLineSummary == "Small ReLU autoencoders learn to represent more features than dimensions when the features are sparse.")
        let old = try #require(catalog.paper("hep-ex/0307015"))
        #expect(old.published == "2003-07-07T13:46:39-04:00")
        #expect(old.journalRef == "Eur.Phys.J. C31 (2003) 17-29")
        #expect(old.authors == ["H1 Collaboration"])
        #expect(catalog.paper("web/logit-lens")?.url?.hasPrefix("https://www.lesswrong.com/") == true)
        #expect(catalog.paper("2401.00001")?.isCandidate == true)
    }

    @Test func unchangedSyncFieldsKeepTheFileIdentical() throws {
        let url = Fixtures.catalog.appendingPathComponent("papers/hep-ex_0307015.md")
        let file = try PaperFile(contentsOf: url)
        #expect(file.rewriting(syncFields: file.paper.syncFields) == file.text)
    }

    @Test func rewritingChangesOnlyTheChangedBlocks() throws {
        let url = Fixtures.catalog.appendingPathComponent("papers/2209.10652.md")
        let file = try PaperFile(contentsOf: url)
        var new = file.paper.syncFields
        new.version = 2
        new.updated = "2022-10-01T10:00:00Z"
        new.doi = "10.0000/fixture.doi"
        new.abstract = "A replaced abstract with \"quotes\", a colon: and a # hash sign that YAML must carry."
        let out = file.rewriting(syncFields: new)
        let reparsed = try PaperFile(text: out, path: "memory")
        #expect(reparsed.paper.syncFields == new)
        // Every hand-written field and the body are kept byte for byte.
        #expect(reparsed.paper.body == file.paper.body)
        for kept in ["# Hand-written fields below; sync must never touch them.\n", "methods:\n- toy-model\n- feature-geometry\n",
                     "tags: [toy, anthropic]   # trailing comment kept\n", "reproductions:\n  - tms-basic\n"] {
            #expect(out.contains(kept))
        }
        let oldLines = file.text.split(separator: "\n", omittingEmptySubsequences: false)
        let newLines = out.split(separator: "\n", omittingEmptySubsequences: false)
        let removed = oldLines.filter { !newLines.contains($0) }
        #expect(removed.allSatisfy { $0.hasPrefix("version:") || $0.hasPrefix("updated:") || $0.hasPrefix("  ") || $0.hasPrefix("abstract:") })
        #expect(out.contains("doi: \"10.0000/fixture.doi\"\n# Hand-written"))
    }

    @Test func newFileRoundTrips() throws {
        let fields = SyncFields(id: "hep-th/9901001", version: 3, title: "A \"quoted\" title: with colon", authors: ["A. Author", "B. Écrivain"],
                                published: "1999-01-01T00:00:00Z", updated: "1999-03-01T00:00:00Z", primaryCategory: "hep-th",
                                categories: ["hep-th", "68T05"], abstract: String(repeating: "word ", count: 80) + "end.",
                                doi: nil, journalRef: nil, comment: "12 pages")
        let text = PaperFile.newFile(syncFields: SyncFields(id: fields.id, version: fields.version, title: fields.title, authors: fields.authors,
                                                            published: fields.published, updated: fields.updated,
                                                            primaryCategory: fields.primaryCategory, categories: fields.categories,
                                                            abstract: collapseWhitespace(fields.abstract), doi: nil, journalRef: nil,
                                                            comment: fields.comment))
        let file = try PaperFile(text: text, path: "memory")
        #expect(file.paper.syncFields.title == fields.title)
        #expect(file.paper.categories == ["hep-th", "68T05"])
        #expect(file.paper.abstract == collapseWhitespace(fields.abstract))
        #expect(file.paper.isCandidate)
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 110 })
    }

    @Test(arguments: [
        ("no front matter\n", "start with a '---' line"),
        ("---\nid: x\n", "not closed"),
        ("---\n- a\n- b\n---\n", "YAML mapping"),
        ("---\nid: [unclosed\n---\n", "not valid YAML"),
        ("---\nid: \"2209.10652\"\nversion: two\n---\n", "field 'version'"),
    ])
    func badFilesGiveClearErrors(text: String, fragment: String) {
        do {
            _ = try PaperFile(text: text, path: "bad.md")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains(fragment))
            #expect("\(error)".hasPrefix("bad.md"))
        }
    }
}

@Suite struct ValidationTests {
    @Test func fixtureCatalogIsValid() throws {
        let catalog = try Catalog(directory: Fixtures.catalog.appendingPathComponent("papers"))
        let report = catalog.validate()
        #expect(report.problems.map(\.description) == [])
        #expect(report.papersChecked == 4)
        #expect(report.targetsChecked == 2)
    }

    @Test func reportsEveryKindOfProblem() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let papers = root.appendingPathComponent("papers")
        try "---\nid: \"2209.10652\"\n---\n".write(to: papers.appendingPathComponent("2301.05217.md"), atomically: true, encoding: .utf8)
        try "---\nid: 1234.12345\n---\n".write(to: papers.appendingPathComponent("1234.12345.md"), atomically: true, encoding: .utf8)
        try "not a paper".write(to: papers.appendingPathComponent("broken.md"), atomically: true, encoding: .utf8)
        try "id: orphan\npaper: \"2312.99999\"\n".write(to: root.appendingPathComponent("reproductions/orphan.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: root.appendingPathComponent("reproductions/tms-basic.yaml"))
        let report = try Catalog(directory: papers).validate()
        let text = report.problems.map(\.description).joined(separator: "\n")
        #expect(text.contains("broken.md: expected the file to start with a '---' line"))
        #expect(text.contains("1234.12345.md: field 'id'"))
        #expect(text.contains("id '2209.10652' is also used by"))
        #expect(text.contains("2301.05217.md: file name should be '2209.10652.md'"))
        #expect(text.contains("2301.05217.md: field 'title'"))
        #expect(text.contains("no target 'tms-basic'"))
        #expect(text.contains("orphan.yaml: field 'paper': expected the id of a paper in the catalog; no paper '2312.99999'"))
        #expect(text.contains("body section '## Summary' is missing"))
    }
}

/// Sync must cope with front matter written in any YAML style by people.
@Suite struct FrontMatterStyleTests {
    static let body = "\n## Summary\n\nHand-written. Keep it.\n"
    static let styles: [String] = [
        // Literal block abstract, flow authors, comments between fields.
        "---\nid: 2209.10652\nversion: 1\ntitle: Toy Models of Superposition\nauthors: [Nelson Elhage, Tristan Hume]\n# people below\nfamilies: [superposition]\nabstract: |\n  Old abstract line one\n  and line two.\n\n  Second paragraph.\ntags: [a]\n---\n",
        // Plain multi-line scalar, block list at column 0, CRLF line ends.
        "---\r\nid: '2209.10652'\r\ntitle: Toy Models\r\n  of Superposition\r\nauthors:\r\n- Nelson Elhage\r\n- Tristan Hume\r\nabstract: Old abstract\r\n  continued here.\r\nmethods:\r\n- toy-model\r\n---\r\n",
        // Sync fields after the hand-written ones, quoted keys, no version yet.
        "---\nfamilies:\n  - superposition\n\"id\": \"2209.10652v1\"\ntitle: \"Toy Models of Superposition\"\nabstract: >\n  Old folded\n  abstract.\nauthors:\n  - Nelson Elhage\n  - Tristan Hume\nreproductions: []\n---\n",
    ]

    @Test(arguments: 0..<3)
    func rewriteKeepsHandWrittenText(style: Int) throws {
        let text = Self.styles[style] + Self.body
        let file = try PaperFile(text: text, path: "style\(style).md")
        #expect(file.paper.id == "2209.10652")
        #expect(file.paper.title == "Toy Models of Superposition")
        #expect(file.paper.authors == ["Nelson Elhage", "Tristan Hume"])
        var new = file.paper.syncFields
        new.version = 3
        new.abstract = "A new abstract: with YAML-looking text - [x] {y} # z."
        new.authors = ["Nelson Elhage", "Tristan Hume", "Chris Olah"]
        new.categories = ["cs.LG"]
        let out = file.rewriting(syncFields: new)
        let again = try PaperFile(text: out, path: "out.md")
        #expect(again.paper.syncFields == new)
        #expect(again.paper.body == file.paper.body)
        #expect(again.paper.families == file.paper.families)
        #expect(again.paper.methods == file.paper.methods)
        #expect(again.paper.tags == file.paper.tags)
        #expect(again.paper.reproductions == file.paper.reproductions)
        // Lines of hand-written fields and of unchanged sync fields are still there, verbatim.
        for line in text.components(separatedBy: "\n") where line.hasPrefix("title") || line.hasPrefix("#")
            || line.hasPrefix("families") || line.hasPrefix("tags") || line.hasPrefix("methods") || line.hasPrefix("- toy") {
            #expect(out.contains(line))
        }
        #expect(out.hasSuffix(Self.body))
    }
}
