import Foundation
import Testing
@testable import GlassboxPapers

@Suite struct AtomParsingTests {
    func feed(_ name: String) throws -> ArxivFeed {
        try ArxivFeed.parse(Data(try Fixtures.text("atom/\(name)").utf8), source: name)
    }

    @Test func manualExample() throws {
        let f = try feed("manual-electron.xml")
        #expect(f.totalResults == 1000)
        #expect(f.startIndex == 0)
        #expect(f.itemsPerPage == 1)
        #expect(f.selfLink == "http://arxiv.org/api/query?search_query=all:electron&id_list=&start=0&max_results=1")
        let e = try #require(f.entries.first)
        #expect(e.id.base == "hep-ex/0307015")
        #expect(e.id.version == nil)
        #expect(e.version == 1)  // from the alternate link
        #expect(e.title == "Multi-Electron Production at High Transverse Momenta in ep Collisions at HERA")
        #expect(e.summary == "Multi-electron production is studied at high electron transverse momentum in positron- and electron-proton collisions using the H1 detector at HERA.")
        #expect(e.authors.map(\.name) == ["H1 Collaboration"])
        #expect(e.published == "2003-07-07T13:46:39-04:00")
        #expect(e.primaryCategory == "hep-ex")
        #expect(e.categories == ["hep-ex"])
        #expect(e.comment == "23 pages, 8 figures and 4 tables")
        #expect(e.journalRef == "Eur.Phys.J. C31 (2003) 17-29")
        #expect(e.doi == nil)
        #expect(e.links.count == 2)
        #expect(e.links[1].title == "pdf")
    }

    @Test func entryFieldsWithAffiliationsAndDOI() throws {
        let v2 = try feed("tms-v2.xml").entries[0]
        #expect(v2.id.versioned == "2209.10652v2")
        #expect(v2.title == "Toy Models of Superposition")
        #expect(v2.authors[0] == ArxivEntry.Author(name: "Nelson Elhage", affiliations: ["Anthropic"]))
        #expect(v2.authors[1].affiliations == [])
        #expect(v2.published == "2022-09-21T15:30:48Z")
        #expect(v2.updated == "2022-10-03T09:12:01Z")
        let page0 = try feed("search-page0.xml")
        #expect(page0.entries[1].doi == "10.1000/fixture.102")
        #expect(page0.entries[1].categories == ["cs.CL", "cs.AI"])
        #expect(page0.entries[0].comment == "12 pages, 5 figures")
        #expect(try feed("search-page1.xml").entries[0].journalRef == "Fixture J. 1 (2024) 1-9")
    }

    @Test func errorEntryIsAnError() throws {
        #expect(throws: PapersError.arxivError(query: "ArXiv Query: search_query=&id_list=1234.12345",
                                               message: "incorrect id format for 1234.12345")) {
            try feed("error.xml")
        }
    }

    @Test func malformedXMLNamesTheLine() throws {
        do {
            _ = try feed("malformed.xml")
            Issue.record("expected an error")
        } catch let PapersError.malformedXML(source, line, _) {
            #expect(source == "malformed.xml")
            #expect(line > 10)
        }
        #expect(throws: PapersError.self) { try ArxivFeed.parse(Data("Rate exceeded.".utf8), source: "x") }
        #expect(throws: PapersError.unexpectedFeed(source: "x", message: "expected an Atom <feed> from the arXiv API, found <html>")) {
            try ArxivFeed.parse(Data("<html><body/></html>".utf8), source: "x")
        }
    }
}

@Suite struct AnnouncementFeedTests {
    @Test func atomDailyFeed() throws {
        let f = try AnnouncementFeed.parse(Data(try Fixtures.text("feeds/cs.LG+cs.CL-2024-02-23.xml").utf8), source: "feed")
        #expect(f.title == "cs.LG+cs.CL updates on arXiv.org")
        #expect(f.entries.count == 10)
        let first = f.entries[0]
        #expect(first.id.versioned == "2402.14001v1")
        #expect(first.announceType == .new)
        #expect(first.authors == ["Ada Example", "Ben Sample"])
        #expect(first.categories == ["cs.LG", "cs.CL"])
        #expect(first.abstract == "We train sparse autoencoders on the residual stream and find monosemantic features.")
        #expect(f.entries[2].announceType == .cross)
        #expect(f.entries[2].authors == ["Dana Fixture", "Eli Mock"])
        #expect(f.entries[3].announceType == .replace)
        #expect(f.entries[3].id.versioned == "2311.09001v2")
        #expect(f.entries[4].announceType == .replaceCross)
    }

    @Test func emptyWeekendFeed() throws {
        let f = try AnnouncementFeed.parse(Data(try Fixtures.text("feeds/cs.LG+cs.CL-2024-02-24-weekend.xml").utf8), source: "feed")
        #expect(f.entries.isEmpty)
    }

    @Test func rssDailyFeed() throws {
        let f = try AnnouncementFeed.parse(Data(try Fixtures.text("feeds/cs.LG-rss-2024-02-23.xml").utf8), source: "rss")
        #expect(f.title == "cs.LG updates on arXiv.org")
        #expect(f.entries.map(\.id.versioned) == ["2402.14001v1", "2311.09001v2"])
        #expect(f.entries.map(\.announceType) == [.new, .replace])
        #expect(f.entries[0].categories == ["cs.LG", "cs.CL"])
        #expect(f.entries[0].abstract.hasPrefix("We train sparse autoencoders"))
    }
}
