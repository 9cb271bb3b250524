import Foundation
import Testing
@testable import GlassboxPapers

@Suite(.serialized) struct SyncTests {
    @Test func versionUpdateChangesOnlyVersionAndUpdated() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let papers = root.appendingPathComponent("papers")
        let before = try Fixtures.snapshot(root)
        let server = try LocalHTTPServer { _, _ in fixtureReply("atom/tms-v2.xml") }
        defer { server.stop() }
        let report = try CatalogSync.sync(directory: papers, client: testClient(server), ids: ["2209.10652"])
        #expect(report.updated.map(\.id) == ["2209.10652"])
        #expect(report.updated.first?.fields == ["version", "updated"])
        let after = try Fixtures.snapshot(root)
        #expect(Set(after.keys) == Set(before.keys))
        for (name, data) in before where name != "papers/2209.10652.md" { #expect(after[name] == data, "\(name) changed") }
        let old = String(decoding: before["papers/2209.10652.md"]!, as: UTF8.self)
        let new = String(decoding: after["papers/2209.10652.md"]!, as: UTF8.self)
        let expected = old.replacingOccurrences(of: "version: 1\n", with: "version: 2\n")
            .replacingOccurrences(of: "updated: \"2022-09-21T15:30:48Z\"", with: "updated: \"2022-10-03T09:12:01Z\"")
        #expect(new == expected)
        // A second sync finds nothing to do and writes nothing.
        let again = try CatalogSync.sync(directory: papers, client: testClient(server), ids: ["2209.10652"])
        #expect(again.unchanged.map(\.id) == ["2209.10652"])
        #expect(try Fixtures.snapshot(root) == after)
    }

    @Test func syncWithoutArgumentsRefreshesEveryArxivPaperAndKeepsAnnotations() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let papers = root.appendingPathComponent("papers")
        let before = try Catalog(directory: papers)
        // id_list batches of two: [2209.10652, 2401.00001], [hep-ex/0307015]. The second batch changes the abstract.
        let server = try LocalHTTPServer { req, _ in
            let ids = req.query["id_list"] ?? ""
            if ids == "2209.10652,2401.00001" {
                var text = (try? Fixtures.text("atom/tms-v2.xml")) ?? ""
                let candidate = (try? Fixtures.text("atom/discovery-resolve.xml")) ?? ""
                // Serve 2401.00001 by renaming one discovery entry (same title as the catalog's candidate).
                let piece = candidate.components(separatedBy: "<entry>")[4].components(separatedBy: "</entry>")[0]
                    .replacingOccurrences(of: "2402.14005", with: "2401.00001")
                    .replacingOccurrences(of: "Attention Sinks and the Interpretability of Long Contexts", with: "A Candidate Paper on Sparse Autoencoders")
                text = text.replacingOccurrences(of: "</feed>", with: "<entry>\(piece)</entry>\n</feed>")
                return .init(text)
            }
            if ids == "hep-ex/0307015" { return fixtureReply("atom/manual-electron.xml") }
            return .init(status: 400, "unexpected \(ids)")
        }
        defer { server.stop() }
        let report = try CatalogSync.sync(directory: papers, client: testClient(server))
        #expect(server.requests.count == 2)
        #expect(Set(report.updated.map(\.id)) == ["2209.10652", "2401.00001"])
        #expect(report.unchanged.map(\.id) == ["hep-ex/0307015"])  // the manual's entry equals the fixture after whitespace collapsing
        let after = try Catalog(directory: papers)
        for (b, a) in zip(before.files, after.files) {
            #expect(a.paper.body == b.paper.body)
            #expect(a.paper.families == b.paper.families && a.paper.methods == b.paper.methods && a.paper.tags == b.paper.tags
                    && a.paper.reproductions == b.paper.reproductions && a.paper.status == b.paper.status)
            // Every hand-written front-matter line survives verbatim.
            let handKeys = ["families", "methods", "tags", "reproductions", "status", "url", "#"]
            let handLines = b.text.split(separator: "\n").filter { line in handKeys.contains { line.hasPrefix($0) } || line.hasPrefix("- ") }
            for line in handLines { #expect(a.text.contains(line + "\n")) }
        }
        #expect(after.paper("2401.00001")?.abstract == "We study attention sinks in language models.")
        #expect(after.validate().isValid)
    }

    @Test func addsNewPapersFromAQueryAsCandidates() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let papers = root.appendingPathComponent("papers")
        let server = try LocalHTTPServer { req, _ in
            ["0": fixtureReply("atom/search-page0.xml"), "2": fixtureReply("atom/search-page1.xml"),
             "4": fixtureReply("atom/search-page2.xml")][req.query["start"] ?? ""] ?? .init(status: 400, "?")
        }
        defer { server.stop() }
        let report = try CatalogSync.sync(directory: papers, client: testClient(server), query: "all:interpretability", limit: 5)
        #expect(report.added.map(\.id) == ["2403.00101", "2403.00102", "2403.00103", "2403.00104", "2403.00105"])
        let catalog = try Catalog(directory: papers)
        let p = try #require(catalog.paper("2403.00102"))
        #expect(p.isCandidate)
        #expect(p.doi == "10.1000/fixture.102")
        #expect(p.authors == ["Chen Placeholder"])
        #expect(p.primaryCategory == "cs.CL")
        #expect(p.version == 1)
        #expect(catalog.validate().isValid)
    }

    @Test func titleMismatchIsAnErrorAndWritesNothing() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let before = try Fixtures.snapshot(root)
        let server = try LocalHTTPServer { _, _ in fixtureReply("atom/tms-wrong-title.xml") }
        defer { server.stop() }
        #expect(throws: PapersError.titleMismatch(id: "2209.10652", catalog: "Toy Models of Superposition", arxiv: "Sparse Coding in Visual Cortex")) {
            try CatalogSync.sync(directory: root.appendingPathComponent("papers"), client: testClient(server), ids: ["2209.10652"])
        }
        #expect(try Fixtures.snapshot(root) == before)
    }

    @Test(arguments: ["atom/malformed.xml", "atom/error.xml"])
    func badResponseLeavesCatalogUntouched(fixture: String) throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let before = try Fixtures.snapshot(root)
        let server = try LocalHTTPServer { _, _ in fixtureReply(fixture) }
        defer { server.stop() }
        do {
            _ = try CatalogSync.sync(directory: root.appendingPathComponent("papers"), client: testClient(server), query: "all:x", limit: 5)
            Issue.record("expected an error")
        } catch let e as PapersError {
            let text = e.description
            #expect(text.contains("malformed XML at line") || text.contains("incorrect id format"))
        }
        #expect(try Fixtures.snapshot(root) == before)
    }

    @Test func unparseableFilesAreSkippedAndReported() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let papers = root.appendingPathComponent("papers")
        try "---\nid: [oops\n---\n".write(to: papers.appendingPathComponent("2301.05217.md"), atomically: true, encoding: .utf8)
        let server = try LocalHTTPServer { _, _ in fixtureReply("atom/tms-v2.xml") }
        defer { server.stop() }
        let report = try CatalogSync.sync(directory: papers, client: testClient(server), ids: ["2209.10652"])
        #expect(report.skipped.count == 1)
        #expect(report.skipped.first?.contains("2301.05217.md: front matter is not valid YAML") == true)
        #expect(try String(contentsOf: papers.appendingPathComponent("2301.05217.md"), encoding: .utf8) == "---\nid: [oops\n---\n")
    }

    @Test func webIDsCannotBeSynced() throws {
        let server = try LocalHTTPServer { _, _ in .init(status: 500, "x") }
        defer { server.stop() }
        #expect(throws: PapersError.self) {
            try CatalogSync.sync(directory: Fixtures.catalog.appendingPathComponent("papers"), client: testClient(server), ids: ["web/logit-lens"])
        }
        #expect(server.requests.isEmpty)
    }
}

@Suite(.serialized) struct DiscoveryTests {
    static let feedName = "feeds/cs.LG+cs.CL-2024-02-23.xml"

    @Test func proposesExactlyTheMatchingNewPapersOnceAndNeverADismissedOne() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let papers = root.appendingPathComponent("papers")
        let server = try LocalHTTPServer { req, _ in
            if req.path == "/atom/cs.LG+cs.CL" { return fixtureReply(Self.feedName) }
            if req.path == "/api/query", req.query["id_list"] == "2402.14001,2402.14003,2402.14005" {
                return fixtureReply("atom/discovery-resolve.xml")
            }
            return .init(status: 400, "unexpected \(req.target)")
        }
        defer { server.stop() }
        try Discovery.dismiss("2402.14004v1", directory: papers, reason: "steering vectors are out of scope here")
        let rules = try DiscoveryRules.load(papers.appendingPathComponent("discover.yaml"))
        let client = testClient(server, idBatch: 10)
        let first = try Discovery.discover(directory: papers, client: client, rules: rules)
        #expect(first.proposed.map(\.id) == ["2402.14001", "2402.14003", "2402.14005"])
        #expect(first.proposed.map(\.announceType) == ["new", "cross", "new"])
        #expect(first.proposed[2].matched == ["attention sink"])
        #expect(first.dismissed == ["2402.14004"])
        #expect(first.examined == 9)
        let catalog = try Catalog(directory: papers)
        let candidates = catalog.papers.filter(\.isCandidate).map(\.id)
        #expect(candidates == ["2401.00001", "2402.14001", "2402.14003", "2402.14005"])
        #expect(catalog.paper("2402.14003")?.primaryCategory == "cs.CL")
        #expect(catalog.paper("2402.14001")?.comment == "9 pages")
        #expect(catalog.validate().isValid)

        // The same feed again proposes nothing and makes no API query.
        let requestsBefore = server.requests.count
        let second = try Discovery.discover(directory: papers, client: client, rules: rules)
        #expect(second.proposed.isEmpty)
        #expect(Set(second.known) == ["2402.14001", "2402.14003", "2402.14005"])
        #expect(server.requests.count == requestsBefore + 1)  // only the feed

        // Dismissing a candidate removes its file and keeps it out for good.
        #expect(try Discovery.dismiss("2402.14005", directory: papers))
        let third = try Discovery.discover(directory: papers, client: client, rules: rules)
        #expect(third.proposed.isEmpty)
        #expect(third.dismissed == ["2402.14004", "2402.14005"])
        #expect(try Catalog(directory: papers).paper("2402.14005") == nil)
        let dismissedText = try String(contentsOf: papers.appendingPathComponent("dismissed.txt"), encoding: .utf8)
        #expect(dismissedText.contains("2402.14004  # steering vectors are out of scope here\n"))
    }

    @Test func emptyWeekendFeedProposesNothing() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let papers = root.appendingPathComponent("papers")
        let before = try Fixtures.snapshot(root)
        let server = try LocalHTTPServer { req, _ in
            req.path == "/atom/cs.LG+cs.CL" ? fixtureReply("feeds/cs.LG+cs.CL-2024-02-24-weekend.xml") : .init(status: 400, "no")
        }
        defer { server.stop() }
        let rules = try DiscoveryRules.load(papers.appendingPathComponent("discover.yaml"))
        let report = try Discovery.discover(directory: papers, client: testClient(server), rules: rules)
        #expect(report.examined == 0 && report.proposed.isEmpty)
        #expect(server.requests.count == 1)
        #expect(try Fixtures.snapshot(root) == before)
    }

    @Test func savedRSSFeedIsReadWithoutAFeedRequest() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        let papers = root.appendingPathComponent("papers")
        let server = try LocalHTTPServer { req, _ in
            req.query["id_list"] == "2402.14001" ? fixtureReply("atom/discovery-resolve.xml") : .init(status: 400, "unexpected \(req.target)")
        }
        defer { server.stop() }
        let rules = try DiscoveryRules.load(papers.appendingPathComponent("discover.yaml"))
        let feed = Data(try Fixtures.text("feeds/cs.LG-rss-2024-02-23.xml").utf8)
        let dry = try Discovery.discover(directory: papers, client: testClient(server), rules: rules, feedData: feed, dryRun: true)
        #expect(dry.proposed.map(\.id) == ["2402.14001"])
        #expect(try Catalog(directory: papers).paper("2402.14001") == nil)
        let report = try Discovery.discover(directory: papers, client: testClient(server), rules: rules, feedData: feed)
        #expect(report.proposed.map(\.id) == ["2402.14001"])
        #expect(try Catalog(directory: papers).paper("2402.14001")?.isCandidate == true)
        #expect(server.requests.allSatisfy { $0.path == "/api/query" })
    }

    @Test func annotatedPapersCannotBeDismissed() throws {
        let root = try Fixtures.copyOfCatalog()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: PapersError.self) { try Discovery.dismiss("2209.10652", directory: root.appendingPathComponent("papers")) }
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("papers/2209.10652.md").path))
    }

    @Test(arguments: [
        ("Sparse Autoencoders Find Features", "", ["sparse autoencoder"]),
        ("Linear probing of a transformer", "", ["probing", "transformer"]),
        ("Interpretable language models", "we study them", ["interpretab", "language model"]),
        ("Interpretable image models", "", []),
        ("Image segmentation with sparse autoencoders", "", []),
        ("Sparse auto encoders", "", []),
    ] as [(String, String, [String])])
    func ruleMatching(title: String, abstract: String, expected: [String]) throws {
        let rules = try DiscoveryRules.load(Fixtures.catalog.appendingPathComponent("papers/discover.yaml"))
        #expect(rules.matches(title: title, abstract: abstract) == expected)
    }

    @Test(arguments: [
        ("any: [x]\nbogus: 1\n", "unknown key 'bogus'"),
        ("feeds: [cs.LG]\n", "no rules"),
        ("any: [x]\nannounce_types: [new, sideways]\n", "announce type 'sideways'"),
        ("any: [x\n", "not valid YAML"),
    ])
    func badRules(text: String, fragment: String) {
        do {
            _ = try DiscoveryRules.parse(text, path: "discover.yaml")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".hasPrefix("discover.yaml: "))
            #expect("\(error)".contains(fragment))
        }
    }
}
