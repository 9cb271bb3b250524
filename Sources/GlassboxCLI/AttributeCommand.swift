import ArgumentParser
import Foundation
import Glassbox

struct AttributeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribute",
        abstract: "Attribute the next-token prediction to the prompt's tokens (integrated gradients, saliency, SHAP, …).",
        discussion: """
        Attributions are computed over the token embeddings; a token's score is the sum over d_model.
        The target defaults to the top next token. For ig, delta = Σ attributions − (F(x) − F(baseline)).
        """)

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case ig, saliency, gradientTimesInput = "grad-x-input", smoothgrad, occlusion, shapley, kernelShap = "kernel-shap", lime
    }
    enum TargetKind: String, ExpressibleByArgument, CaseIterable { case logit, logprob }

    @OptionGroup var options: ModelOptions
    @OptionGroup var input: PromptOptions
    @Option(name: .long, help: "Method: \(Method.allCases.map(\.rawValue).joined(separator: ", ")).") var method: Method = .ig
    @Option(name: .long, help: "Integration steps (ig).") var steps = 50
    @Option(name: .long, help: "Baseline: zero, mean, pad, or token:ID (ig, occlusion, shapley, kernel-shap, lime).") var baseline = "zero"
    @Option(name: .long, help: "Integration rule (ig): \(IntegrationRule.allCases.map(\.rawValue).joined(separator: ", ")).") var rule = "gauss-legendre"
    @Option(name: .long, help: "Target token as text (one token, e.g. \" Paris\"); default: the top next token.") var target: String?
    @Option(name: .long, help: "Target token id (instead of --target).") var targetID: Int?
    @Option(name: .long, help: "Explain the token's logit or its log-probability.") var targetKind: TargetKind = .logit
    @Option(name: .long, help: "Samples (smoothgrad, kernel-shap, lime).") var samples = 50
    @Option(name: .long, help: "Seed of smoothgrad noise and sampled coalitions.") var seed: UInt64 = 0
    @Option(name: .long, help: "Inputs per forward pass (ig, smoothgrad).") var batchSize = 50

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be ≥ 1") }
        guard samples >= 2 else { throw ValidationError("--samples must be ≥ 2") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be ≥ 1") }
        guard IntegrationRule(rawValue: rule) != nil else {
            throw ValidationError("--rule '\(rule)': expected one of \(IntegrationRule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        _ = try parsedBaseline(padID: nil, allowPad: true)
        if target != nil && targetID != nil { throw ValidationError("give --target or --target-id, not both") }
    }

    /// zero | mean | pad | token:ID (pad needs the tokenizer's padding id).
    func parsedBaseline(padID: Int?, allowPad: Bool = false) throws -> EmbeddingBaseline {
        switch baseline {
        case "zero": return .zero
        case "mean": return .mean
        case "pad":
            if allowPad { return .zero }
            guard let padID else { throw ValidationError("--baseline pad: the model's tokenizer has no padding token; use token:ID") }
            return .token(padID)
        default:
            guard baseline.hasPrefix("token:"), let id = Int(baseline.dropFirst(6)), id >= 0 else {
                throw ValidationError("--baseline '\(baseline)': expected zero, mean, pad or token:ID (e.g. token:0)")
            }
            return .token(id)
        }
    }

    struct TargetInfo: Encodable { let id: Int; let token: String }
    struct Output: Encodable {
        let tokens: [String]
        let ids: [Int]
        let target: TargetInfo
        let method: String
        let attributions: [Double]
        let delta: Double?
    }

    func run() throws {
        try CLIOutput.run {
            let m = try options.load()
            guard m.model.isCausal, let tokenizer = m.tokenizer else {
                throw ModelError.invalidInput("\(m.name) is not a language model with a tokenizer; attribute explains next-token predictions")
            }
            let ids = try input.encode(with: m).ids
            let targetID = try resolveTarget(m, ids: ids)
            let targetToken = tokenizer.decode([targetID])
            let padID = (tokenizer as? ByteLevelBPETokenizer)?.paddingID ?? (tokenizer as? WordPieceTokenizer)?.padID
            let base = try parsedBaseline(padID: padID)
            let attribution = try ModelAttribution(model: m.model, ids: ids, target: targetKind == .logit ? .logit(targetID) : .logProb(targetID))
            let (scores, delta, summary) = try compute(attribution, baseline: base)
            let tokens = ids.map { tokenizer.decode([$0]) }   // each token as text
            if options.json {
                try CLIOutput.json(Output(tokens: tokens, ids: ids, target: TargetInfo(id: targetID, token: targetToken),
                                          method: method.rawValue, attributions: scores, delta: delta))
                return
            }
            print("target: \(targetToken.debugDescription) (id \(targetID), \(targetKind.rawValue)) — \(summary)")
            print(Terminal.colouredTokens(tokens, scores: scores))
            print("")
            print(Terminal.table(["pos", "token", "attribution"], zip(tokens, scores).enumerated().map { i, e in
                ["\(i)", e.0.debugDescription, String(format: "%+.5g", e.1)]
            }))
            if let delta { print(String(format: "sum %.5g, delta %.5g", scores.reduce(0, +), delta)) }
        }
    }

    func resolveTarget(_ m: LoadedModel, ids: [Int]) throws -> Int {
        if let targetID {
            guard targetID >= 0 && targetID < m.model.dimensions.vocabularySize else {
                throw ValidationError("--target-id \(targetID) is out of range 0..<\(m.model.dimensions.vocabularySize)")
            }
            return targetID
        }
        if let target {
            let t = try m.encode(target)
            guard t.count == 1 else { throw ValidationError("--target \(target.debugDescription) is \(t.count) tokens (\(t)); give one token, or --target-id") }
            return t[0]
        }
        let logits = try m.model(TokenBatch(ids)).logits!.select(axis: 0, 0).select(axis: 0, ids.count - 1)   // [vocab]
        return logits.argmax(axis: -1)[0]
    }

    /// Per-token scores, the delta where the method has one, and a one-line description.
    func compute(_ a: ModelAttribution, baseline: EmbeddingBaseline) throws -> ([Double], Double?, String) {
        let b = baseline == .zero ? "zero" : self.baseline
        switch method {
        case .ig:
            let r = try a.integratedGradients(baseline: baseline, steps: steps, rule: IntegrationRule(rawValue: rule)!, internalBatchSize: batchSize)
            let note = r.nonFiniteGradients > 0 ? ", \(r.nonFiniteGradients) undefined gradient entries set to 0" : ""
            return (ModelAttribution.perToken(r.attributions), r.delta,
                    String(format: "integrated gradients, %@, %d steps, baseline %@: F(x) = %.4g, F(x′) = %.4g%@", rule, steps, b, r.valueAtInput, r.valueAtBaseline, note))
        case .saliency:
            return (ModelAttribution.perToken(try a.saliency().attributions), nil, "saliency |∂F/∂x| summed over d_model")
        case .gradientTimesInput:
            return (ModelAttribution.perToken(try a.gradientTimesInput().attributions), nil, "gradient × input")
        case .smoothgrad:
            let r = try a.smoothGrad(samples: samples, seed: seed, internalBatchSize: batchSize)
            return (ModelAttribution.perToken(r.attributions), nil, "SmoothGrad, \(samples) samples, seed \(seed)")
        case .occlusion:
            let r = Occlusion(try a.game(baseline: baseline)).attribute()
            return (r.attributions, r.delta, "occlusion (leave one out), baseline \(b)")
        case .shapley:
            let r = try ExactShapley(try a.game(baseline: baseline)).attribute()
            return (r.attributions, r.delta, "exact Shapley values (\(r.evaluations) evaluations), baseline \(b)")
        case .kernelShap:
            let r = try KernelSHAP(try a.game(baseline: baseline), samples: samples, seed: seed).attribute()
            return (r.attributions, r.delta, "Kernel SHAP, \(r.evaluations) evaluations, seed \(seed), baseline \(b)")
        case .lime:
            let r = try LIME(try a.game(baseline: baseline), samples: samples, seed: seed).attribute()
            return (r.coefficients, nil, String(format: "LIME surrogate, %d samples, seed %llu, weighted R² %.3f, baseline %@", samples, seed, r.score, b))
        }
    }
}
