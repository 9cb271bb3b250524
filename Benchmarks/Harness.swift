import Foundation

/// One measured workload: runs `body` after a warm-up of about 0.1 s, at least `runs` times (more, up to 0.5 s in all, for fast workloads) and keeps the times.
struct Measurement: Codable {
    var median_s: Double
    var min_s: Double
    var max_s: Double
    var runs: Int
    var gflops: Double?
    var gbps: Double?
}

final class BenchHarness {
    private(set) var results: [(name: String, m: Measurement, note: String)] = []
    let filter: String?

    init(filter: String?) { self.filter = filter }

    func wants(_ name: String) -> Bool { filter.map { name.contains($0) } ?? true }

    /// Times `body`; `flops` / `bytes` per run give GFLOP/s and GB/s from the median.
    func measure(_ name: String, runs: Int = 7, flops: Double? = nil, bytes: Double? = nil, note: String = "", _ body: () -> Void) {
        guard wants(name) else { return }
        // Warm-up: at least one run and about 0.1 s, so the clock speed, OpenBLAS's threads and the
        // allocator have settled before anything is timed.
        let warmStart = DispatchTime.now().uptimeNanoseconds
        repeat { body() } while DispatchTime.now().uptimeNanoseconds - warmStart < 100_000_000
        // At least `runs` timed runs, more for fast workloads (up to 0.5 s of runs, at most 200).
        var times = [Double]()
        var total = 0.0
        while times.count < runs || (total < 0.5 && times.count < 200) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            let t = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            times.append(t)
            total += t
        }
        times.sort()
        let median = times[times.count / 2]
        let m = Measurement(median_s: median, min_s: times.first!, max_s: times.last!, runs: times.count,
                            gflops: flops.map { $0 / median / 1e9 }, gbps: bytes.map { $0 / median / 1e9 })
        results.append((name, m, note))
        let rate = m.gflops.map { String(format: "%8.1f GFLOP/s", $0) } ?? m.gbps.map { String(format: "%8.2f GB/s   ", $0) } ?? String(repeating: " ", count: 15)
        let padded = name.count < 44 ? name + String(repeating: " ", count: 44 - name.count) : name
        print(padded + String(format: " %10.3f ms  ", median * 1e3) + rate + "  " + note)
    }

    /// Records times measured elsewhere (e.g. per query).
    func record(_ name: String, seconds: [Double], note: String = "") {
        guard wants(name), !seconds.isEmpty else { return }
        let t = seconds.sorted()
        let m = Measurement(median_s: t[t.count / 2], min_s: t.first!, max_s: t.last!, runs: t.count, gflops: nil, gbps: nil)
        results.append((name, m, note))
        let padded = name.count < 44 ? name + String(repeating: " ", count: 44 - name.count) : name
        print(padded + String(format: " %10.3f ms  ", m.median_s * 1e3) + String(repeating: " ", count: 15) + "  " + note)
    }

    func writeJSON(to path: String) throws {
        var dict = [String: Measurement]()
        for r in results { dict[r.name] = r.m }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try enc.encode(dict)
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }
}
