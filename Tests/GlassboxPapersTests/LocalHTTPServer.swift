import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 server on 127.0.0.1 (ephemeral port) for the client tests. Each connection is
/// served on its own thread by `handler`, which sees the request path with its query and returns
/// a status, a body and an optional delay before answering (to provoke client timeouts).
final class LocalHTTPServer: @unchecked Sendable {
    struct Reply: Sendable {
        var status: Int = 200
        var body: Data
        var delay: TimeInterval = 0
        var contentType = "application/atom+xml; charset=utf-8"
        init(status: Int = 200, body: Data, delay: TimeInterval = 0) { self.status = status; self.body = body; self.delay = delay }
        init(status: Int = 200, _ text: String, delay: TimeInterval = 0) { self.init(status: status, body: Data(text.utf8), delay: delay) }
    }
    struct Request: Sendable {
        var target: String   // path and query, as sent
        var time: Date
        var query: [String: String] {
            guard let c = URLComponents(string: "http://h" + target) else { return [:] }
            var out: [String: String] = [:]
            for item in c.queryItems ?? [] { out[item.name] = item.value ?? "" }
            return out
        }
        var path: String { URLComponents(string: "http://h" + target)?.path ?? target }
    }

    let port: UInt16
    private let listener: Int32
    private let handler: @Sendable (Request, Int) -> Reply
    private let lock = NSLock()
    private var _requests: [Request] = []
    private var stopped = false

    var requests: [Request] { lock.lock(); defer { lock.unlock() }; return _requests }
    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// `handler(request, n)`: n is the 0-based index of the request among all received.
    init(handler: @escaping @Sendable (Request, Int) -> Reply) throws {
        self.handler = handler
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.listener = fd
        self.port = UInt16(bigEndian: addr.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func stop() {
        lock.lock()
        let already = stopped
        stopped = true
        lock.unlock()
        if already { return }  // closing twice could close a descriptor reused by another server
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                lock.lock(); let done = stopped; lock.unlock()
                if done { return }
                continue
            }
            let t = Thread { [self] in serve(client) }
            t.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !buffer.containsHeaderEnd {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return }
            buffer += chunk[0..<n]
        }
        let head = String(decoding: buffer, as: UTF8.self)
        let requestLine = head.split(separator: "\r\n").first ?? ""
        let parts = requestLine.split(separator: " ")
        guard parts.count >= 2 else { return }
        let request = Request(target: String(parts[1]), time: Date())
        lock.lock()
        let index = _requests.count
        _requests.append(request)
        lock.unlock()
        let reply = handler(request, index)
        if reply.delay > 0 { Thread.sleep(forTimeInterval: reply.delay) }
        let reason = [200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
                      503: "Service Unavailable"][reply.status] ?? "Status"
        var out = Data("HTTP/1.1 \(reply.status) \(reason)\r\nContent-Type: \(reply.contentType)\r\nContent-Length: \(reply.body.count)\r\nConnection: close\r\n\r\n".utf8)
        out += reply.body
        out.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if n <= 0 { return }
                sent += n
            }
        }
    }
}

private extension Array where Element == UInt8 {
    var containsHeaderEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 { return true }
        return false
    }
}
