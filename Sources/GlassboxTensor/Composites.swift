/// Operations composed from the primitives in Primitives.swift; their gradients follow
/// from the primitives' rules.
extension Tensor {
    /// Population variance (divide by n) over `axes` (all when nil).
    public func variance(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor {
        let axesList = (axes ?? Array(0..<rank)).map { axis($0, op: "variance") }
        let centered = self - mean(axes: axesList, keepingDimensions: true)
        return centered.squared().mean(axes: axesList, keepingDimensions: keep)
    }

    /// log Σ exp along `axis`, shifted by the (constant) maximum for stability.
    public func logSumExp(axis ax: Int = -1, keepingDimensions keep: Bool = false) -> Tensor {
        let a = axis(ax, op: "logSumExp")
        // The shift is a constant: its gradient contributions cancel exactly.
        let m = detached().max(axis: a, keepingDimensions: true).stopInfinities()
        return (self - m).exp().sum(axes: [a], keepingDimensions: true).log().reshapedKeep(a, keep) + m.reshapedKeep(a, keep)
    }

    func stopInfinities() -> Tensor {
        var t = contiguous().detached()
        t.withUnsafeMutableBufferPointer { b in for i in 0..<b.count where !b[i].isFinite { b[i] = 0 } }
        return t
    }

    func reshapedKeep(_ a: Int, _ keep: Bool) -> Tensor {
        if keep { return self }
        var s = shape; s.remove(at: a)
        return reshaped(s)
    }

    /// Mean cross-entropy of `self` (logits [N, C]) against class `targets` (N indices).
    public func crossEntropy(targets: [Int]) -> Tensor {
        checkPrecondition(rank == 2, "crossEntropy: logits must be [N, C], got \(shape)")
        return -logSoftmax(axis: -1).gatherLast(targets).mean()
    }

    /// Mean squared error against `target` (same shape).
    public func meanSquaredError(_ target: Tensor) -> Tensor {
        checkPrecondition(shape == target.shape, "meanSquaredError: shapes \(shape) and \(target.shape) differ")
        return (self - target).squared().mean()
    }

    /// x·Wᵀ + b for weights stored [out, in] (the PyTorch `nn.Linear` layout).
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let y = matmul(weight.transposed())
        return bias.map { y + $0 } ?? y
    }

    /// The 2-norm of all elements.
    public func norm() -> Tensor { squared().sum().sqrt() }

    /// KL(p ‖ q) along the last axis from log-probabilities, in nats.
    public static func klDivergence(logP: Tensor, logQ: Tensor) -> Tensor {
        (logP.exp() * (logP - logQ)).sum(axes: [-1])
    }
}
