import Foundation

/// Byte-level BPE (the GPT-2 family: GPT-2, SmolLM, StarCoder, Llama 3, …).
///
/// Text is split around special tokens, pre-tokenized into pieces (``PreTokenizer``), each
/// piece's UTF-8 bytes are mapped to printable scalars (GPT-2's byte-to-unicode table, e.g.
/// space → `Ġ`, newline → `Ċ`) and merged by rank.
public struct ByteLevelBPETokenizer: Tokenizer {
    /// Vocabulary strings by id.
    public let vocabulary: [String]
    public let preTokenizer: PreTokenizer
    public let bosID: Int?
    public let eosID: Int?
    public let unknownID: Int?
    public let paddingID: Int?
    /// Whether `encode(addSpecialTokens: true)` starts with BOS / ends with EOS.
    public let addBOS: Bool
    public let addEOS: Bool
    /// Whether a space is put in front of text that does not start with one (ByteLevel `add_prefix_space`).
    public let addPrefixSpace: Bool
    /// Whether a pre-tokenized piece that is itself a vocabulary entry is taken whole, before
    /// any merge (Hugging Face's `ignore_merges`, set by Llama 3).
    public let ignoreMerges: Bool
    /// The Jinja chat template shipped with the model, if any.
    public let chatTemplate: String?

    private let index: [String: Int]
    private let merges: [UInt64: Merge]
    private let byteIDs: [Int32]
    private let special: Set<Int>
    private let matcher: SpecialTokenMatcher

    struct Merge: Sendable {
        let rank: Int32
        let id: Int32
    }

    public var vocabularySize: Int { vocabulary.count }

    /// GPT-2's reversible map from bytes to printable scalars.
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { m[s.value] = UInt8(b) }
        return m
    }()

    /// - Parameters:
    ///   - vocabulary: token strings by id (byte-level form).
    ///   - merges: merge pairs in rank order; pairs whose parts or result are not in the
    ///     vocabulary can never apply and are ignored.
    ///   - specialIDs: ids matched as whole strings in text and rendered verbatim.
    public init(name: String, vocabulary: [String], merges: [(String, String)], specialIDs: Set<Int>,
                preTokenizer: PreTokenizer, bosID: Int? = nil, eosID: Int? = nil, unknownID: Int? = nil,
                paddingID: Int? = nil, addBOS: Bool = false, addEOS: Bool = false, addPrefixSpace: Bool = false,
                ignoreMerges: Bool = false, chatTemplate: String? = nil) throws {
        self.vocabulary = vocabulary
        self.preTokenizer = preTokenizer
        for (field, id) in [("bos", bosID), ("eos", eosID), ("unknown", unknownID), ("padding", paddingID)] {
            if let id, id < 0 || id >= vocabulary.count {
                throw FormatError.invalidValue(file: name, field: "\(field) token id", value: String(id),
                                               expected: "an id below the vocabulary size \(vocabulary.count)")
            }
        }
        if let bad = specialIDs.first(where: { $0 < 0 || $0 >= vocabulary.count }) {
            throw FormatError.invalidValue(file: name, field: "special token id", value: String(bad),
                                           expected: "an id below the vocabulary size \(vocabulary.count)")
        }
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.paddingID = paddingID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addPrefixSpace = addPrefixSpace
        self.ignoreMerges = ignoreMerges
        self.chatTemplate = chatTemplate
        var index: [String: Int] = [:]
        index.reserveCapacity(vocabulary.count)
        for (i, t) in vocabulary.enumerated() where index[t] == nil || specialIDs.contains(index[t]!) {
            index[t] = i
        }
        self.index = index
        var byteIDs = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = index[String(Character(Self.byteToScalar[b]))] { byteIDs[b] = Int32(id) }
        }
        self.byteIDs = byteIDs
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = index[a], let ib = index[b], let ir = index[a + b] else { continue }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            if table[key] == nil { table[key] = Merge(rank: Int32(rank), id: Int32(ir)) }
        }
        self.merges = table
        self.special = specialIDs
        self.matcher = SpecialTokenMatcher(specialIDs.sorted().map { (vocabulary[$0], $0) })
    }

    // MARK: Loading

    /// From GGUF metadata: `tokenizer.ggml.tokens`, `.merges`, `.token_type` (control and
    /// user-defined tokens are special), `.pre`, the special ids and `add_bos_token`/`add_eos_token`.
    public init(gguf: GGUFFile) throws {
        let tokens = try gguf.stringArray("tokenizer.ggml.tokens")
        let types = gguf.value("tokenizer.ggml.token_type") == nil ? [] : try gguf.intArray("tokenizer.ggml.token_type")
        guard types.isEmpty || types.count == tokens.count else {
            throw FormatError.invalidValue(file: gguf.name, field: "tokenizer.ggml.token_type", value: "\(types.count) entries",
                                           expected: "one per token (\(tokens.count))")
        }
        let rawMerges = try gguf.stringArray("tokenizer.ggml.merges")
        let merges = try rawMerges.enumerated().map { i, m -> (String, String) in
            guard let sp = m.firstIndex(of: " ") else {
                throw FormatError.invalidValue(file: gguf.name, field: "tokenizer.ggml.merges[\(i)]", value: "\"\(m)\"",
                                               expected: "two tokens separated by a space")
            }
            return (String(m[..<sp]), String(m[m.index(after: sp)...]))
        }
        let pre = try gguf.string("tokenizer.ggml.pre", default: "default")
        guard let preTokenizer = PreTokenizer(ggmlPre: pre) else {
            throw FormatError.invalidValue(file: gguf.name, field: "tokenizer.ggml.pre", value: pre,
                                           expected: "a known pre-tokenizer (gpt2, smollm, starcoder, llama-bpe, …)")
        }
        // ggml token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
        let specials = Set(types.enumerated().filter { $0.element == 3 || $0.element == 4 }.map(\.offset))
        func optionalID(_ key: String) throws -> Int? { gguf.value(key) == nil ? nil : try gguf.int(key) }
        try self.init(name: gguf.name, vocabulary: tokens, merges: merges, specialIDs: specials,
                      preTokenizer: preTokenizer,
                      bosID: optionalID("tokenizer.ggml.bos_token_id"), eosID: optionalID("tokenizer.ggml.eos_token_id"),
                      unknownID: optionalID("tokenizer.ggml.unknown_token_id"),
                      paddingID: optionalID("tokenizer.ggml.padding_token_id"),
                      addBOS: gguf.bool("tokenizer.ggml.add_bos_token", default: false),
                      addEOS: gguf.bool("tokenizer.ggml.add_eos_token", default: false),
                      chatTemplate: gguf.value("tokenizer.chat_template") == nil ? nil : try gguf.string("tokenizer.chat_template"))
    }

    /// From a parsed Hugging Face `tokenizer.json` whose model is BPE.
    init(tokenizerJSON root: [String: Any], name: String) throws {
        let (model, tokens, added) = try TokenizerLoader.vocabulary(root, name: name)
        var merges: [(String, String)] = []
        for (i, m) in (model["merges"] as? [Any] ?? []).enumerated() {
            if let s = m as? String, let sp = s.firstIndex(of: " ") {
                merges.append((String(s[..<sp]), String(s[s.index(after: sp)...])))
            } else if let p = m as? [String], p.count == 2 {
                merges.append((p[0], p[1]))
            } else {
                throw FormatError.badJSON(file: name, field: "model.merges[\(i)]", expected: "\"a b\" or [\"a\", \"b\"]")
            }
        }
        let (pre, prefixSpace) = try Self.preTokenizer(root["pre_tokenizer"], name: name)
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key] as? String, !v.isEmpty {
                throw FormatError.badJSON(file: name, field: "model.\(key)", expected: "none for byte-level BPE, found \"\(v)\"")
            }
        }
        if model["byte_fallback"] as? Bool == true {
            throw FormatError.badJSON(file: name, field: "model.byte_fallback", expected: "false for byte-level BPE")
        }
        let specials = Set(added.filter(\.2).map(\.1))
        func idOf(_ key: String) -> Int? {
            guard let t = model[key] as? String else { return nil }
            return tokens.firstIndex(of: t)
        }
        try self.init(name: name, vocabulary: tokens, merges: merges, specialIDs: specials, preTokenizer: pre,
                      unknownID: idOf("unk_token"), addPrefixSpace: prefixSpace,
                      ignoreMerges: model["ignore_merges"] as? Bool ?? false)
    }

    /// The pre-tokenizer of a tokenizer.json `pre_tokenizer` block.
    static func preTokenizer(_ json: Any?, name: String) throws -> (PreTokenizer, Bool) {
        guard let obj = json as? [String: Any], let type = obj["type"] as? String else {
            throw FormatError.badJSON(file: name, field: "pre_tokenizer", expected: "a ByteLevel pre-tokenizer (or a Sequence with one)")
        }
        switch type {
        case "ByteLevel":
            guard obj["use_regex"] as? Bool ?? true else {
                throw FormatError.badJSON(file: name, field: "pre_tokenizer.use_regex", expected: "true for a lone ByteLevel pre-tokenizer")
            }
            return (.gpt2, obj["add_prefix_space"] as? Bool ?? false)
        case "Sequence":
            let steps = obj["pretokenizers"] as? [[String: Any]] ?? []
            let types = steps.map { $0["type"] as? String ?? "" }
            let byteLevel = steps.last { ($0["type"] as? String) == "ByteLevel" }
            let prefix = byteLevel?["add_prefix_space"] as? Bool ?? false
            if types == ["Digits", "ByteLevel"], steps[0]["individual_digits"] as? Bool == true {
                return (.digitsThenGPT2, prefix)
            }
            if types == ["Split", "ByteLevel"],
               let pattern = (steps[0]["pattern"] as? [String: Any])?["Regex"] as? String,
               pattern.hasPrefix("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}") {
                return (.llama3, prefix)
            }
            throw FormatError.badJSON(file: name, field: "pre_tokenizer",
                                      expected: "Digits+ByteLevel or the Llama 3 Split+ByteLevel sequence, found \(types)")
        default:
            throw FormatError.badJSON(file: name, field: "pre_tokenizer.type", expected: "ByteLevel or Sequence, found \(type)")
        }
    }

    // MARK: Tokenizer

    public func token(_ id: Int) -> String? { id >= 0 && id < vocabulary.count ? vocabulary[id] : nil }
    public func id(of token: String) -> Int? { index[token] }
    public func isSpecial(_ id: Int) -> Bool { special.contains(id) }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = []
        if addSpecialTokens && addBOS, let bosID { out.append(bosID) }
        var scalars = Array(text.unicodeScalars)
        if addPrefixSpace, let first = scalars.first, first != " " { scalars.insert(" ", at: 0) }
        let segments: [SpecialTokenMatcher.Segment] = parseSpecial
            ? matcher.segments(scalars) : (scalars.isEmpty ? [] : [.text(0..<scalars.count)])
        var word: [Int32] = []
        var bytes: [UInt8] = []
        for seg in segments {
            switch seg {
            case let .special(id): out.append(id)
            case let .text(range):
                let piece = Array(scalars[range])
                for r in preTokenizer.ranges(piece) {
                    bytes.removeAll(keepingCapacity: true)
                    for s in piece[r] { appendUTF8(s, to: &bytes) }
                    if ignoreMerges {
                        var mapped = String.UnicodeScalarView()
                        for b in bytes { mapped.append(Self.byteToScalar[Int(b)]) }
                        if let whole = index[String(mapped)] {
                            out.append(whole)
                            continue
                        }
                    }
                    word.removeAll(keepingCapacity: true)
                    for b in bytes {
                        let id = byteIDs[Int(b)]
                        if id >= 0 { word.append(id) } else if let u = unknownID { word.append(Int32(u)) }
                    }
                    applyMerges(&word)
                    for id in word { out.append(Int(id)) }
                }
            }
        }
        if addSpecialTokens && addEOS, let eosID { out.append(eosID) }
        return out
    }

    /// Repeatedly merges the lowest-ranked adjacent pair (all its non-overlapping occurrences, left to right).
    private func applyMerges(_ word: inout [Int32]) {
        while word.count > 1 {
            var best = Merge(rank: .max, id: -1)
            var at = -1
            for k in 0..<(word.count - 1) {
                if let m = merges[UInt64(UInt32(word[k])) << 32 | UInt64(UInt32(word[k + 1]))], m.rank < best.rank {
                    best = m
                    at = k
                }
            }
            guard at >= 0 else { return }
            let a = word[at], b = word[at + 1]
            var merged: [Int32] = Array(word[..<at])
            merged.reserveCapacity(word.count - 1)
            var k = at
            while k < word.count {
                if k + 1 < word.count && word[k] == a && word[k + 1] == b {
                    merged.append(best.id)
                    k += 2
                } else {
                    merged.append(word[k])
                    k += 1
                }
            }
            word = merged
        }
    }

    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids { appendBytes(of: id, skipSpecial: skipSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes a token stands for (a special token's text; nothing for an unknown id).
    public func appendBytes(of id: Int, skipSpecial: Bool = false, to bytes: inout [UInt8]) {
        guard let t = token(id) else { return }
        if special.contains(id) {
            if !skipSpecial { bytes.append(contentsOf: Array(t.utf8)) }
            return
        }
        for s in t.unicodeScalars {
            if let b = Self.scalarToByte[s.value] { bytes.append(b) } else { appendUTF8(s, to: &bytes) }
        }
    }

    /// Incremental decoding for generation: feed ids one at a time and get the text that is
    /// complete so far. A character split over several tokens comes out once its last byte arrives.
    public struct StreamDecoder: Sendable {
        public let tokenizer: ByteLevelBPETokenizer
        public let skipSpecial: Bool
        private var pending: [UInt8] = []

        public init(_ tokenizer: ByteLevelBPETokenizer, skipSpecial: Bool = false) {
            self.tokenizer = tokenizer
            self.skipSpecial = skipSpecial
        }

        /// Text completed by `id` (possibly empty).
        public mutating func next(_ id: Int) -> String {
            tokenizer.appendBytes(of: id, skipSpecial: skipSpecial, to: &pending)
            let complete = Self.completePrefix(pending)
            let text = String(decoding: pending[..<complete], as: UTF8.self)
            pending.removeFirst(complete)
            return text
        }

        /// Whatever is left (an incomplete sequence comes out as U+FFFD).
        public mutating func finish() -> String {
            defer { pending.removeAll() }
            return String(decoding: pending, as: UTF8.self)
        }

        /// Length of `bytes` without a trailing, still incomplete UTF-8 sequence.
        static func completePrefix(_ bytes: [UInt8]) -> Int {
            var k = bytes.count
            var back = 0
            while k > 0 && back < 4 {
                let b = bytes[k - 1]
                if b & 0xC0 != 0x80 {
                    // A lead byte: how long should its sequence be?
                    let need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
                    return need > back + 1 && b >= 0xC0 ? k - 1 : bytes.count
                }
                k -= 1
                back += 1
            }
            return bytes.count
        }
    }
}

/// Appends the UTF-8 bytes of `scalar`.
@inline(__always)
func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
    if let units = UTF8.encode(scalar) { bytes.append(contentsOf: units) }
}
