import Foundation
import GlassboxTensor
import Testing

/// The README's Swift quick start, kept true: the code between the README markers below is
/// the README's ```swift block (apart from its `import Glassbox` line), and it runs here and
/// gives the loss and gradient a Double computation gives.
@Suite struct ReadmeQuickStartTests {
    @Test func quickStartComputesTheRightLossAndGradient() {
        // README:BEGIN
        // The tensor core: seeded, differentiable, on OpenBLAS.
        var rng = SeededGenerator(seed: 0)
        let w = Tensor.randomNormal([2, 5], using: &rng)
        let (loss, grad) = valueWithGradient(at: w) { w in
            w.transposed().matmul(w).relu().meanSquaredError(Tensor.eye(5))
        }
        print(loss.item, grad.shape)
        // README:END

        // L = mean over (i, j) of (relu(G_ij) − δ_ij)², G = WᵀW; dL/dW[k, i] = Σ_j 2·(2/25)·r_ij·[G_ij > 0]·W[k, j]
        // (G symmetric, so both uses of W contribute the same term).
        let v = w.scalars.map(Double.init)
        var residual = [[Double]](repeating: [Double](repeating: 0, count: 5), count: 5)
        var active = residual
        var expectedLoss = 0.0
        for i in 0..<5 {
            for j in 0..<5 {
                let g = v[i] * v[j] + v[5 + i] * v[5 + j]
                residual[i][j] = max(g, 0) - (i == j ? 1 : 0)
                active[i][j] = g > 0 ? 1 : 0
                expectedLoss += residual[i][j] * residual[i][j] / 25
            }
        }
        #expect(abs(Double(loss.item) - expectedLoss) < 1e-5 * max(1, expectedLoss))
        #expect(grad.shape == [2, 5])
        let g = grad.scalars
        for k in 0..<2 {
            for i in 0..<5 {
                var d = 0.0
                for j in 0..<5 { d += 4.0 / 25 * residual[i][j] * active[i][j] * v[5 * k + j] }
                #expect(abs(Double(g[5 * k + i]) - d) < 1e-5, "dL/dW[\(k), \(i)]")
            }
        }
    }

    @Test func readmeShowsExactlyThisCode() throws {
        let testFile = URL(fileURLWithPath: #filePath)
        let root = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst()
        let block = try #require(blocks.first?.components(separatedBy: "```").first, "README.md has no ```swift block")
        let shown = block.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0 != "import Glassbox" }

        let source = try String(contentsOf: testFile, encoding: .utf8)
        let begin = try #require(source.range(of: "// README:BEGIN\n")), end = try #require(source.range(of: "// README:END"))
        let tested = source[begin.upperBound..<end.lowerBound].split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        #expect(shown == tested, "README.md's Swift quick start differs from the code this test runs")
    }
}
