import Foundation

/// A learning rate as a function of the step (0-based).
public enum LearningRateSchedule: Sendable, Equatable {
    case constant(Float)
    /// Linear warm-up from 0 to `peak` over `warmupSteps`, then constant.
    case linearWarmup(peak: Float, warmupSteps: Int)
    /// Linear warm-up, then cosine decay from `peak` to `floor` at `totalSteps`.
    case cosine(peak: Float, warmupSteps: Int, totalSteps: Int, floor: Float)

    public func rate(at step: Int) -> Float {
        switch self {
        case .constant(let lr):
            return lr
        case .linearWarmup(let peak, let warm):
            return warm > 0 && step < warm ? peak * Float(step + 1) / Float(warm) : peak
        case .cosine(let peak, let warm, let total, let floor):
            if warm > 0 && step < warm { return peak * Float(step + 1) / Float(warm) }
            let span = max(1, total - warm)
            let progress = min(1, Float(step - warm) / Float(span))
            return floor + (peak - floor) * 0.5 * (1 + Foundation.cos(Float.pi * progress))
        }
    }
}

/// Updates a list of parameters in place from their gradients.
public protocol Optimizer {
    /// Applies one update; `params[i]` and `grads[i]` must have equal shapes, and the list
    /// must keep its order from step to step (the optimizer's state is kept per index).
    mutating func step(_ params: inout [Tensor], _ grads: [Tensor])
}

/// Stochastic gradient descent with optional momentum (PyTorch's formulation:
/// v ← μ·v + g; p ← p − lr·v) and L2 weight decay added to the gradient.
public struct SGD: Optimizer {
    public var schedule: LearningRateSchedule
    public var momentum: Float
    public var weightDecay: Float
    public private(set) var stepCount = 0
    private var velocity: [[Float]] = []

    public init(learningRate: LearningRateSchedule, momentum: Float = 0, weightDecay: Float = 0) {
        self.schedule = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    public mutating func step(_ params: inout [Tensor], _ grads: [Tensor]) {
        checkPrecondition(params.count == grads.count, "SGD.step: \(params.count) parameters but \(grads.count) gradients")
        if velocity.isEmpty { velocity = params.map { [Float](repeating: 0, count: $0.count) } }
        let lr = schedule.rate(at: stepCount)
        for i in params.indices {
            checkPrecondition(params[i].shape == grads[i].shape, "SGD.step: parameter \(i) has shape \(params[i].shape), gradient \(grads[i].shape)")
            let g = grads[i].contiguous()
            let (mu, wd) = (momentum, weightDecay)
            velocity[i].withUnsafeMutableBufferPointer { v in
                params[i].withUnsafeMutableBufferPointer { p in
                    g.withUnsafeBufferPointer { gb in
                        for j in 0..<p.count {
                            let gj = gb[j] + wd * p[j]
                            if mu != 0 {
                                v[j] = mu * v[j] + gj
                                p[j] -= lr * v[j]
                            } else {
                                p[j] -= lr * gj
                            }
                        }
                    }
                }
            }
        }
        stepCount += 1
    }
}

/// Adam (arXiv 1412.6980) and AdamW (arXiv 1711.05101, decoupled weight decay), computed
/// as PyTorch does: p ← p·(1 − lr·λ) [AdamW]; m, v moments; p ← p − (lr/(1−β₁ᵗ))·m/(√v/√(1−β₂ᵗ) + ε).
public struct Adam: Optimizer {
    public var schedule: LearningRateSchedule
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// true: AdamW (decay applied to the weights); false: L2 decay added to the gradient.
    public var decoupledWeightDecay: Bool
    public private(set) var stepCount = 0
    private var m: [[Float]] = []
    private var v: [[Float]] = []

    public init(learningRate: LearningRateSchedule, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false) {
        self.schedule = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    /// AdamW with PyTorch's defaults (weight decay 0.01).
    public static func adamW(learningRate: LearningRateSchedule, beta1: Float = 0.9, beta2: Float = 0.999,
                             epsilon: Float = 1e-8, weightDecay: Float = 0.01) -> Adam {
        Adam(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
             weightDecay: weightDecay, decoupledWeightDecay: true)
    }

    public mutating func step(_ params: inout [Tensor], _ grads: [Tensor]) {
        checkPrecondition(params.count == grads.count, "Adam.step: \(params.count) parameters but \(grads.count) gradients")
        if m.isEmpty {
            m = params.map { [Float](repeating: 0, count: $0.count) }
            v = m
        }
        stepCount += 1
        let lr = schedule.rate(at: stepCount - 1)
        let t = Float(stepCount)
        let bc1 = 1 - Foundation.pow(beta1, t), bc2 = 1 - Foundation.pow(beta2, t)
        let stepSize = lr / bc1, bc2Root = bc2.squareRoot()
        let (b1, b2, eps, wd, decoupled) = (beta1, beta2, epsilon, weightDecay, decoupledWeightDecay)
        for i in params.indices {
            checkPrecondition(params[i].shape == grads[i].shape, "Adam.step: parameter \(i) has shape \(params[i].shape), gradient \(grads[i].shape)")
            let g = grads[i].contiguous()
            m[i].withUnsafeMutableBufferPointer { mb in
                v[i].withUnsafeMutableBufferPointer { vb in
                    params[i].withUnsafeMutableBufferPointer { p in
                        g.withUnsafeBufferPointer { gb in
                            for j in 0..<p.count {
                                var gj = gb[j]
                                if decoupled { p[j] *= 1 - lr * wd } else { gj += wd * p[j] }
                                mb[j] = b1 * mb[j] + (1 - b1) * gj
                                vb[j] = b2 * vb[j] + (1 - b2) * gj * gj
                                p[j] -= stepSize * mb[j] / (vb[j].squareRoot() / bc2Root + eps)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Scales `grads` so their global 2-norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ grads: inout [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for g in grads { g.withUnsafeBufferPointer { b in for x in b { total += Double(x) * Double(x) } } }
    let norm = Float(total.squareRoot())
    if norm > maxNorm && norm > 0 {
        let scale = maxNorm / (norm + 1e-6)
        grads = grads.map { $0.detached() * scale }
    }
    return norm
}
