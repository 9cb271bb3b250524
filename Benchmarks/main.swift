import Foundation
import GlassboxTensor

// `make bench`: prints a table and writes .build/bench.json
// ({workload: {median_s, min_s, max_s, runs, gflops?, gbps?}}). `GlassboxBench FILTER` runs the matching workloads.
let filter = CommandLine.arguments.dropFirst().first
let harness = BenchHarness(filter: filter)
print("Glassbox benchmarks — \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Threading.workers) threads")
print(String(repeating: "-", count: 90))
tensorBenchmarks(harness)
modelBenchmarks(harness)
lensBenchmarks(harness)
patchingBenchmarks(harness)
papersBenchmarks(harness)
attributionBenchmarks(harness)
toyBenchmarks(harness)
do {
    try harness.writeJSON(to: ".build/bench.json")
    print("wrote .build/bench.json")
} catch {
    FileHandle.standardError.write(Data("bench: could not write .build/bench.json: \(error)\n".utf8))
    exit(1)
}
