/// Reverse-mode automatic differentiation.
///
/// Gradients are recorded only inside an explicit scope: a ``GradientTape`` watches the
/// tensors to differentiate with respect to, every primitive applied to a watched tensor
/// (or to a result of one) appends a node with its gradient rule, and
/// ``GradientTape/gradient(of:withRespectTo:seed:)`` runs the rules backwards. Tensors that
/// are not watched carry no node, so inference pays nothing. The rules themselves live next
/// to their forward computations in `Primitives.swift`.
///
/// ```swift
/// let tape = GradientTape()
/// let w = tape.watch(weights)
/// let loss = (x.matmul(w) - y).squared().mean()
/// let g = tape.gradient(of: loss, withRespectTo: [w])[0]
/// ```
public final class GradientTape: @unchecked Sendable {
    /// False once the gradient has been taken (and while it is being taken): a closed tape records nothing.
    public private(set) var isRecording = true
    fileprivate var nodeCount = 0

    public init() {}

    /// A tensor with the same values that this tape tracks. If `tensor` is already the
    /// result of recorded operations, the gradient flows on through it to its own inputs.
    public func watch(_ tensor: Tensor) -> Tensor {
        checkPrecondition(isRecording, "GradientTape.watch: the tape has already computed its gradient")
        var t = tensor
        let parent = (tensor.node?.tape === self) ? tensor.node : nil
        t.node = GradNode(tape: self, inputs: [parent]) { g in [g] }
        return t
    }

    func makeNode(inputs: [GradNode?], backward: @escaping (Tensor) -> [Tensor?]) -> GradNode {
        GradNode(tape: self, inputs: inputs, backward: backward)
    }

    /// Gradients of `output` (a one-element tensor unless a `seed` of its shape is given)
    /// with respect to each tensor in `inputs`, which must have been returned by ``watch(_:)``
    /// or computed on this tape. An input that `output` does not depend on gets zeros.
    /// Closes the tape.
    public func gradient(of output: Tensor, withRespectTo inputs: [Tensor], seed: Tensor? = nil) -> [Tensor] {
        isRecording = false
        let seedGrad: Tensor
        if let seed {
            checkPrecondition(seed.shape == output.shape,
                         "GradientTape.gradient: seed shape \(seed.shape) does not match output shape \(output.shape)")
            seedGrad = seed.detached()
        } else {
            checkPrecondition(output.count == 1,
                         "GradientTape.gradient: output of shape \(output.shape) is not a scalar; pass a seed")
            seedGrad = Tensor.ones(output.shape)
        }
        var grads = [Tensor?](repeating: nil, count: nodeCount)
        guard let root = output.node, root.tape === self else {
            return inputs.map { Tensor.zeros($0.shape) }
        }
        // Collect the nodes reachable from the output; ids are creation order, a topological order.
        var reachable = [GradNode?](repeating: nil, count: nodeCount)
        var stack = [root]
        while let n = stack.popLast() {
            if reachable[n.id] != nil { continue }
            reachable[n.id] = n
            for case let p? in n.inputs where reachable[p.id] == nil { stack.append(p) }
        }
        let wanted = Set(inputs.compactMap { $0.node?.tape === self ? $0.node!.id : nil })
        grads[root.id] = seedGrad
        for id in stride(from: nodeCount - 1, through: 0, by: -1) {
            guard let n = reachable[id], let g = grads[id] else { continue }
            if n.inputs.allSatisfy({ $0 == nil }) { continue }  // a leaf: nothing to propagate
            let inputGrads = n.backward(g)
            for (p, ig) in zip(n.inputs, inputGrads) {
                guard let p, let ig else { continue }
                if let existing = grads[p.id] {
                    grads[p.id] = existing + ig
                } else {
                    grads[p.id] = ig
                }
            }
            if !wanted.contains(id) { grads[id] = nil }  // free intermediate gradients early
        }
        return inputs.map { input in
            if let n = input.node, n.tape === self, let g = grads[n.id] {
                return g.shape == input.shape ? g : g.reshaped(input.shape)
            }
            return Tensor.zeros(input.shape)
        }
    }
}

/// One recorded operation: its inputs' nodes and the rule mapping the output gradient to
/// the inputs' gradients.
@usableFromInline
final class GradNode {
    let tape: GradientTape
    let id: Int
    let inputs: [GradNode?]
    let backward: (Tensor) -> [Tensor?]

    init(tape: GradientTape, inputs: [GradNode?], backward: @escaping (Tensor) -> [Tensor?]) {
        self.tape = tape
        self.id = tape.nodeCount
        tape.nodeCount += 1
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// The recording tape shared by any of `inputs`, if one is recording.
    @inline(__always)
    static func recordingTape(_ inputs: Tensor...) -> GradientTape? {
        for t in inputs {
            if let n = t.node, n.tape.isRecording { return n.tape }
        }
        return nil
    }

    /// Attaches a gradient rule to `self` (the result of an op on `inputs`) when one of the
    /// inputs is being recorded. The rule receives the output gradient and returns one
    /// gradient (or nil) per input, each of that input's shape.
    @inline(__always)
    mutating func record(_ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) {
        var tape: GradientTape? = nil
        for t in inputs {
            if let n = t.node, n.tape.isRecording { tape = n.tape; break }
        }
        guard let tape else { return }
        node = tape.makeNode(inputs: inputs.map { $0.node?.tape === tape ? $0.node : nil }, backward: backward)
    }
}

/// The value of `f` at `inputs` and its gradient with respect to each input.
public func valueWithGradient(at inputs: [Tensor], of f: ([Tensor]) throws -> Tensor) rethrows -> (value: Tensor, gradients: [Tensor]) {
    let tape = GradientTape()
    let watched = inputs.map { tape.watch($0) }
    let value = try f(watched)
    let grads = tape.gradient(of: value, withRespectTo: watched)
    return (value.detached(), grads)
}

/// The value of `f` at `x` and its gradient.
public func valueWithGradient(at x: Tensor, of f: (Tensor) throws -> Tensor) rethrows -> (value: Tensor, gradient: Tensor) {
    let (v, g) = try valueWithGradient(at: [x]) { try f($0[0]) }
    return (v, g[0])
}

/// The gradient of a scalar-valued `f` at `x`.
public func gradient(at x: Tensor, of f: (Tensor) throws -> Tensor) rethrows -> Tensor {
    try valueWithGradient(at: x, of: f).gradient
}
