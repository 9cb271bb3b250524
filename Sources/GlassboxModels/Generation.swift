import Foundation
import GlassboxTensor

/// How the next token is chosen.
public struct Sampling: Sendable, Equatable, Codable {
    /// 0 = greedy (argmax; first index on ties).
    public var temperature: Float
    /// Keep only the k most likely tokens (nil = all).
    public var topK: Int?
    /// Keep the smallest set of most likely tokens whose probability reaches p (nil = all).
    public var topP: Float?
    /// Seed of the sampler's random generator.
    public var seed: UInt64

    public init(temperature: Float = 0, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = Sampling()
}

/// One generated token.
public struct GenerationStep: Sendable, Equatable, Codable {
    public var id: Int
    /// Its logit.
    public var logit: Float
    /// Gap between the best and the second-best logit (small gaps are where implementations may disagree).
    public var margin: Float
}

public struct GenerationResult: Sendable, Equatable, Codable {
    public var promptIDs: [Int]
    public var newIDs: [Int] { steps.map(\.id) }
    public var steps: [GenerationStep]
    public var stoppedAtStopToken: Bool
}

/// Chooses tokens from logits with a seeded generator.
public struct Sampler {
    public let options: Sampling
    var rng: SeededGenerator

    public init(_ options: Sampling) {
        self.options = options
        rng = SeededGenerator(seed: options.seed)
    }

    /// The next token id from one row of logits.
    public mutating func next(_ logits: [Float]) -> Int {
        precondition(!logits.isEmpty, "Sampler.next: empty logits")
        if options.temperature <= 0 { return Sampler.argmax(logits) }
        var order = Array(logits.indices)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if let k = options.topK, k > 0, k < order.count { order.removeSubrange(k...) }
        let top = logits[order[0]]
        var probs = order.map { Double(Foundation.exp((logits[$0] - top) / options.temperature)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if let p = options.topP, p < 1 {
            var cumulative = 0.0, keep = 0
            while keep < probs.count { cumulative += probs[keep]; keep += 1; if cumulative >= Double(p) { break } }
            order.removeSubrange(keep...)
            probs.removeSubrange(keep...)
            let t = probs.reduce(0, +)
            probs = probs.map { $0 / t }
        }
        let u = rng.nextDouble()
        var acc = 0.0
        for (i, pr) in probs.enumerated() {
            acc += pr
            if u < acc { return order[i] }
        }
        return order[order.count - 1]
    }

    static func argmax(_ x: [Float]) -> Int {
        var best = 0
        for i in 1..<x.count where x[i] > x[best] { best = i }
        return best
    }

    static func margin(_ x: [Float]) -> Float {
        var a = -Float.infinity, b = -Float.infinity
        for v in x { if v > a { b = a; a = v } else if v > b { b = v } }
        return a - b
    }
}

extension TransformerModel {
    /// Generates up to `maxTokens` tokens after `prompt` with a KV cache (each step runs only
    /// the new token). Stops after a token in `stopTokens`. `hooks` apply at every step.
    public func generate(prompt: [Int], maxTokens: Int, sampling: Sampling = .greedy,
                         stopTokens: Set<Int> = [], hooks: Hooks = Hooks()) throws -> GenerationResult {
        guard isCausal else { throw ModelError.invalidInput("\(architecture.rawValue) is an encoder; it cannot generate text") }
        guard !prompt.isEmpty else { throw ModelError.invalidInput("generation needs a prompt of at least one token") }
        guard maxTokens >= 0 else { throw ModelError.invalidInput("max tokens must be ≥ 0, got \(maxTokens)") }
        if let maxPositions = dimensions.maxPositions, prompt.count + maxTokens > maxPositions {
            throw ModelError.invalidInput("prompt (\(prompt.count)) + new tokens (\(maxTokens)) exceed the \(maxPositions) positions of this model")
        }
        try TokenBatch(prompt).validate(vocabularySize: dimensions.vocabularySize)
        let cache = KVCache(layers: dimensions.layers, batch: 1)
        var sampler = Sampler(sampling)
        var steps: [GenerationStep] = []
        var input = TokenBatch(prompt)
        var stopped = false
        while steps.count < maxTokens {
            let out = forward(input, run: HookRun(hooks: hooks), cache: cache)
            let logits = out.logits!.select(axis: 0, 0).select(axis: 0, input.length - 1).scalars   // [vocab]
            let id = sampler.next(logits)
            steps.append(GenerationStep(id: id, logit: logits[id], margin: Sampler.margin(logits)))
            if stopTokens.contains(id) { stopped = true; break }
            input = TokenBatch([id])
        }
        return GenerationResult(promptIDs: prompt, steps: steps, stoppedAtStopToken: stopped)
    }
}
