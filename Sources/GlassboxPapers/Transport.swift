import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An HTTP answer: status and body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: Data
    public init(status: Int, body: Data) { self.status = status; self.body = body }
}

/// Failures below HTTP.
public enum TransportFailure: Error, Sendable, Equatable {
    case timedOut
    case failed(String)
}

/// The only network access of the module. Requests are synchronous and made one at a time.
public protocol HTTPTransport: Sendable {
    /// Performs a GET; throws `TransportFailure` when no HTTP answer arrives.
    func get(_ url: URL, timeout: TimeInterval) throws -> HTTPResponse
}

/// `HTTPTransport` over URLSession (libcurl on Linux).
public final class URLSessionTransport: HTTPTransport, @unchecked Sendable {
    private let session: URLSession
    private let userAgent: String

    public init(userAgent: String = "glassbox-papers/1.0 (+https://github.com/; catalog builder)") {
        let config = URLSessionConfiguration.ephemeral
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        config.httpMaximumConnectionsPerHost = 1
        self.session = URLSession(configuration: config)
        self.userAgent = userAgent
    }

    public func get(_ url: URL, timeout: TimeInterval) throws -> HTTPResponse {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.setValue(userAgent, forHTTPHeaderField: "User-Agent")
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { data, response, error in
            if let error {
                let ns = error as NSError
                if ns.domain == NSURLErrorDomain && ns.code == NSURLErrorTimedOut {
                    box.set(.failure(.timedOut))
                } else {
                    box.set(.failure(.failed(error.localizedDescription)))
                }
            } else if let http = response as? HTTPURLResponse {
                box.set(.success(HTTPResponse(status: http.statusCode, body: data ?? Data())))
            } else {
                box.set(.failure(.failed("no HTTP response")))
            }
            done.signal()
        }
        task.resume()
        // libcurl's timer treats the interval as idle time; enforce it as a deadline for the whole answer.
        if done.wait(timeout: .now() + timeout) == .timedOut {
            task.cancel()
            return try Result<HTTPResponse, TransportFailure>.failure(.timedOut).get()
        }
        return try box.get().get()
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<HTTPResponse, TransportFailure>?
    func set(_ v: Result<HTTPResponse, TransportFailure>) { lock.lock(); value = v; lock.unlock() }
    func get() -> Result<HTTPResponse, TransportFailure> {
        lock.lock(); defer { lock.unlock() }
        return value ?? .failure(.failed("no result"))
    }
}
