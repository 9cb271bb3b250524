import GlassboxTensor

extension KVCache {
    /// A new cache holding the first `length` positions of prompt 0 of this (dense) cache,
    /// repeated for `copies` prompts: run a shared prefix once, then continue many copies from
    /// it (e.g. activation patching at position p leaves positions < p unchanged, so only the
    /// suffix from p on needs to be run per copy).
    public func prefix(_ length: Int, copies: Int) -> KVCache {
        precondition(length > 0 && length <= self.length, "KVCache.prefix: length \(length) outside 1...\(self.length)")
        precondition(copies > 0, "KVCache.prefix: copies must be positive")
        precondition(keyMask.prefix(self.length).allSatisfy { $0 }, "KVCache.prefix: the cache of prompt 0 has padding")
        let out = KVCache(layers: keys.count, batch: copies)
        func repeated(_ t: Tensor?) -> Tensor? {
            guard let t else { return nil }
            let head = t.slice(axis: 0, 0..<1).slice(axis: 1, 0..<length).contiguous()          // [1, length, kvHeads, dHead]
            var shape = head.shape
            shape[0] = copies
            return head.broadcast(to: shape).contiguous()                                       // [copies, length, kvHeads, dHead]
        }
        for l in keys.indices {
            out.keys[l] = repeated(keys[l])
            out.values[l] = repeated(values[l])
        }
        _ = out.advance(with: TokenBatch(sequences: [[Int]](repeating: [Int](repeating: 0, count: length), count: copies)))
        return out
    }
}
