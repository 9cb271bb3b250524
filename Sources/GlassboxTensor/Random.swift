import Foundation

/// A seeded pseudo-random generator: xoshiro256** (Blackman & Vigna, 2018) with its state
/// filled from the seed by SplitMix64. The same seed gives bitwise the same stream on every
/// platform and thread count: tensors are always filled sequentially, in row-major order.
///
/// - `nextFloat()`: the top 24 bits of `next()` scaled to [0, 1).
/// - `nextNormal()`: Box–Muller in Double on two uniforms (the second value is discarded,
///   so every normal consumes exactly two draws).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        func splitmix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Standard normal.
    public mutating func nextNormal() -> Float {
        let u1 = max(nextDouble(), Double.leastNonzeroMagnitude)
        let u2 = nextDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n (unbiased, by rejection).
    public mutating func nextInt(below n: Int) -> Int {
        checkPrecondition(n > 0, "nextInt(below:): n must be positive, got \(n)")
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let v = next()
            if v < limit { return Int(v % bound) }
        }
    }

    /// A Fisher–Yates shuffle (defined here so the order never depends on the standard library's).
    public mutating func shuffle<T>(_ array: inout [T]) {
        if array.count < 2 { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, nextInt(below: i + 1))
        }
    }

    /// A new generator derived from this one's seed stream (for independent sub-streams).
    public mutating func fork() -> SeededGenerator { SeededGenerator(seed: next()) }
}

extension Tensor {
    /// Normal(mean, std) values from `generator`, filled in row-major order.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, using generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { b in for i in 0..<b.count { b[i] = mean + std * generator.nextNormal() } }
    }

    /// Uniform [lo, hi) values from `generator`, filled in row-major order.
    public static func randomUniform(_ shape: [Int], lo: Float = 0, hi: Float = 1, using generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape) { b in for i in 0..<b.count { b[i] = lo + (hi - lo) * generator.nextFloat() } }
    }
}
