import CBLAS
import Foundation
import GlassboxTensor

/// Matrix products through `Tensor` next to direct `cblas_sgemm`, and elementwise kernels.
func tensorBenchmarks(_ h: BenchHarness) {
    var rng = SeededGenerator(seed: 0)
    for (m, k, n) in [(128, 576, 1536), (512, 576, 1536), (1024, 1024, 1024)] {
        let a = Tensor.randomNormal([m, k], using: &rng), b = Tensor.randomNormal([k, n], using: &rng)
        let flops = 2.0 * Double(m * k * n)
        let label = "\(m)x\(k)x\(n)"
        h.measure("matmul \(label) Tensor", flops: flops) { _ = a.matmul(b) }
        let av = a.scalars, bv = b.scalars
        var c = [Float](repeating: 0, count: m * n)
        h.measure("matmul \(label) cblas_sgemm", flops: flops) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, av, Int32(k), bv, Int32(n), 0, &c, Int32(n))
        }
        // Transposed view (the x·Wᵀ of every linear layer): no copy.
        let wt = Tensor.randomNormal([n, k], using: &rng)
        h.measure("matmul \(label) Tensor, Bᵀ view", flops: flops) { _ = a.matmul(wt.transposed()) }
    }
    for size in [1 << 20, 1 << 24] {
        let label = size == 1 << 20 ? "1M" : "16M"
        let x = Tensor.randomNormal([size / 1024, 1024], using: &rng)
        let w = Tensor.ones([1024])
        let bytes = 2.0 * 4 * Double(size)  // read + write
        let runs = size > 1 << 22 ? 5 : 15
        h.measure("softmax \(label) floats", runs: runs, bytes: bytes) { _ = x.softmax() }
        h.measure("rms norm \(label) floats", runs: runs, bytes: bytes) { _ = x.rmsNorm(weight: w, eps: 1e-5) }
        h.measure("silu \(label) floats", runs: runs, bytes: bytes) { _ = x.silu() }
        h.measure("gelu tanh \(label) floats", runs: runs, bytes: bytes) { _ = x.geluTanh() }
        h.measure("gelu erf \(label) floats", runs: runs, bytes: bytes) { _ = x.geluErf() }
    }
}
