import Foundation
import GlassboxFormats
import GlassboxModels
import GlassboxTensor

/// The tuned lens (Belrose et al. 2023, "Eliciting Latent Predictions from Transformers with
/// the Tuned Lens", arXiv 2303.08112): one affine translator per residual index r,
/// `h ↦ h + A_r·h + b_r` (identity at initialisation), trained by distillation so that
/// `unembed(final_norm(translator_r(resid[r])))` matches the model's final next-token
/// distribution (minimising KL(final ‖ lens)). Indices without a trained translator, and the
/// last index, pass the residual through unchanged (the logit lens).
public struct TunedLens: ResidualTranslator, @unchecked Sendable {
    /// Per residual index r in 0..<layers: A_r [dModel, dModel] and b_r [dModel]; nil = identity.
    public var translators: [(weight: Tensor, bias: Tensor)?]
    public let dModel: Int
    /// Free-form provenance written into the file (model, steps, seed …).
    public var metadata: [String: String]

    /// Identity translators for a model with `layers` blocks.
    public init(layers: Int, dModel: Int, metadata: [String: String] = [:]) {
        translators = Array(repeating: nil, count: layers)
        self.dModel = dModel
        self.metadata = metadata
    }

    /// Residual indices that have a trained translator.
    public var trainedIndices: [Int] { translators.indices.filter { translators[$0] != nil } }

    public func translate(_ resid: Tensor, at r: Int) -> Tensor {
        guard r < translators.count, let t = translators[r] else { return resid }
        return resid + resid.linear(weight: t.weight, bias: t.bias)
    }

    // MARK: Files

    /// Writes the translators as safetensors (`translator.<r>.weight`, `translator.<r>.bias`),
    /// atomically, with `layers`, `d_model` and the metadata in `__metadata__`.
    public func save(to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for r in trainedIndices {
            tensors["translator.\(r).weight"] = translators[r]!.weight
            tensors["translator.\(r).bias"] = translators[r]!.bias
        }
        var meta = metadata
        meta["glassbox.kind"] = "tuned-lens"
        meta["layers"] = String(translators.count)
        meta["d_model"] = String(dModel)
        try ToySafetensors.write(tensors, metadata: meta, to: url)
    }

    /// Reads translators written by `save`, checking them against the model they will be used with.
    public static func load(from url: URL, for model: any TransformerModel) throws -> TunedLens {
        let path = url.path
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch {
            throw LensAttentionError.file(path: path, problem: "not a readable safetensors file (\(error))")
        }
        let meta = file.metadata
        guard meta["glassbox.kind"] == "tuned-lens" else {
            throw LensAttentionError.file(path: path, problem: "metadata 'glassbox.kind' is \(meta["glassbox.kind"].map { "'\($0)'" } ?? "missing"), expected 'tuned-lens' (write one with `glassbox lens train`)")
        }
        let dims = model.dimensions
        guard let layers = meta["layers"].flatMap(Int.init), layers == dims.layers else {
            throw LensAttentionError.file(path: path, problem: "metadata 'layers' is \(meta["layers"] ?? "missing"), expected \(dims.layers) (the model's number of layers)")
        }
        guard let d = meta["d_model"].flatMap(Int.init), d == dims.dModel else {
            throw LensAttentionError.file(path: path, problem: "metadata 'd_model' is \(meta["d_model"] ?? "missing"), expected \(dims.dModel) (the model's width)")
        }
        var lens = TunedLens(layers: layers, dModel: d, metadata: meta)
        for info in file.tensors {
            let parts = info.name.split(separator: ".")
            guard parts.count == 3, parts[0] == "translator", let r = Int(parts[1]), r >= 0, r < layers,
                  parts[2] == "weight" || parts[2] == "bias" else {
                throw LensAttentionError.file(path: path, problem: "unexpected tensor '\(info.name)' (expected translator.<r>.weight / .bias with 0 ≤ r < \(layers))")
            }
        }
        for r in 0..<layers where file.hasTensor("translator.\(r).weight") || file.hasTensor("translator.\(r).bias") {
            for (suffix, shape) in [("weight", [d, d]), ("bias", [d])] {
                let name = "translator.\(r).\(suffix)"
                guard file.hasTensor(name) else { throw LensAttentionError.file(path: path, problem: "tensor '\(name)' is missing") }
                let t = try file.tensor(name)
                guard t.shape == shape else {
                    throw LensAttentionError.file(path: path, problem: "tensor '\(name)' has shape \(t.shape), expected \(shape)")
                }
            }
            let weight = try file.tensor("translator.\(r).weight")
            let bias = try file.tensor("translator.\(r).bias")
            lens.translators[r] = (weight, bias)
        }
        return lens
    }
}

/// Trains a `TunedLens` by distillation on cached activations of a token stream.
public struct TunedLensTrainer: Sendable {
    public struct Configuration: Sendable, Equatable, Codable {
        /// Residual indices to train (nil: every index 0..<layers).
        public var indices: [Int]?
        /// Optimiser steps per translator.
        public var steps: Int
        /// Tokens per step, drawn (seeded) from the training positions.
        public var batchTokens: Int
        public var learningRate: Float
        /// Length of the chunks the token stream is cut into.
        public var sequenceLength: Int
        /// At most this many tokens of the stream are used (activations are cached for all of them).
        public var maxTokens: Int
        /// Tokens (at the end of the stream) held out for evaluation.
        public var heldOutTokens: Int
        public var seed: UInt64

        public init(indices: [Int]? = nil, steps: Int = 100, batchTokens: Int = 64, learningRate: Float = 1e-3,
                    sequenceLength: Int = 64, maxTokens: Int = 1024, heldOutTokens: Int = 128, seed: UInt64 = 0) {
            self.indices = indices
            self.steps = steps
            self.batchTokens = batchTokens
            self.learningRate = learningRate
            self.sequenceLength = sequenceLength
            self.maxTokens = maxTokens
            self.heldOutTokens = heldOutTokens
            self.seed = seed
        }
    }

    /// Per trained residual index: mean KL(final ‖ lens) on the held-out tokens before
    /// (logit lens) and after (tuned lens) training, and the last training loss.
    public struct IndexReport: Sendable, Equatable, Codable {
        public var index: Int
        public var logitLensKL: Double
        public var tunedLensKL: Double
        public var finalTrainingLoss: Double
    }

    public var configuration: Configuration
    public init(_ configuration: Configuration) { self.configuration = configuration }

    /// Cached activations: resid[r] for the chosen indices and the final residual, [n, dModel].
    struct Activations {
        var resid: [Int: Tensor]
        var final: Tensor
        var count: Int { final.shape[0] }
    }

    /// Trains on `tokens` (a tokenized corpus); `progress(fraction, message)` reports along the way.
    /// Memory: the final log-probabilities of every training token are kept (4 · tokens · vocab bytes).
    public func train(_ model: any TransformerModel, tokens: [Int], metadata: [String: String] = [:],
                      progress: (Double, String) -> Void = { _, _ in }) throws -> (lens: TunedLens, report: [IndexReport]) {
        let c = configuration
        let dims = model.dimensions
        let indices = c.indices ?? Array(0..<dims.layers)
        for r in indices where r < 0 || r >= dims.layers {
            throw LensAttentionError.invalidInput("tuned lens: residual index \(r) outside 0…\(dims.layers - 1) (the last index \(dims.layers) is the output and needs no translator)")
        }
        for (v, name) in [(c.steps, "steps"), (c.batchTokens, "batch_tokens"), (c.sequenceLength, "sequence_length"), (c.maxTokens, "max_tokens"), (c.heldOutTokens, "held_out_tokens")] where v <= 0 {
            throw LensAttentionError.invalidInput("tuned lens: \(name) must be positive, got \(v)")
        }
        guard c.learningRate > 0, c.learningRate.isFinite else {
            throw LensAttentionError.invalidInput("tuned lens: learning rate must be positive, got \(c.learningRate)")
        }
        let used = Array(tokens.prefix(c.maxTokens))
        guard used.count >= c.heldOutTokens + c.sequenceLength else {
            throw LensAttentionError.invalidInput("tuned lens: the corpus has \(used.count) tokens; need at least \(c.heldOutTokens + c.sequenceLength) (held_out_tokens + sequence_length)")
        }
        let trainTokens = Array(used.dropLast(c.heldOutTokens))
        let heldOut = Array(used.suffix(c.heldOutTokens))
        let wanted = Set(indices)
        progress(0, "caching activations of \(trainTokens.count) + \(heldOut.count) tokens")
        let train = try Self.cache(model, tokens: trainTokens, chunk: c.sequenceLength, indices: wanted)
        let eval = try Self.cache(model, tokens: heldOut, chunk: c.sequenceLength, indices: wanted)

        var lens = TunedLens(layers: dims.layers, dModel: dims.dModel, metadata: metadata.merging([
            "steps": String(c.steps), "batch_tokens": String(c.batchTokens), "learning_rate": String(c.learningRate),
            "sequence_length": String(c.sequenceLength), "train_tokens": String(trainTokens.count), "seed": String(c.seed),
        ]) { a, _ in a })
        var rng = SeededGenerator(seed: c.seed)
        let evalTarget = LogProbabilities(model.unembed(eval.final)!)
        // The targets are the same for every index: the final log-probabilities of each training token, [n, vocab].
        let trainTarget = model.unembed(train.final)!.logSoftmax(axis: -1).contiguous()
        var reports: [IndexReport] = []
        let d = dims.dModel
        for (k, r) in indices.sorted().enumerated() {
            var params = [Tensor.zeros([d, d]), Tensor.zeros([d])]
            var opt = Adam(learningRate: .constant(c.learningRate))
            let h = train.resid[r]!
            var lastLoss = Double.nan
            for step in 0..<c.steps {
                let idx = (0..<Swift.min(c.batchTokens, train.count)).map { _ in rng.nextInt(below: train.count) }
                let x = h.indexSelect(idx, axis: 0)                                      // [B, dModel]
                let targetLog = trainTarget.indexSelect(idx, axis: 0)                   // [B, vocab]
                let p = targetLog.exp()
                let tape = GradientTape()
                let w = tape.watch(params[0]), b = tape.watch(params[1])
                let translated = x + x.linear(weight: w, bias: b)                         // [B, dModel]
                let logQ = model.unembed(translated)!.logSoftmax(axis: -1)                // [B, vocab]
                let loss = (p * (targetLog - logQ)).sum(axes: [1]).mean()
                let grads = tape.gradient(of: loss, withRespectTo: [w, b])
                opt.step(&params, grads)
                lastLoss = Double(loss.detached().item)
                let done = Double(k * c.steps + step + 1) / Double(indices.count * c.steps)
                if step % 10 == 9 || step == c.steps - 1 {
                    progress(done, String(format: "r=%d step %d/%d KL %.3f", r, step + 1, c.steps, lastLoss))
                }
            }
            lens.translators[r] = (params[0], params[1])
            let before = LogProbabilities(model.unembed(eval.resid[r]!)!)
            let after = LogProbabilities(model.unembed(lens.translate(eval.resid[r]!, at: r))!)
            let n = eval.count
            let klBefore = (0..<n).map { before.kl(row: $0, final: evalTarget) }.reduce(0, +) / Double(n)
            let klAfter = (0..<n).map { after.kl(row: $0, final: evalTarget) }.reduce(0, +) / Double(n)
            reports.append(IndexReport(index: r, logitLensKL: klBefore, tunedLensKL: klAfter, finalTrainingLoss: lastLoss))
        }
        return (lens, reports)
    }

    /// Runs the model over `tokens` cut into chunks of `chunk` and keeps resid[r] (r in `indices`)
    /// and the final residual of every token, as [n, dModel].
    static func cache(_ model: any TransformerModel, tokens: [Int], chunk: Int, indices: Set<Int>) throws -> Activations {
        let layers = model.dimensions.layers
        let chunks = stride(from: 0, to: tokens.count, by: chunk).map { Array(tokens[$0..<Swift.min($0 + chunk, tokens.count)]) }
        var parts: [Int: [Tensor]] = [:]
        var finals: [Tensor] = []
        let names = Set((indices.union([layers])).map(HookName.resid))
        for piece in chunks {
            let (_, cache) = try model.runWithCache(TokenBatch(piece), names: names)
            let d = model.dimensions.dModel
            for r in indices { parts[r, default: []].append(cache.resid(r)!.reshaped([piece.count, d])) }
            finals.append(cache.resid(layers)!.reshaped([piece.count, d]))
        }
        return Activations(resid: parts.mapValues { Tensor.concatenate($0, axis: 0).contiguous() },
                           final: Tensor.concatenate(finals, axis: 0).contiguous())
    }
}
