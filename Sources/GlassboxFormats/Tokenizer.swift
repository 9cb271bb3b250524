import Foundation

/// Text ↔ token ids.
public protocol Tokenizer: Sendable {
    /// Number of ids.
    var vocabularySize: Int { get }
    /// Ids of text. With `parseSpecial` (the default), special-token strings written in the text
    /// (e.g. `<|im_start|>`) become their ids; otherwise they are encoded as plain text.
    /// With `addSpecialTokens`, the tokenizer's own framing (e.g. BERT's `[CLS] … [SEP]`, a BOS
    /// when the model asks for one) is added.
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int]
    /// Text of ids; with `skipSpecial` special tokens are left out.
    func decode(_ ids: [Int], skipSpecial: Bool) -> String
    /// The vocabulary string of an id (nil when out of range).
    func token(_ id: Int) -> String?
    /// The id of a vocabulary string.
    func id(of token: String) -> Int?
    /// Whether the id is a special (control) token.
    func isSpecial(_ id: Int) -> Bool
}

extension Tokenizer {
    public func encode(_ text: String) -> [Int] { encode(text, addSpecialTokens: true, parseSpecial: true) }
    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecial: false) }
    public func tokens(_ ids: [Int]) -> [String] { ids.map { token($0) ?? "<\($0)?>" } }
}

/// Splitting of text around special-token strings (longest match first), done before any
/// normalisation or pre-tokenisation, as Hugging Face's added tokens are.
struct SpecialTokenMatcher: Sendable {
    /// Candidates by first scalar, longest first.
    private let byFirst: [Unicode.Scalar: [([Unicode.Scalar], Int)]]

    init(_ specials: [(String, Int)]) {
        var map: [Unicode.Scalar: [([Unicode.Scalar], Int)]] = [:]
        for (s, id) in specials {
            let scalars = Array(s.unicodeScalars)
            guard let first = scalars.first else { continue }
            map[first, default: []].append((scalars, id))
        }
        for k in map.keys { map[k]!.sort { $0.0.count > $1.0.count } }
        byFirst = map
    }

    var isEmpty: Bool { byFirst.isEmpty }

    enum Segment {
        case text(Range<Int>)
        case special(Int)
    }

    /// Text ranges and special ids of `s`, in order.
    func segments(_ s: [Unicode.Scalar]) -> [Segment] {
        guard !byFirst.isEmpty else { return s.isEmpty ? [] : [.text(0..<s.count)] }
        var out: [Segment] = []
        var start = 0, i = 0
        outer: while i < s.count {
            if let cands = byFirst[s[i]] {
                for (cand, id) in cands where i + cand.count <= s.count {
                    var ok = true
                    for k in 1..<max(cand.count, 1) where s[i + k] != cand[k] { ok = false; break }
                    if ok {
                        if start < i { out.append(.text(start..<i)) }
                        out.append(.special(id))
                        i += cand.count
                        start = i
                        continue outer
                    }
                }
            }
            i += 1
        }
        if start < s.count { out.append(.text(start..<s.count)) }
        return out
    }
}

/// Loading a tokenizer from whatever a model folder or file provides.
public enum TokenizerLoader {
    /// The tokenizer described by a GGUF file's `tokenizer.ggml.*` metadata.
    public static func load(gguf: GGUFFile) throws -> any Tokenizer {
        let model = try gguf.string("tokenizer.ggml.model")
        switch model {
        case "gpt2": return try ByteLevelBPETokenizer(gguf: gguf)
        case "bert": return try WordPieceTokenizer(gguf: gguf)
        default:
            throw FormatError.invalidValue(file: gguf.name, field: "tokenizer.ggml.model", value: model,
                                           expected: "gpt2 (byte-level BPE) or bert (WordPiece)")
        }
    }

    /// The tokenizer of a Hugging Face `tokenizer.json`.
    public static func load(tokenizerJSON path: String) throws -> any Tokenizer {
        let name = (path as NSString).lastPathComponent
        let root = try readJSONObject(path)
        guard let model = root["model"] as? [String: Any], let type = model["type"] as? String else {
            throw FormatError.badJSON(file: name, field: "model.type", expected: "a tokenizer model type")
        }
        switch type {
        case "BPE": return try ByteLevelBPETokenizer(tokenizerJSON: root, name: name)
        case "WordPiece": return try WordPieceTokenizer(tokenizerJSON: root, name: name)
        default:
            throw FormatError.badJSON(file: name, field: "model.type", expected: "BPE or WordPiece, found \(type)")
        }
    }

    static func readJSONObject(_ path: String) throws -> [String: Any] {
        let name = (path as NSString).lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw FormatError.unreadable(file: path, reason: error.localizedDescription)
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data), let root = obj as? [String: Any] else {
            throw FormatError.badJSON(file: name, field: "document", expected: "a JSON object")
        }
        return root
    }

    /// The `model` object, the vocabulary by id (from `model.vocab` and `added_tokens`; gaps are
    /// empty strings) and the added tokens of a tokenizer.json.
    static func vocabulary(_ root: [String: Any], name: String) throws
        -> (model: [String: Any], tokens: [String], added: [(String, Int, Bool)]) {
        guard let model = root["model"] as? [String: Any], let vocab = model["vocab"] as? [String: Any] else {
            throw FormatError.badJSON(file: name, field: "model.vocab", expected: "an object of token → id")
        }
        let added = try addedTokens(root, name: name)
        let limit = 10_000_000
        var pairs: [(String, Int)] = []
        for (t, v) in vocab {
            guard let id = v as? Int, id >= 0, id < limit else {
                throw FormatError.badJSON(file: name, field: "model.vocab[\(t)]", expected: "an id between 0 and 10^7")
            }
            pairs.append((t, id))
        }
        for (t, id, _) in added {
            guard id < limit else {
                throw FormatError.badJSON(file: name, field: "added_tokens[\(t)]", expected: "an id below 10^7")
            }
            pairs.append((t, id))
        }
        var tokens = [String](repeating: "", count: (pairs.map(\.1).max() ?? -1) + 1)
        for (t, id) in pairs { tokens[id] = t }
        return (model, tokens, added)
    }

    /// `added_tokens` of a tokenizer.json: (content, id, special).
    static func addedTokens(_ root: [String: Any], name: String) throws -> [(String, Int, Bool)] {
        guard let list = root["added_tokens"] else { return [] }
        guard let arr = list as? [[String: Any]] else {
            throw FormatError.badJSON(file: name, field: "added_tokens", expected: "an array of objects")
        }
        return try arr.enumerated().map { i, t in
            guard let content = t["content"] as? String, let id = t["id"] as? Int, id >= 0 else {
                throw FormatError.badJSON(file: name, field: "added_tokens[\(i)]", expected: "content and a non-negative id")
            }
            return (content, id, t["special"] as? Bool ?? false)
        }
    }
}
