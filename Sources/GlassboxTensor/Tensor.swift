import Foundation

/// Memory behind one or more tensors: a Float32 buffer that the storage either owns
/// (allocated, 64-byte aligned, freed on deinit) or borrows from an owner object that keeps
/// it alive (a memory-mapped file, for example).
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    private let owned: Bool

    /// Uninitialised owned storage of `count` floats.
    public init(uninitializedCount count: Int) {
        checkPrecondition(count >= 0, "TensorStorage: negative element count \(count)")
        let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        self.base = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        self.count = count
        self.owner = nil
        self.owned = true
    }

    /// Storage over memory that `owner` keeps alive; it is never freed here.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.base = pointer
        self.count = count
        self.owner = owner
        self.owned = false
    }

    deinit {
        if owned { UnsafeMutableRawPointer(base).deallocate() }
    }
}

/// An n-dimensional array of Float32 values in row-major order, with value semantics
/// (copy-on-write storage).
///
/// A tensor may be a *view*: `transposed()`/`permuted(_:)` and some slices share storage
/// and only change `strides`/`offset`. Kernels that need dense memory call `contiguous()`,
/// which is free for a tensor that is already dense. Matrix products read transposed
/// views directly (no copy).
///
/// Gradients are recorded only for tensors watched by a ``GradientTape``; plain inference
/// carries no autodiff state.
public struct Tensor: @unchecked Sendable {
    public internal(set) var shape: [Int]
    public internal(set) var strides: [Int]
    public internal(set) var offset: Int
    @usableFromInline internal var storage: TensorStorage
    @usableFromInline internal var node: GradNode?

    // MARK: Creation

    /// A dense tensor over fresh, uninitialised storage. Internal: callers fill it.
    @usableFromInline
    internal init(uninitializedShape shape: [Int]) {
        Tensor.checkShape(shape)
        self.shape = shape
        self.strides = Tensor.contiguousStrides(shape)
        self.offset = 0
        self.storage = TensorStorage(uninitializedCount: Tensor.product(shape))
        self.node = nil
    }

    /// A view over existing storage.
    public init(storage: TensorStorage, shape: [Int], strides: [Int]? = nil, offset: Int = 0) {
        Tensor.checkShape(shape)
        let strides = strides ?? Tensor.contiguousStrides(shape)
        checkPrecondition(strides.count == shape.count, "Tensor: \(strides.count) strides for shape \(shape)")
        if Tensor.product(shape) > 0 {
            var maxIndex = offset
            for (n, s) in zip(shape, strides) { maxIndex += (n - 1) * s }
            checkPrecondition(offset >= 0 && maxIndex < storage.count,
                         "Tensor: shape \(shape) strides \(strides) offset \(offset) exceed storage of \(storage.count) floats")
        }
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.storage = storage
        self.node = nil
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        checkPrecondition(Tensor.product(shape) == scalars.count,
                     "Tensor(shape:scalars:): shape \(shape) needs \(Tensor.product(shape)) values, got \(scalars.count)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { storage.base.update(from: s, count: src.count) }
        }
    }

    /// A tensor of the given shape filled by `body`, which writes every element of the dense buffer.
    public init(shape: [Int], initializingWith body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        self.init(uninitializedShape: shape)
        try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    }

    /// A rank-0 tensor.
    public init(_ scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    /// A rank-1 tensor.
    public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A rank-2 tensor from rows of equal length.
    public init(_ rows: [[Float]]) {
        let cols = rows.first?.count ?? 0
        checkPrecondition(rows.allSatisfy { $0.count == cols }, "Tensor(rows): rows have different lengths")
        self.init(shape: [rows.count, cols], scalars: rows.flatMap { $0 })
    }

    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        Tensor(shape: shape) { buf in buf.initialize(repeating: value) }
    }
    public static func zeros(_ shape: [Int]) -> Tensor { full(shape, 0) }
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }
    public static func zeros(like t: Tensor) -> Tensor { full(t.shape, 0) }

    /// `start, start + step, …` up to (excluding) `end`.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
        checkPrecondition(step != 0, "arange: step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(shape: [n]) { buf in for i in 0..<n { buf[i] = start + Float(i) * step } }
    }
    public static func arange(_ n: Int) -> Tensor { arange(0, Float(n)) }

    /// The n×n identity matrix.
    public static func eye(_ n: Int) -> Tensor {
        var t = zeros([n, n])
        t.withUnsafeMutableBufferPointer { b in for i in 0..<n { b[i * n + i] = 1 } }
        return t
    }

    // MARK: Shape facts

    public var rank: Int { shape.count }
    public var count: Int { Tensor.product(shape) }
    public var isScalar: Bool { count == 1 }
    public var isContiguous: Bool { strides == Tensor.contiguousStrides(shape) }

    public static func product(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= Swift.max(shape[i], 1)
        }
        return strides
    }

    static func checkShape(_ shape: [Int]) {
        checkPrecondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
    }

    /// Resolves a possibly negative axis against the rank.
    public func axis(_ a: Int, op: String = #function) -> Int {
        let r = a < 0 ? a + rank : a
        checkPrecondition(r >= 0 && r < Swift.max(rank, 1), "\(op): axis \(a) out of range for shape \(shape)")
        return r
    }

    // MARK: Dense access

    /// A dense version of this tensor (self when already dense). Keeps the autodiff link.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        var out = Tensor(uninitializedShape: shape)
        copyStrided(into: out.storage.base)
        out.node = node  // same values, same gradient
        return out
    }

    /// Copies the elements in row-major order into `dst` (which must hold `count` floats).
    func copyStrided(into dst: UnsafeMutablePointer<Float>) {
        let n = count
        if n == 0 { return }
        let src = storage.base + offset
        if isContiguous { dst.update(from: src, count: n); return }
        if rank == 0 { dst[0] = src[0]; return }
        // Iterate over all but the last axis; copy the last axis with its stride.
        let last = shape[rank - 1], lastStride = strides[rank - 1]
        let outer = n / Swift.max(last, 1)
        var index = [Int](repeating: 0, count: rank - 1)
        var srcOffset = 0
        var d = dst
        for _ in 0..<outer {
            let s = src + srcOffset
            if lastStride == 1 {
                d.update(from: s, count: last)
            } else {
                for j in 0..<last { d[j] = s[j * lastStride] }
            }
            d += last
            // advance the multi-index
            var ax = rank - 2
            while ax >= 0 {
                index[ax] += 1
                srcOffset += strides[ax]
                if index[ax] < shape[ax] { break }
                srcOffset -= strides[ax] * shape[ax]
                index[ax] = 0
                ax -= 1
            }
        }
    }

    /// The elements in row-major order.
    public var scalars: [Float] {
        [Float](unsafeUninitializedCapacity: count) { buf, n in
            if let b = buf.baseAddress { copyStrided(into: b) }
            n = count
        }
    }

    /// The single value of a one-element tensor.
    public var item: Float {
        checkPrecondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, expected 1")
        return storage.base[offset]
    }

    /// Calls `body` with the dense elements (copying only when this is a strided view).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let c = contiguous()
        return try withExtendedLifetime(c.storage) {
            try body(UnsafeBufferPointer(start: c.storage.base + c.offset, count: c.count))
        }
    }

    /// Calls `body` with a writable dense buffer, copying first when the storage is shared
    /// or the tensor is a view (copy-on-write). Drops any autodiff link: the values change.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUniqueAndDense()
        node = nil
        return try body(UnsafeMutableBufferPointer(start: storage.base + offset, count: count))
    }

    mutating func makeUniqueAndDense() {
        if !isContiguous || !isKnownUniquelyReferenced(&storage) || offset != 0 || storage.count != count {
            let copy = Tensor(uninitializedShape: shape)
            copyStrided(into: copy.storage.base)
            storage = copy.storage
            strides = copy.strides
            offset = 0
        }
    }

    func linearIndex(_ index: [Int]) -> Int {
        checkPrecondition(index.count == rank, "subscript: \(index.count) indices for shape \(shape)")
        var o = offset
        for (i, (ix, n)) in zip(index, shape).enumerated() {
            let j = ix < 0 ? ix + n : ix
            checkPrecondition(j >= 0 && j < n, "subscript: index \(ix) out of range for axis \(i) of shape \(shape)")
            o += j * strides[i]
        }
        return o
    }

    /// Element access by a full index (negative indices count from the end).
    public subscript(index: Int...) -> Float {
        get { storage.base[linearIndex(index)] }
        set {
            makeUniqueAndDense()
            node = nil
            storage.base[linearIndex(index)] = newValue
        }
    }

    /// Stops gradients: the same values with no autodiff link.
    public func detached() -> Tensor {
        var t = self
        t.node = nil
        return t
    }

    /// Whether this tensor takes part in a recording ``GradientTape``.
    public var isRecorded: Bool { node?.tape.isRecording ?? false }
}

extension Tensor: CustomStringConvertible {
    /// A readable, truncated rendering for debugging.
    public var description: String {
        let values = scalars
        func fmt(_ v: Float) -> String { String(format: "%.5g", Double(v)) }
        func render(_ dim: Int, _ start: Int) -> String {
            if dim == rank { return fmt(values[start]) }
            let n = shape[dim]
            let step = Tensor.product(Array(shape[(dim + 1)...]))
            var parts: [String] = []
            let shown = n > 8 ? Array(0..<3) + [-1] + Array((n - 3)..<n) : Array(0..<n)
            for i in shown {
                parts.append(i < 0 ? "…" : render(dim + 1, start + i * step))
            }
            let sep = dim == rank - 1 ? ", " : ",\n" + String(repeating: " ", count: dim + 1)
            return "[" + parts.joined(separator: sep) + "]"
        }
        if count == 0 { return "Tensor(shape: \(shape), [])" }
        return "Tensor(shape: \(shape),\n" + render(0, 0) + ")"
    }
}

/// Like `precondition`, but the message survives optimised builds (where `precondition`
/// drops it): a misuse of the tensor API always says which op and which shapes.
@inline(__always)
@usableFromInline
func checkPrecondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                       file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
