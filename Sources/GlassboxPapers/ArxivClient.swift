import Foundation

/// Settings of the arXiv client. The defaults follow arXiv's terms of use: one request at a
/// time, at least 3 seconds apart; tests shorten the intervals and point the endpoints at a
/// local server.
public struct ArxivClientConfiguration: Sendable {
    /// The query API (`https://export.arxiv.org/api/query`).
    public var endpoint: URL
    /// The announcement feeds; categories joined with `+` are appended (`https://rss.arxiv.org/atom/`).
    public var feedEndpoint: URL
    /// Minimum time between the end of one request and the start of the next.
    public var minimumInterval: TimeInterval
    /// Attempts per request (first try included) on HTTP 429/5xx, timeouts and empty pages.
    public var maxAttempts: Int
    /// Backoff before retry n (1-based): `backoffBase * 2^(n-1)`, at most 60 s.
    public var backoffBase: TimeInterval
    /// Per-request timeout.
    public var timeout: TimeInterval
    /// `max_results` per page of a `search_query`.
    public var pageSize: Int
    /// Ids per `id_list` request.
    public var idBatchSize: Int
    /// Responses are cached under `<cacheDirectory>/<UTC day>/`; nil disables the cache.
    public var cacheDirectory: URL?

    public static let defaultEndpoint = URL(string: "https://export.arxiv.org/api/query")!
    public static let defaultFeedEndpoint = URL(string: "https://rss.arxiv.org/atom/")!

    public init(endpoint: URL = defaultEndpoint, feedEndpoint: URL = defaultFeedEndpoint, minimumInterval: TimeInterval = 3,
                maxAttempts: Int = 4, backoffBase: TimeInterval = 5, timeout: TimeInterval = 30, pageSize: Int = 100,
                idBatchSize: Int = 100, cacheDirectory: URL? = ArxivClientConfiguration.defaultCacheDirectory) {
        self.endpoint = endpoint; self.feedEndpoint = feedEndpoint; self.minimumInterval = minimumInterval
        self.maxAttempts = max(1, maxAttempts); self.backoffBase = backoffBase; self.timeout = timeout
        self.pageSize = max(1, min(pageSize, 2000)); self.idBatchSize = max(1, idBatchSize); self.cacheDirectory = cacheDirectory
    }

    /// `$GLASSBOX_CACHE/arxiv`, default `~/.cache/glassbox/arxiv`.
    public static var defaultCacheDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["GLASSBOX_CACHE"], !env.isEmpty {
            return URL(fileURLWithPath: env).appendingPathComponent("arxiv")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/glassbox/arxiv")
    }
}

/// The arXiv query API and announcement feeds, fetched politely: serialised, rate limited,
/// retried with backoff, cached per query and day.
public final class ArxivClient: @unchecked Sendable {
    public let configuration: ArxivClientConfiguration
    private let transport: HTTPTransport
    private let now: @Sendable () -> Date
    private let log: (@Sendable (String) -> Void)?
    private let lock = NSLock()
    private var lastRequestEnd: Date?
    private var _networkRequests = 0

    public init(configuration: ArxivClientConfiguration = ArxivClientConfiguration(),
                transport: HTTPTransport = URLSessionTransport(), now: @escaping @Sendable () -> Date = { Date() },
                log: (@Sendable (String) -> Void)? = nil) {
        self.configuration = configuration
        self.transport = transport
        self.now = now
        self.log = log
    }

    /// Requests sent over the network so far (cache hits excluded).
    public var networkRequests: Int { lock.lock(); defer { lock.unlock() }; return _networkRequests }

    // MARK: Query API

    /// Resolves ids with `id_list`, in batches. A versioned id fetches that version; an unversioned
    /// one the latest. Every requested id must come back, else `PapersError.notFound`.
    public func fetch(ids: [PaperID]) throws -> [ArxivEntry] {
        var result: [ArxivEntry] = []
        var seen = Set<String>()
        let unique = ids.filter { seen.insert($0.versioned).inserted }
        for batchStart in stride(from: 0, to: unique.count, by: configuration.idBatchSize) {
            let batch = Array(unique[batchStart..<min(batchStart + configuration.idBatchSize, unique.count)])
            let url = queryURL(["id_list": batch.map(\.versioned).joined(separator: ","),
                                "start": "0", "max_results": String(batch.count)])
            let feed = try fetchFeed(url)
            for id in batch where !feed.entries.contains(where: { $0.id.base == id.base }) {
                throw PapersError.notFound(id: id.versioned)
            }
            let wanted = Set(batch.map(\.base))
            result += feed.entries.filter { wanted.contains($0.id.base) }
        }
        return result
    }

    /// Runs a `search_query`, following pages until `limit` entries or the end of the results.
    public func search(query: String, limit: Int = 100, sortBy: String = "submittedDate",
                       sortOrder: String = "descending") throws -> [ArxivEntry] {
        var entries: [ArxivEntry] = []
        var start = 0
        while entries.count < limit {
            let size = min(configuration.pageSize, limit - entries.count)
            let url = queryURL(["search_query": query, "start": String(start), "max_results": String(size),
                                "sortBy": sortBy, "sortOrder": sortOrder])
            let feed = try fetchFeed(url, expectEntries: { $0.startIndex < $0.totalResults })
            entries += feed.entries
            start += feed.entries.count
            if feed.entries.isEmpty || start >= feed.totalResults { break }
        }
        return entries
    }

    /// The query URL for these parameters, in arXiv's canonical parameter order.
    public func queryURL(_ params: [String: String]) -> URL {
        var c = URLComponents(url: configuration.endpoint, resolvingAgainstBaseURL: false)!
        let order = ["search_query", "id_list", "start", "max_results", "sortBy", "sortOrder"]
        c.queryItems = order.compactMap { k in params[k].map { URLQueryItem(name: k, value: $0) } }
        // `+` in a query is a space to arXiv; keep a literal plus encoded.
        c.percentEncodedQuery = c.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return c.url!
    }

    /// Fetches and parses one page; retries (within the attempt budget) when `expectEntries` says the
    /// page should have entries but it came back empty. Only parsed, error-free pages are cached.
    private func fetchFeed(_ url: URL, expectEntries: ((ArxivFeed) -> Bool)? = nil) throws -> ArxivFeed {
        if let cached = cacheRead(url), let feed = try? ArxivFeed.parse(cached, source: url.absoluteString) {
            log?("cached \(url.absoluteString)")
            return feed
        }
        var attempt = 0
        while true {
            attempt += 1
            let data = try get(url)
            let feed = try ArxivFeed.parse(data, source: url.absoluteString)
            if feed.entries.isEmpty, let expect = expectEntries, expect(feed), attempt < configuration.maxAttempts {
                sleep(backoff(attempt))
                continue
            }
            cacheWrite(url, data)
            return feed
        }
    }

    // MARK: Announcement feeds

    /// The daily announcement feed of `categories` (e.g. `["cs.LG", "cs.CL"]`).
    public func announcements(categories: [String]) throws -> AnnouncementFeed {
        guard !categories.isEmpty, categories.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0 == "." || $0 == "-" } }) else {
            throw PapersError.invalidArgument(name: "feed", value: categories.joined(separator: "+"), expected: "arXiv categories joined with '+', such as cs.LG+cs.CL")
        }
        var base = configuration.feedEndpoint.absoluteString
        if !base.hasSuffix("/") { base += "/" }
        let url = URL(string: base + categories.joined(separator: "+"))!
        if let cached = cacheRead(url), let feed = try? AnnouncementFeed.parse(cached, source: url.absoluteString) {
            return feed
        }
        let data = try get(url)
        let feed = try AnnouncementFeed.parse(data, source: url.absoluteString)
        cacheWrite(url, data)
        return feed
    }

    // MARK: HTTP with rate limit and retries

    /// GETs `url`: waits for the rate limit, retries on 429/500/502/503/504, timeouts, transport
    /// failures and arXiv's plain-text "Rate exceeded." body, with exponential backoff.
    public func get(_ url: URL) throws -> Data {
        var lastFailure: PapersError = .transport(url: url.absoluteString, message: "no attempt made")
        for attempt in 1...configuration.maxAttempts {
            if attempt > 1 {
                log?("retrying in \(String(format: "%.0f", backoff(attempt - 1))) s (\(lastFailure.description))")
                sleep(backoff(attempt - 1))
            }
            waitForSlot()
            log?("GET \(url.absoluteString)")
            let outcome: Result<HTTPResponse, TransportFailure>
            do { outcome = .success(try transport.get(url, timeout: configuration.timeout)) }
            catch let f as TransportFailure { outcome = .failure(f) }
            catch { outcome = .failure(.failed("\(error)")) }
            markRequestEnd()
            switch outcome {
            case .failure(.timedOut):
                lastFailure = .timedOut(url: url.absoluteString, attempts: attempt)
            case .failure(.failed(let message)):
                lastFailure = .transport(url: url.absoluteString, message: "\(message) (after \(attempt) attempt\(attempt == 1 ? "" : "s"))")
            case .success(let response):
                if response.status == 200 {
                    if Self.isRateExceeded(response.body) {
                        lastFailure = .httpStatus(url: url.absoluteString, status: 429, attempts: attempt)
                        continue
                    }
                    return response.body
                }
                if [429, 500, 502, 503, 504].contains(response.status) {
                    lastFailure = .httpStatus(url: url.absoluteString, status: response.status, attempts: attempt)
                    continue
                }
                throw PapersError.httpStatus(url: url.absoluteString, status: response.status, attempts: attempt)
            }
        }
        throw lastFailure
    }

    static func isRateExceeded(_ body: Data) -> Bool {
        let head = String(decoding: body.prefix(64), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return head.hasPrefix("Rate exceeded")
    }

    private func backoff(_ retry: Int) -> TimeInterval {
        min(60, configuration.backoffBase * pow(2, Double(retry - 1)))
    }

    private func sleep(_ seconds: TimeInterval) {
        if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
    }

    private func waitForSlot() {
        lock.lock()
        let last = lastRequestEnd
        _networkRequests += 1
        lock.unlock()
        if let last {
            let wait = configuration.minimumInterval - Date().timeIntervalSince(last)
            sleep(wait)
        }
    }

    private func markRequestEnd() {
        lock.lock(); lastRequestEnd = Date(); lock.unlock()
    }

    // MARK: Cache

    /// The cache file of a URL for today (UTC).
    public func cacheFile(for url: URL) -> URL? {
        guard let dir = configuration.cacheDirectory else { return nil }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let d = cal.dateComponents([.year, .month, .day], from: now())
        let day = String(format: "%04d-%02d-%02d", d.year ?? 0, d.month ?? 0, d.day ?? 0)
        return dir.appendingPathComponent(day).appendingPathComponent(Self.fnv1a(url.absoluteString) + ".xml")
    }

    private func cacheRead(_ url: URL) -> Data? {
        guard let file = cacheFile(for: url) else { return nil }
        return try? Data(contentsOf: file)
    }

    private func cacheWrite(_ url: URL, _ data: Data) {
        guard let file = cacheFile(for: url) else { return }
        // A cache that cannot be written only costs a request next time.
        try? writeAtomically(data, to: file)
    }

    static func fnv1a(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16).leftPadded(to: 16)
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
