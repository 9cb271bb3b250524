import Foundation
import GlassboxTensor

/// Errors of the attribution methods: the message names the argument, its value and what was expected.
public enum AttributionError: Error, CustomStringConvertible, Equatable {
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidArgument(let m): return "attribution: \(m)"
        }
    }
}

/// A differentiable function evaluated on a batch, the common input of every attribution
/// method: it maps inputs stacked on a leading axis, [k, ...inputShape], to one scalar per
/// row, [k]. Rows must not interact (row i of the output depends on row i of the input
/// only), so the gradient of the sum of the outputs is every row's own gradient — the way
/// Captum batches interpolation steps.
public struct BatchedFunction: @unchecked Sendable {
    public let evaluate: (Tensor) -> Tensor

    /// A function that already handles a leading batch axis ([k, ...] → [k]).
    public init(batched evaluate: @escaping (Tensor) -> Tensor) {
        self.evaluate = evaluate
    }

    /// Any `(Tensor) -> Tensor` on one input ([...inputShape] → a one-element tensor),
    /// applied to the rows of a batch one at a time.
    public init(perInput function: @escaping (Tensor) -> Tensor) {
        self.evaluate = { x in
            let rows = (0..<x.shape[0]).map { i -> Tensor in
                let y = function(x.select(axis: 0, i))
                precondition(y.count == 1, "BatchedFunction: the function returned shape \(y.shape); a scalar function of the input is expected")
                return y.reshaped([])
            }
            return Tensor.stack(rows, axis: 0)
        }
    }

    /// The values [k] of a batch (no gradient recorded).
    public func values(_ x: Tensor) -> [Double] {
        let y = evaluate(x)
        precondition(y.count == x.shape[0], "BatchedFunction: \(x.shape[0]) inputs gave \(y.count) outputs (shape \(y.shape)); one scalar per row is expected")
        return y.scalars.map(Double.init)
    }

    /// Values [k] and the gradients [k, ...] of each row's output with respect to its row.
    ///
    /// Undefined gradients: where a rule produces NaN or ±∞ (for example √x or log x at 0),
    /// the entry is set to 0 — the subgradient convention ReLU already uses at 0 — and counted
    /// in `nonFinite`, so a method never returns NaN and the caller can see that it happened.
    public func valuesAndGradients(_ x: Tensor) -> (values: [Double], gradients: Tensor, nonFinite: Int) {
        let tape = GradientTape()
        let watched = tape.watch(x)
        let y = evaluate(watched)
        precondition(y.count == x.shape[0], "BatchedFunction: \(x.shape[0]) inputs gave \(y.count) outputs (shape \(y.shape)); one scalar per row is expected")
        var g = tape.gradient(of: y.sum(), withRespectTo: [watched])[0]
        var nonFinite = 0
        g.withUnsafeMutableBufferPointer { b in
            for i in 0..<b.count where !b[i].isFinite {
                b[i] = 0
                nonFinite += 1
            }
        }
        return (y.detached().scalars.map(Double.init), g, nonFinite)
    }
}

/// Inputs for a batch: `rows` tensors of one shape stacked on a new leading axis.
func stackRows(_ rows: [[Float]], shape: [Int]) -> Tensor {
    let n = Tensor.product(shape)
    return Tensor(shape: [rows.count] + shape) { buf in
        for (r, row) in rows.enumerated() {
            precondition(row.count == n, "stackRows: row of \(row.count) values for shape \(shape)")
            for i in 0..<n { buf[r * n + i] = row[i] }
        }
    }
}

/// Chunks of `0..<count` of at most `size`.
func chunks(_ count: Int, size: Int) -> [Range<Int>] {
    let s = max(1, size)
    return stride(from: 0, to: count, by: s).map { $0..<min(count, $0 + s) }
}

func checkSameShape(_ input: Tensor, _ baseline: Tensor, _ what: String) throws {
    guard input.shape == baseline.shape else {
        throw AttributionError.invalidArgument("\(what): baseline shape \(baseline.shape) differs from the input shape \(input.shape)")
    }
}
