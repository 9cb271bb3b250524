import Foundation
import GlassboxTensor

/// Keys and values of earlier positions, per layer, for incremental decoding.
public final class KVCache {
    /// Per layer: [batch, pastLength, kvHeads, dHead].
    var keys: [Tensor?]
    var values: [Tensor?]
    /// [batch * pastLength]: true at real (non-padding) keys.
    var keyMask: [Bool] = []
    /// Per prompt: the position the next real token gets.
    var nextPosition: [Int] = []
    public private(set) var length = 0
    let batch: Int

    public init(layers: Int, batch: Int) {
        keys = Array(repeating: nil, count: layers)
        values = Array(repeating: nil, count: layers)
        self.batch = batch
        nextPosition = Array(repeating: 0, count: batch)
    }

    /// Adds this step's keys and values [b, t, kvHeads, dHead] of `layer`; returns all of them.
    func append(layer: Int, keys k: Tensor, values v: Tensor) -> (Tensor, Tensor) {
        let allK = keys[layer].map { Tensor.concatenate([$0, k], axis: 1) } ?? k
        let allV = values[layer].map { Tensor.concatenate([$0, v], axis: 1) } ?? v
        keys[layer] = allK.detached()
        values[layer] = allV.detached()
        return (allK, allV)
    }

    /// The key mask of past + new tokens and the positions of the new tokens; then records them.
    func advance(with input: TokenBatch) -> (keyMask: [Bool], positions: [[Int]]) {
        precondition(input.batch == batch, "KVCache: batch \(input.batch) for a cache of batch \(batch)")
        let positions = input.positions(start: nextPosition)
        var merged = [Bool]()
        let total = length + input.length
        merged.reserveCapacity(batch * total)
        for b in 0..<batch {
            merged += keyMask[(b * length)..<((b + 1) * length)]
            merged += input.mask[(b * input.length)..<((b + 1) * input.length)]
            nextPosition[b] += input.realPositions(b).count
        }
        keyMask = merged
        length = total
        return (merged, positions)
    }
}

/// What every architecture's forward pass needs to know about its input.
struct ForwardContext {
    let input: TokenBatch
    /// Positions of the tokens, per prompt.
    let positions: [[Int]]
    /// Additive mask [batch, 1, queries, keys].
    let mask: Tensor
    let cache: KVCache?

    init(_ input: TokenBatch, causal: Bool, cache: KVCache?) {
        self.input = input
        self.cache = cache
        if let cache {
            let (keyMask, positions) = cache.advance(with: input)
            self.positions = positions
            mask = attentionMask(keyMask: keyMask, batch: input.batch, queries: input.length, keys: cache.length, causal: causal)
        } else {
            positions = input.positions()
            mask = attentionMask(keyMask: input.mask, batch: input.batch, queries: input.length, keys: input.length, causal: causal)
        }
    }

    var flatPositions: [Int] { positions.flatMap { $0 } }
}

extension Tensor {
    /// RoPE on [b, t, heads, dHead] with a position list per prompt.
    func rotary(positions: [[Int]], base: Float, layout: RoPELayout) -> Tensor {
        let x = permuted([0, 2, 1, 3])  // [b, heads, t, dHead]
        let rotated: Tensor
        if positions.dropFirst().allSatisfy({ $0 == positions[0] }) {
            rotated = x.rope(positions: positions[0], base: base, layout: layout)
        } else {
            rotated = Tensor.stack(positions.indices.map { b in
                x.select(axis: 0, b).rope(positions: positions[b], base: base, layout: layout)
            }, axis: 0)
        }
        return rotated.permuted([0, 2, 1, 3])  // [b, t, heads, dHead]
    }
}

/// Scaled dot-product attention with hooks, shared by the architectures.
/// q: [b, t, heads, dHead]; k, v: [b, s, kvHeads, dHead] (grouped-query when kvHeads < heads);
/// the output projection `wo` is [dModel, heads * dHead]. Returns the attention output [b, t, dModel].
func multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, wo: Tensor, bo: Tensor?,
                        layer: Int, run: HookRun) -> Tensor {
    let b = q.shape[0], t = q.shape[1], heads = q.shape[2], dHead = q.shape[3]
    let s = k.shape[1], kvHeads = k.shape[2], group = heads / kvHeads
    let dModel = wo.shape[0]
    let scale = 1 / Float(dHead).squareRoot()

    let qh = q.permuted([0, 2, 1, 3])                              // [b, heads, t, dHead]
    let kT = k.permuted([0, 2, 3, 1])                              // [b, kvHeads, dHead, s]
    var scores: Tensor                                             // [b, heads, t, s]
    if group == 1 {
        scores = qh.matmul(kT)
    } else {
        // The heads of a group share keys: fold them into rows, one product per key head.
        let qg = qh.contiguous().reshaped([b, kvHeads, group * t, dHead])     // [b, kvHeads, group·t, dHead]
        scores = qg.matmul(kT).reshaped([b, heads, t, s])
    }
    scores = run.tap(HookName.attnScores(layer), scores * scale + mask)      // [b, heads, t, s]
    let pattern = run.tap(HookName.pattern(layer), scores.softmax(axis: -1))   // [b, heads, t, s]

    var zh: Tensor                                                 // [b, heads, t, dHead]
    let vh = v.permuted([0, 2, 1, 3])                              // [b, kvHeads, s, dHead]
    if group == 1 {
        zh = pattern.matmul(vh)
    } else {
        let pg = pattern.reshaped([b, kvHeads, group * t, s])                      // [b, kvHeads, group·t, s]
        zh = pg.matmul(vh).reshaped([b, heads, t, dHead])
    }
    let z = run.tap(HookName.z(layer), zh.permuted([0, 2, 1, 3]).contiguous())     // [b, t, heads, dHead]

    var attnOut: Tensor                                            // [b, t, dModel]
    if run.wants(HookName.result(layer)) {
        // Per-head contributions: result[b, t, h] = z[b, t, h] · W_O[:, h]ᵀ.
        let woHeads = wo.reshaped([dModel, heads, dHead]).permuted([1, 2, 0])   // [heads, dHead, dModel]
        let perHead = z.permuted([0, 2, 1, 3]).matmul(woHeads)                  // [b, heads, t, dModel]
        let result = run.tap(HookName.result(layer), perHead.permuted([0, 2, 1, 3]).contiguous())  // [b, t, heads, dModel]
        attnOut = result.sum(axes: [2])
        if let bo { attnOut = attnOut + bo }
    } else {
        attnOut = z.reshaped([b, t, heads * dHead]).linear(weight: wo, bias: bo)
    }
    return run.tap(HookName.attnOut(layer), attnOut)
}
