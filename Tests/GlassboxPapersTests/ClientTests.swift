import Foundation
import Testing
@testable import GlassboxPapers

/// Client settings for tests: short intervals, a cache in a fresh temporary directory.
func testClient(_ server: LocalHTTPServer, interval: TimeInterval = 0.05, timeout: TimeInterval = 5, pageSize: Int = 2, idBatch: Int = 2,
                cache: URL? = nil) -> ArxivClient {
    let config = ArxivClientConfiguration(
        endpoint: server.baseURL.appendingPathComponent("api/query"), feedEndpoint: server.baseURL.appendingPathComponent("atom"),
        minimumInterval: interval, maxAttempts: 3, backoffBase: 0.02, timeout: timeout, pageSize: pageSize, idBatchSize: idBatch,
        cacheDirectory: cache)
    return ArxivClient(configuration: config)
}

func fixtureReply(_ name: String) -> LocalHTTPServer.Reply {
    LocalHTTPServer.Reply((try? Fixtures.text(name)) ?? "missing fixture \(name)")
}

@Suite(.serialized) struct ClientTests {
    @Test func pagesThroughSearchResultsWithRateLimit() throws {
        let server = try LocalHTTPServer { req, _ in
            switch req.query["start"] {
            case "0": return fixtureReply("atom/search-page0.xml")
            case "2": return fixtureReply("atom/search-page1.xml")
            case "4": return fixtureReply("atom/search-page2.xml")
            default: return .init(status: 400, "bad start")
            }
        }
        defer { server.stop() }
        let client = testClient(server, interval: 0.2)
        let entries = try client.search(query: "all:interpretability", limit: 50)
        #expect(entries.map(\.id.base) == ["2403.00101", "2403.00102", "2403.00103", "2403.00104", "2403.00105"])
        let reqs = server.requests
        #expect(reqs.count == 3)
        #expect(reqs.map { $0.query["max_results"] } == ["2", "2", "2"])
        #expect(reqs[0].query["search_query"] == "all:interpretability")
        #expect(reqs[0].path == "/api/query")
        for i in 1..<reqs.count {
            #expect(reqs[i].time.timeIntervalSince(reqs[i - 1].time) >= 0.19)
        }
    }

    @Test func idListInBatchesAndOnlyRequestedIDs() throws {
        let server = try LocalHTTPServer { req, _ in
            req.query["id_list"] == "2403.00101,2403.00102" ? fixtureReply("atom/search-page0.xml")
                : req.query["id_list"] == "2403.00103v1" ? fixtureReply("atom/search-page1.xml") : .init(status: 404, "no")
        }
        defer { server.stop() }
        let client = testClient(server)
        let entries = try client.fetch(ids: [try PaperID("2403.00101"), try PaperID("2403.00102"), try PaperID("2403.00103v1")])
        // page1 also holds 2403.00104, which was not asked for.
        #expect(entries.map(\.id.base) == ["2403.00101", "2403.00102", "2403.00103"])
        #expect(server.requests.map { $0.query["id_list"] } == ["2403.00101,2403.00102", "2403.00103v1"])
    }

    @Test func missingIDIsNotFound() throws {
        let server = try LocalHTTPServer { _, _ in fixtureReply("atom/tms-v1.xml") }
        defer { server.stop() }
        #expect(throws: PapersError.notFound(id: "2301.05217")) {
            try testClient(server).fetch(ids: [try PaperID("2209.10652"), try PaperID("2301.05217")])
        }
    }

    @Test func errorEntryServedWith200() throws {
        let server = try LocalHTTPServer { _, _ in fixtureReply("atom/error.xml") }
        defer { server.stop() }
        #expect(throws: PapersError.arxivError(query: "ArXiv Query: search_query=&id_list=1234.12345",
                                               message: "incorrect id format for 1234.12345")) {
            try testClient(server).fetch(ids: [try PaperID("2209.10652")])
        }
        #expect(server.requests.count == 1)  // an error entry is not retried
    }

    @Test(arguments: [503, 429])
    func retriesAfterOverload(status: Int) throws {
        let server = try LocalHTTPServer { _, n in n == 0 ? .init(status: status, "busy") : fixtureReply("atom/tms-v2.xml") }
        defer { server.stop() }
        let entries = try testClient(server).fetch(ids: [try PaperID("2209.10652")])
        #expect(entries.map(\.id.versioned) == ["2209.10652v2"])
        #expect(server.requests.count == 2)
    }

    @Test func rateExceededBodyIsRetried() throws {
        let server = try LocalHTTPServer { _, n in n == 0 ? .init("Rate exceeded.") : fixtureReply("atom/tms-v1.xml") }
        defer { server.stop() }
        #expect(try testClient(server).fetch(ids: [try PaperID("2209.10652")]).count == 1)
        #expect(server.requests.count == 2)
    }

    @Test func retriesAreBounded() throws {
        let server = try LocalHTTPServer { _, _ in .init(status: 503, "down") }
        defer { server.stop() }
        let client = testClient(server)
        #expect(throws: PapersError.httpStatus(url: client.queryURL(["id_list": "2209.10652", "start": "0", "max_results": "1"]).absoluteString,
                                               status: 503, attempts: 3)) {
            try client.fetch(ids: [try PaperID("2209.10652")])
        }
        #expect(server.requests.count == 3)
    }

    @Test func notFoundStatusIsNotRetried() throws {
        let server = try LocalHTTPServer { _, _ in .init(status: 404, "no") }
        defer { server.stop() }
        #expect(throws: PapersError.self) { try testClient(server).fetch(ids: [try PaperID("2209.10652")]) }
        #expect(server.requests.count == 1)
    }

    @Test func timeoutThenSuccess() throws {
        let server = try LocalHTTPServer { _, n in
            var r = fixtureReply("atom/tms-v1.xml")
            if n == 0 { r.delay = 2.5 }
            return r
        }
        defer { server.stop() }
        let start = Date()
        let entries = try testClient(server, timeout: 0.5).fetch(ids: [try PaperID("2209.10652")])
        #expect(entries.count == 1)
        #expect(server.requests.count == 2)
        #expect(Date().timeIntervalSince(start) < 2.4)  // did not wait for the slow answer
    }

    @Test func timeoutEveryTimeIsAnError() throws {
        let server = try LocalHTTPServer { _, _ in .init("late", delay: 1.5) }
        defer { server.stop() }
        let client = ArxivClient(configuration: ArxivClientConfiguration(
            endpoint: server.baseURL.appendingPathComponent("api/query"), minimumInterval: 0, maxAttempts: 2, backoffBase: 0,
            timeout: 0.3, cacheDirectory: nil))
        do {
            _ = try client.fetch(ids: [try PaperID("2209.10652")])
            Issue.record("expected a timeout")
        } catch let PapersError.timedOut(_, attempts) {
            #expect(attempts == 2)
        }
    }

    @Test func emptyPageIsRetried() throws {
        let empty = (try Fixtures.text("atom/search-page2.xml")).replacingOccurrences(
            of: #"(?s)<entry>.*</entry>"#, with: "", options: .regularExpression)
        let server = try LocalHTTPServer { req, n in
            if req.query["start"] == "0" { return fixtureReply("atom/search-page0.xml") }
            if req.query["start"] == "2" { return fixtureReply("atom/search-page1.xml") }
            return n == 2 ? .init(empty) : fixtureReply("atom/search-page2.xml")
        }
        defer { server.stop() }
        let entries = try testClient(server).search(query: "all:interpretability", limit: 10)
        #expect(entries.count == 5)
        #expect(server.requests.count == 4)
    }

    @Test func cachesByQueryAndDay() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let server = try LocalHTTPServer { _, _ in fixtureReply("atom/tms-v1.xml") }
        defer { server.stop() }
        let config = testClient(server, cache: cache).configuration
        let day1 = ArxivClient(configuration: config, now: { Date(timeIntervalSince1970: 1_708_646_400) })  // 2024-02-23
        _ = try day1.fetch(ids: [try PaperID("2209.10652")])
        _ = try day1.fetch(ids: [try PaperID("2209.10652")])
        #expect(server.requests.count == 1)
        #expect(day1.cacheFile(for: day1.queryURL(["id_list": "2209.10652"]))!.path.contains("/2024-02-23/"))
        let day2 = ArxivClient(configuration: config, now: { Date(timeIntervalSince1970: 1_708_646_400 + 86_400) })
        _ = try day2.fetch(ids: [try PaperID("2209.10652")])
        #expect(server.requests.count == 2)
        _ = try day2.fetch(ids: [try PaperID("2209.10652v1")])  // another query
        #expect(server.requests.count == 3)
    }

    @Test func errorResponsesAreNotCached() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let server = try LocalHTTPServer { _, n in n == 0 ? fixtureReply("atom/error.xml") : fixtureReply("atom/tms-v1.xml") }
        defer { server.stop() }
        let client = testClient(server, cache: cache)
        #expect(throws: PapersError.self) { try client.fetch(ids: [try PaperID("2209.10652")]) }
        #expect(try client.fetch(ids: [try PaperID("2209.10652")]).count == 1)
        #expect(server.requests.count == 2)
    }
}
