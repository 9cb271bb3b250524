import Foundation

/// BERT's WordPiece tokenizer with the BasicTokenizer / BertNormalizer rules: clean the text
/// (drop NUL, U+FFFD and control characters; whitespace → space), put spaces around CJK
/// ideographs, strip accents (NFD, drop Mn) and lowercase when uncased, split on whitespace and
/// punctuation, then greedy longest-match-first word pieces with a `##` continuation prefix.
public struct WordPieceTokenizer: Tokenizer {
    public let vocabulary: [String]
    public let lowercase: Bool
    public let stripAccents: Bool
    public let handleChineseCharacters: Bool
    public let continuationPrefix: String
    public let maxCharactersPerWord: Int
    public let unknownID: Int
    public let clsID: Int?
    public let sepID: Int?
    public let padID: Int?
    public let maskID: Int?

    private let index: [String: Int]
    private let special: Set<Int>
    private let matcher: SpecialTokenMatcher
    /// Longest vocabulary entry in scalars (without the continuation prefix): no longer piece can match.
    private let maxTokenLength: Int

    public var vocabularySize: Int { vocabulary.count }

    public init(name: String, vocabulary: [String], lowercase: Bool = true, stripAccents: Bool? = nil,
                handleChineseCharacters: Bool = true, continuationPrefix: String = "##",
                maxCharactersPerWord: Int = 100, unknownToken: String = "[UNK]",
                specialTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) throws {
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase
        self.handleChineseCharacters = handleChineseCharacters
        self.continuationPrefix = continuationPrefix
        self.maxCharactersPerWord = maxCharactersPerWord
        var index: [String: Int] = [:]
        for (i, t) in vocabulary.enumerated() where index[t] == nil { index[t] = i }
        self.index = index
        self.maxTokenLength = vocabulary.map { t in
            t.hasPrefix(continuationPrefix) ? t.unicodeScalars.count - continuationPrefix.unicodeScalars.count : t.unicodeScalars.count
        }.max() ?? 0
        guard let unk = index[unknownToken] else {
            throw FormatError.missing(file: name, field: "unknown token \(unknownToken)", expected: "an entry of the vocabulary")
        }
        self.unknownID = unk
        self.clsID = index["[CLS]"]
        self.sepID = index["[SEP]"]
        self.padID = index["[PAD]"]
        self.maskID = index["[MASK]"]
        let specials = specialTokens.compactMap { t in index[t].map { (t, $0) } }
        self.special = Set(specials.map(\.1))
        self.matcher = SpecialTokenMatcher(specials)
    }

    /// From a BERT `vocab.txt` (one token a line, the line number is the id).
    public init(vocabTxt path: String, lowercase: Bool = true) throws {
        let name = (path as NSString).lastPathComponent
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FormatError.unreadable(file: path, reason: error.localizedDescription)
        }
        var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        if lines.last == "" { lines.removeLast() }
        try self.init(name: name, vocabulary: lines, lowercase: lowercase)
    }

    /// From a parsed Hugging Face `tokenizer.json` whose model is WordPiece.
    init(tokenizerJSON root: [String: Any], name: String) throws {
        let (model, tokens, added) = try TokenizerLoader.vocabulary(root, name: name)
        let norm = root["normalizer"] as? [String: Any] ?? [:]
        if let type = norm["type"] as? String, type != "BertNormalizer" {
            throw FormatError.badJSON(file: name, field: "normalizer.type", expected: "BertNormalizer, found \(type)")
        }
        try self.init(name: name, vocabulary: tokens,
                      lowercase: norm["lowercase"] as? Bool ?? true,
                      stripAccents: norm["strip_accents"] as? Bool,
                      handleChineseCharacters: norm["handle_chinese_chars"] as? Bool ?? true,
                      continuationPrefix: model["continuing_subword_prefix"] as? String ?? "##",
                      maxCharactersPerWord: model["max_input_chars_per_word"] as? Int ?? 100,
                      unknownToken: model["unk_token"] as? String ?? "[UNK]",
                      specialTokens: added.filter(\.2).map(\.0))
    }

    /// From GGUF metadata of a BERT model (`tokenizer.ggml.model = bert`).
    public init(gguf: GGUFFile) throws {
        let tokens = try gguf.stringArray("tokenizer.ggml.tokens")
        let types = gguf.value("tokenizer.ggml.token_type") == nil ? [] : try gguf.intArray("tokenizer.ggml.token_type")
        let specials = types.enumerated().filter { $0.element == 3 || $0.element == 4 }.map { tokens[$0.offset] }
        let unk = gguf.value("tokenizer.ggml.unknown_token_id") == nil ? nil : try gguf.int("tokenizer.ggml.unknown_token_id")
        guard unk == nil || (0..<tokens.count).contains(unk!) else {
            throw FormatError.invalidValue(file: gguf.name, field: "tokenizer.ggml.unknown_token_id", value: String(unk!),
                                           expected: "an id below \(tokens.count)")
        }
        try self.init(name: gguf.name, vocabulary: tokens, unknownToken: unk.map { tokens[$0] } ?? "[UNK]",
                      specialTokens: specials.isEmpty ? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] : specials)
    }

    // MARK: Character classes

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        if c.value < 0x80 { return c.value < 0x20 || c.value == 0x7F }
        switch c.properties.generalCategory {
        case .control, .format: return true
        default: return false
        }
    }

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        if c == " " || c == "\t" || c == "\n" || c == "\r" { return true }
        if c.value < 0x80 { return false }
        return c.properties.generalCategory == .spaceSeparator
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 { return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    static func isCJK(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    // MARK: Pipeline

    /// The normalised words and punctuation of a text segment (BasicTokenizer).
    func basicTokens(_ scalars: ArraySlice<Unicode.Scalar>) -> [String] {
        // Clean and space out CJK.
        var cleaned = String.UnicodeScalarView()
        for c in scalars {
            if c.value == 0 || c.value == 0xFFFD || Self.isControl(c) { continue }
            if Self.isWhitespace(c) { cleaned.append(" ") }
            else if handleChineseCharacters && Self.isCJK(c) { cleaned.append(" "); cleaned.append(c); cleaned.append(" ") }
            else { cleaned.append(c) }
        }
        // Strip accents (NFD, drop nonspacing marks) and lowercase; ASCII needs neither step.
        var folded = String.UnicodeScalarView()
        var foldCache: [UInt32: [Unicode.Scalar]] = [:]  // Foundation's NFD is slow per call
        for c in cleaned {
            if c.value < 0x80 {
                folded.append(lowercase && c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 0x20)! : c)
                continue
            }
            if let done = foldCache[c.value] {
                folded.append(contentsOf: done)
                continue
            }
            let decomposed = stripAccents ? String(Character(c)).decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { $0.properties.generalCategory != .nonspacingMark } : [c]
            var result: [Unicode.Scalar] = []
            for d in decomposed {
                if lowercase { result.append(contentsOf: d.properties.lowercaseMapping.unicodeScalars) } else { result.append(d) }
            }
            foldCache[c.value] = result
            folded.append(contentsOf: result)
        }
        let text = String(folded)
        // Split on whitespace, then punctuation as single tokens.
        var out: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty { out.append(String(current)); current = String.UnicodeScalarView() }
        }
        for c in text.unicodeScalars {
            if Self.isWhitespace(c) || (c.value >= 0x80 && c.properties.isWhitespace) { flush() }
            else if Self.isPunctuation(c) { flush(); out.append(String(Character(c))) }
            else { current.append(c) }
        }
        flush()
        return out
    }

    /// Greedy longest-match-first pieces of one word; the unknown id when any part fails.
    func wordPieces(_ word: String, into out: inout [Int]) {
        // Candidates are built as UTF-8 bytes (short strings stay inline, without allocation).
        let bytes = Array(word.utf8)
        var bounds: [Int] = [0]  // byte offset of each scalar boundary
        for s in word.unicodeScalars { bounds.append(bounds.last! + UTF8.width(s)) }
        let n = bounds.count - 1
        guard n <= maxCharactersPerWord else { out.append(unknownID); return }
        let prefix = Array(continuationPrefix.utf8)
        var pieces: [Int] = []
        var buffer: [UInt8] = []
        var start = 0
        while start < n {
            var end = min(n, start + maxTokenLength)
            var found: Int?
            while start < end {
                buffer.removeAll(keepingCapacity: true)
                if start > 0 { buffer.append(contentsOf: prefix) }
                buffer.append(contentsOf: bytes[bounds[start]..<bounds[end]])
                if let id = index[String(decoding: buffer, as: UTF8.self)] { found = id; break }
                end -= 1
            }
            guard let id = found else { out.append(unknownID); return }
            pieces.append(id)
            start = end
        }
        out.append(contentsOf: pieces)
    }

    // MARK: Tokenizer

    public func token(_ id: Int) -> String? { id >= 0 && id < vocabulary.count ? vocabulary[id] : nil }
    public func id(of token: String) -> Int? { index[token] }
    public func isSpecial(_ id: Int) -> Bool { special.contains(id) }

    /// Ids of `text`, framed as `[CLS] … [SEP]` when `addSpecialTokens`.
    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = []
        if addSpecialTokens, let clsID { out.append(clsID) }
        appendIDs(of: text, parseSpecial: parseSpecial, to: &out)
        if addSpecialTokens, let sepID { out.append(sepID) }
        return out
    }

    /// A sentence pair: `[CLS] a [SEP] b [SEP]` with token type ids 0 for the first part and 1 for the second.
    public func encodePair(_ a: String, _ b: String) -> (ids: [Int], typeIDs: [Int]) {
        var ids = encode(a, addSpecialTokens: true, parseSpecial: true)
        let first = ids.count
        appendIDs(of: b, parseSpecial: true, to: &ids)
        if let sepID { ids.append(sepID) }
        return (ids, [Int](repeating: 0, count: first) + [Int](repeating: 1, count: ids.count - first))
    }

    private func appendIDs(of text: String, parseSpecial: Bool, to out: inout [Int]) {
        let scalars = Array(text.unicodeScalars)
        let segments: [SpecialTokenMatcher.Segment] = parseSpecial
            ? matcher.segments(scalars) : (scalars.isEmpty ? [] : [.text(0..<scalars.count)])
        for seg in segments {
            switch seg {
            case let .special(id): out.append(id)
            case let .text(range):
                for word in basicTokens(scalars[range]) { wordPieces(word, into: &out) }
            }
        }
    }

    /// Tokens joined by spaces, `##` pieces glued to the previous one, then Hugging Face's
    /// per-token clean-up (` .` → `.`, ` ,` → `,`, …).
    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var out = ""
        var first = true
        for id in ids {
            guard let t = token(id), !(skipSpecial && special.contains(id)) else { continue }
            var piece: String
            if t.hasPrefix(continuationPrefix) { piece = String(t.dropFirst(continuationPrefix.count)) }
            else { piece = first ? t : " " + t }
            first = false
            for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                               (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
                piece = piece.replacingOccurrences(of: from, with: to)
            }
            out += piece
        }
        return out
    }
}
