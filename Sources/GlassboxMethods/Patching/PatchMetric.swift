import Foundation
import GlassboxModels
import GlassboxTensor

/// What activation patching, attribution patching and ablations measure on the next-token
/// distribution at the last position of a prompt (arXiv 2211.00593, 2309.16042 §2 on the
/// choice of metric). Each metric maps last-position logits [batch, vocab] to one value per
/// prompt; `normalized` (see ``PatchMetric/normalize(_:clean:corrupt:)``) maps the corrupted
/// run to 0 and the clean run to 1 for any of them.
public enum PatchMetric: Sendable, Equatable {
    /// logit[answer] − logit[wrong] (the IOI logit difference).
    case logitDifference(answer: Int, wrong: Int)
    /// The softmax probability of `answer`.
    case probability(answer: Int)
    /// KL(clean ‖ patched) of the next-token distributions, in nats (0 on the clean run).
    /// The clean distribution is supplied by the caller (the clean run's logits).
    case klDivergence
    /// A fixed linear function of the last-position output: Σ_v weights[v]·logit[v]. Linear
    /// in every activation that the logits are linear in (tests use it to check attribution patching).
    case linear(weights: [Float])

    public var name: String {
        switch self {
        case .logitDifference: return "logit_diff"
        case .probability: return "probability"
        case .klDivergence: return "kl"
        case .linear: return "linear"
        }
    }

    /// The metric of each row of `logits` [batch, vocab]; `cleanLogProbs` [vocab] (the clean
    /// run's log-softmax) is needed by ``klDivergence``. Differentiable (used by attribution patching).
    public func evaluate(_ logits: Tensor, cleanLogProbs: Tensor?) -> Tensor {
        precondition(logits.rank == 2, "PatchMetric.evaluate: logits must be [batch, vocab], got \(logits.shape)")
        let b = logits.shape[0], v = logits.shape[1]
        switch self {
        case let .logitDifference(answer, wrong):
            return logits.gatherLast([Int](repeating: answer, count: b)) - logits.gatherLast([Int](repeating: wrong, count: b))
        case let .probability(answer):
            return logits.softmax(axis: -1).gatherLast([Int](repeating: answer, count: b))
        case .klDivergence:
            guard let clean = cleanLogProbs else { preconditionFailure("PatchMetric.klDivergence needs the clean log-probabilities") }
            let logQ = logits.logSoftmax(axis: -1)                       // [b, vocab]
            let logP = clean.reshaped([1, v])
            return (logP.exp() * (logP - logQ)).sum(axes: [1])           // [b]
        case let .linear(weights):
            precondition(weights.count == v, "PatchMetric.linear: \(weights.count) weights for a vocabulary of \(v)")
            return logits.matmul(Tensor(shape: [v, 1], scalars: weights)).reshaped([b])
        }
    }

    /// Checks the token ids against the vocabulary.
    public func validate(vocabularySize: Int) throws {
        func check(_ id: Int, _ what: String) throws {
            guard id >= 0 && id < vocabularySize else {
                throw PatchingError.invalidInput("\(what) token id \(id) is outside the vocabulary (0..<\(vocabularySize))")
            }
        }
        switch self {
        case let .logitDifference(a, w): try check(a, "answer"); try check(w, "wrong")
        case let .probability(a): try check(a, "answer")
        case .klDivergence: break
        case let .linear(weights):
            guard weights.count == vocabularySize else {
                throw PatchingError.invalidInput("linear metric: \(weights.count) weights, expected one per vocabulary entry (\(vocabularySize))")
            }
        }
    }

    /// (value − corrupt) / (clean − corrupt): 0 = corrupted run, 1 = clean run.
    public static func normalize(_ value: Double, clean: Double, corrupt: Double) -> Double {
        (value - corrupt) / (clean - corrupt)
    }
}

/// Errors of the patching family of methods.
public enum PatchingError: Error, CustomStringConvertible, Equatable {
    case invalidInput(String)

    public var description: String {
        switch self {
        case .invalidInput(let m): return m
        }
    }
}

/// Shared plumbing: last-position logits of a batch, and replicated token batches.
enum PatchRun {
    /// Logits at the last position of every prompt: [batch, vocab]. Every prompt of a patching
    /// batch has the same length, so this is the last row the run projected — all positions, or
    /// only the last one with `lastOnly`.
    static func lastLogits(_ output: ModelOutput) -> Tensor {
        guard let logits = output.logits else { preconditionFailure("patching needs a model with next-token logits") }
        return logits.select(axis: 1, logits.shape[1] - 1)
    }

    /// The LM head at the last of `length` positions only: the metrics read nothing else, and
    /// the unembedding of every position is a fifth of a small model's work.
    static func lastOnly(_ length: Int) -> [Int] { [length - 1] }

    /// `copies` copies of one prompt.
    static func replicated(_ ids: [Int], _ copies: Int) -> TokenBatch {
        TokenBatch(sequences: [[Int]](repeating: ids, count: copies))
    }

    static func requireLogits(_ model: any TransformerModel) throws {
        guard model.isCausal else {
            throw PatchingError.invalidInput("patching measures next-token logits; \(model.architecture.rawValue) is an encoder without them")
        }
    }
}
