import GlassboxTensor

/// TransformerLens names of the hook points. Shapes (batch b, position t, heads h, key
/// position s): residual-stream points are [b, t, dModel]; `hook_q/k/v/z` and `hook_rot_q/k`
/// are [b, t, heads, dHead] (k and v have the key–value heads); `hook_attn_scores` and
/// `hook_pattern` are [b, heads, t, s]; `hook_result` is [b, t, heads, dModel];
/// `mlp.hook_pre/post` are [b, t, dMLP].
public enum HookName {
    public static let embed = "hook_embed"
    public static let posEmbed = "hook_pos_embed"
    public static let tokenTypeEmbed = "hook_token_type_embed"
    public static let finalNormalized = "ln_final.hook_normalized"

    public static func residPre(_ layer: Int) -> String { "blocks.\(layer).hook_resid_pre" }
    public static func residMid(_ layer: Int) -> String { "blocks.\(layer).hook_resid_mid" }
    public static func residPost(_ layer: Int) -> String { "blocks.\(layer).hook_resid_post" }
    public static func q(_ layer: Int) -> String { "blocks.\(layer).attn.hook_q" }
    public static func k(_ layer: Int) -> String { "blocks.\(layer).attn.hook_k" }
    public static func v(_ layer: Int) -> String { "blocks.\(layer).attn.hook_v" }
    public static func rotQ(_ layer: Int) -> String { "blocks.\(layer).attn.hook_rot_q" }
    public static func rotK(_ layer: Int) -> String { "blocks.\(layer).attn.hook_rot_k" }
    public static func attnScores(_ layer: Int) -> String { "blocks.\(layer).attn.hook_attn_scores" }
    public static func pattern(_ layer: Int) -> String { "blocks.\(layer).attn.hook_pattern" }
    public static func z(_ layer: Int) -> String { "blocks.\(layer).attn.hook_z" }
    public static func result(_ layer: Int) -> String { "blocks.\(layer).attn.hook_result" }
    public static func attnOut(_ layer: Int) -> String { "blocks.\(layer).hook_attn_out" }
    public static func mlpPre(_ layer: Int) -> String { "blocks.\(layer).mlp.hook_pre" }
    public static func mlpPost(_ layer: Int) -> String { "blocks.\(layer).mlp.hook_post" }
    public static func mlpOut(_ layer: Int) -> String { "blocks.\(layer).hook_mlp_out" }

    /// The residual stream at index r (DESIGN.md): r = 0 the embedding (`blocks.0.hook_resid_pre`),
    /// r = l + 1 the output of block l (`blocks.l.hook_resid_post`).
    public static func resid(_ r: Int) -> String { r == 0 ? residPre(0) : residPost(r - 1) }

    /// Every hook point of a model with `layers` blocks, in the order the forward pass reaches them.
    public static func all(layers: Int, positional: Bool, tokenTypes: Bool = false, rotary: Bool = false) -> [String] {
        var names = [embed]
        if positional { names.append(posEmbed) }
        if tokenTypes { names.append(tokenTypeEmbed) }
        for l in 0..<layers {
            names += [residPre(l), q(l), k(l), v(l)]
            if rotary { names += [rotQ(l), rotK(l)] }
            names += [attnScores(l), pattern(l), z(l), result(l), attnOut(l), residMid(l),
                      mlpPre(l), mlpPost(l), mlpOut(l), residPost(l)]
        }
        return names + [finalNormalized]
    }
}

/// A function applied to an activation at a hook point; its result replaces the activation.
/// Returning the input unchanged reads it; returning something else edits the forward pass.
public typealias HookFunction = (Tensor) -> Tensor

/// Hooks for ONE call: a table from hook-point name to functions, applied in the order added.
/// Nothing is kept between calls.
public struct Hooks {
    public private(set) var table: [String: [HookFunction]] = [:]

    public init() {}

    public init(_ name: String, _ function: @escaping HookFunction) {
        add(name, function)
    }

    public var isEmpty: Bool { table.isEmpty }

    /// Adds a function at `name`.
    public mutating func add(_ name: String, _ function: @escaping HookFunction) {
        table[name, default: []].append(function)
    }

    /// All hooks of `self` followed by those of `other`.
    public func merged(with other: Hooks) -> Hooks {
        var out = self
        for (name, fs) in other.table { out.table[name, default: []] += fs }
        return out
    }

    /// Reads the activation (the forward pass is unchanged).
    public mutating func read(_ name: String, _ body: @escaping (Tensor) -> Void) {
        add(name) { body($0); return $0 }
    }

    /// Replaces the activation by `value` (broadcast to the activation's shape).
    public mutating func replace(_ name: String, with value: Tensor) {
        add(name) { t in value.shape == t.shape ? value : value + Tensor.zeros(t.shape) }
    }

    /// Adds `delta` (broadcast; e.g. a [dModel] steering vector) to the activation.
    public mutating func addTo(_ name: String, _ delta: Tensor) {
        add(name) { $0 + delta }
    }

    /// Scales the activation by `factor` (0 ablates it).
    public mutating func scale(_ name: String, by factor: Float) {
        add(name) { $0 * factor }
    }

    /// Sets the activation at positions `positions` (axis 1, the position axis of every
    /// [b, t, ...] hook point) to the same positions of `source` (e.g. a cached activation of
    /// another run: activation patching). Other positions are left alone.
    public mutating func patchPositions(_ name: String, _ positions: [Int], from source: Tensor) {
        add(name) { t in
            precondition(source.shape == t.shape, "patchPositions: source shape \(source.shape) differs from \(name) shape \(t.shape)")
            let m = HookEdits.indicator(length: t.shape[1], selected: positions, axis: 1, rank: t.rank)
            return t * (1 - m) + source * m
        }
    }

    /// Sets heads `heads` of a per-head activation (`hook_q/k/v/z/result` [b, t, heads, ...]
    /// or `hook_pattern/attn_scores` [b, heads, t, s]) to `replacement` — zero when nil
    /// (zero ablation), else that tensor's same heads (e.g. a mean or another run's cache).
    public mutating func ablateHeads(_ name: String, _ heads: [Int], replacement: Tensor? = nil) {
        let headAxis = name.hasSuffix("hook_pattern") || name.hasSuffix("hook_attn_scores") ? 1 : 2
        add(name) { t in
            let m = HookEdits.indicator(length: t.shape[headAxis], selected: heads, axis: headAxis, rank: t.rank)
            if let replacement { return t * (1 - m) + replacement * m }
            return t * (1 - m)
        }
    }

    /// Mean-ablates heads of `hook_z` of `layer`: each chosen head's output is replaced by its
    /// mean over the batch and positions of `reference` (a cached `hook_z`).
    public mutating func meanAblateHeads(layer: Int, _ heads: [Int], reference: Tensor) {
        let mean = reference.mean(axes: [0, 1], keepingDimensions: true)  // [1, 1, heads, dHead]
        ablateHeads(HookName.z(layer), heads, replacement: mean)
    }
}

enum HookEdits {
    /// A 0/1 tensor of `rank` axes, all of size 1 except `axis` (size `length`), 1 at `selected`.
    static func indicator(length: Int, selected: [Int], axis: Int, rank: Int) -> Tensor {
        var values = [Float](repeating: 0, count: length)
        for i in selected {
            precondition(i >= 0 && i < length, "hook edit: index \(i) out of range 0..<\(length)")
            values[i] = 1
        }
        var shape = [Int](repeating: 1, count: rank)
        shape[axis] = length
        return Tensor(shape: shape, scalars: values)
    }
}

/// Activations recorded by `runWithCache`, by hook-point name.
public struct ActivationCache: @unchecked Sendable {
    public internal(set) var values: [String: Tensor] = [:]

    public init(values: [String: Tensor] = [:]) { self.values = values }

    public subscript(_ name: String) -> Tensor? { values[name] }

    public var names: [String] { values.keys.sorted() }

    /// The residual stream at index r (r = 0 embedding, r = l + 1 output of block l).
    public func resid(_ r: Int) -> Tensor? { values[HookName.resid(r)] }
}

/// Which activations to cache in `runWithCache`.
public enum CacheSelection: Sendable {
    case all
    case names(Set<String>)
    case matching(@Sendable (String) -> Bool)

    func contains(_ name: String) -> Bool {
        switch self {
        case .all: return true
        case let .names(set): return set.contains(name)
        case let .matching(f): return f(name)
        }
    }
}

/// The hooks and cache of one forward pass (what the architectures' forward functions tap).
public final class HookRun {
    let hooks: Hooks
    let selection: CacheSelection?
    /// Positions (indices into the input's length axis) at which decoders project to logits;
    /// nil projects every position. With k positions `ModelOutput.logits` is [b, k, vocab]:
    /// methods that need one position (attribution to the next token) skip the LM head's
    /// work at all others.
    public let logitPositions: [Int]?
    public private(set) var cache = ActivationCache()

    public init(hooks: Hooks = Hooks(), caching selection: CacheSelection? = nil, logitPositions: [Int]? = nil) {
        self.hooks = hooks
        self.selection = selection
        self.logitPositions = logitPositions
    }

    /// The final hidden state [b, t, dModel] at `logitPositions` ([b, k, dModel]), or all of it.
    public func logitRows(_ normed: Tensor) -> Tensor {
        logitPositions.map { normed.indexSelect($0, axis: 1) } ?? normed
    }

    /// Whether anything wants the activation `name` (so optional ones like `hook_result` are computed).
    public func wants(_ name: String) -> Bool {
        hooks.table[name] != nil || (selection?.contains(name) ?? false)
    }

    /// Applies the hooks at `name` to `value`, caches the result if asked, and returns it.
    public func tap(_ name: String, _ value: Tensor) -> Tensor {
        var x = value
        if let fs = hooks.table[name] {
            for f in fs {
                let y = f(x)
                precondition(y.shape == x.shape, "hook at \(name) returned shape \(y.shape), expected \(x.shape)")
                x = y
            }
        }
        if let selection, selection.contains(name) { cache.values[name] = x }
        return x
    }
}
