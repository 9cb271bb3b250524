/// Shape utilities shared by the primitives: broadcasting rules and index arithmetic.
extension Tensor {
    /// The broadcast of two shapes (NumPy rules), or nil when they are incompatible.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    static func broadcastShapeOrFail(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        guard let s = broadcastShape(a, b) else {
            fatalError("\(op): shapes \(a) and \(b) cannot be broadcast together")
        }
        return s
    }

    /// A stride-0 view of this tensor expanded to `target` (which must be a broadcast of its shape).
    /// No autodiff link: callers record their own rules.
    func expandedView(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = target.count - rank
        checkPrecondition(lead >= 0, "broadcast: cannot expand shape \(shape) to \(target)")
        var newStrides = [Int](repeating: 0, count: target.count)
        for i in 0..<rank {
            let d = shape[i], t = target[lead + i]
            checkPrecondition(d == t || d == 1, "broadcast: cannot expand shape \(shape) to \(target)")
            newStrides[lead + i] = d == 1 && t != 1 ? 0 : strides[i]
        }
        var v = self
        v.shape = target
        v.strides = newStrides
        v.node = nil
        return v
    }

    /// Sums a gradient of a broadcast result back to `shape` (the inverse of broadcasting).
    public func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        checkPrecondition(lead >= 0, "sumToShape: cannot reduce \(shape) to \(target)")
        var axes: [Int] = Array(0..<lead)
        for i in 0..<target.count where target[i] == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        var r = axes.isEmpty ? self : sum(axes: axes, keepingDimensions: true)
        if lead > 0 || r.shape != target { r = r.reshaped(target) }
        return r
    }
}
