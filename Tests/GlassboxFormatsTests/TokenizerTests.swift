import Foundation
import Testing
@testable import GlassboxFormats

/// Token ids against Hugging Face tokenizers (`tokenizer_samples.json`, `model.json`, `generation.json`).
struct TokenizerTests {
    struct Sample: CustomTestStringConvertible, Sendable {
        let name: String
        let text: String
        let smolIDs: [Int]
        let smolTokens: [String]
        let smolDecode: String
        let smolIDsSplitSpecial: [Int]?
        let miniIDs: [Int]
        let miniTokens: [String]
        let miniDecode: String
        var testDescription: String { name }
    }

    static let samples: [Sample] = {
        guard let json = try? Fixtures.json("tokenizer_samples.json"), let list = json["samples"] as? [[String: Any]] else { return [] }
        return list.map { s in
            let smol = s["smollm2"] as? [String: Any] ?? [:], mini = s["minilm"] as? [String: Any] ?? [:]
            return Sample(name: s["name"] as? String ?? "?", text: s["text"] as? String ?? "",
                          smolIDs: smol["ids"] as? [Int] ?? [-1], smolTokens: smol["tokens"] as? [String] ?? [],
                          smolDecode: smol["decode"] as? String ?? "", smolIDsSplitSpecial: smol["ids_split_special"] as? [Int],
                          miniIDs: mini["ids"] as? [Int] ?? [-1], miniTokens: mini["tokens"] as? [String] ?? [],
                          miniDecode: mini["decode"] as? String ?? "")
        }
    }()

    static let smol: ByteLevelBPETokenizer? = try? ByteLevelBPETokenizer(gguf: GGUFFile(path: Fixtures.path("smollm2_tokenizer.gguf")))
    static let miniVocab: WordPieceTokenizer? = try? WordPieceTokenizer(vocabTxt: Fixtures.path("minilm/vocab.txt"))
    static let miniJSON: (any Tokenizer)? = try? TokenizerLoader.load(tokenizerJSON: Fixtures.path("minilm/tokenizer.json"))

    @Test func fixturesLoad() throws {
        #expect(Self.samples.count == 26)
        let smol = try #require(Self.smol)
        #expect(smol.vocabularySize == 49152)
        #expect(smol.preTokenizer == .digitsThenGPT2)
        #expect(smol.bosID == 1 && smol.eosID == 2 && smol.unknownID == 0 && !smol.addBOS)
        #expect((0...16).allSatisfy(smol.isSpecial) && !smol.isSpecial(17))
        let mini = try #require(Self.miniVocab)
        #expect(mini.vocabularySize == 30522)
        #expect(mini.clsID == 101 && mini.sepID == 102 && mini.unknownID == 100)
        #expect(Self.miniJSON is WordPieceTokenizer)
    }

    @Test(arguments: samples)
    func smolLM2(_ s: Sample) throws {
        let tok = try #require(Self.smol)
        let ids = tok.encode(s.text)
        #expect(ids == s.smolIDs)
        #expect(tok.tokens(ids) == s.smolTokens)
        #expect(tok.decode(s.smolIDs) == s.smolDecode)
        #expect(tok.decode(ids) == s.text, "round trip")
        let plain = tok.encode(s.text, addSpecialTokens: true, parseSpecial: false)
        #expect(plain == (s.smolIDsSplitSpecial ?? s.smolIDs))
        #expect(tok.decode(plain) == s.text, "round trip without special parsing")
    }

    @Test(arguments: samples)
    func miniLM(_ s: Sample) throws {
        for (source, tok) in [("vocab.txt", Self.miniVocab as (any Tokenizer)?), ("tokenizer.json", Self.miniJSON)] {
            let t = try #require(tok, "\(source) did not load")
            let ids = t.encode(s.text)
            #expect(ids == s.miniIDs, "\(source)")
            #expect(t.tokens(ids) == s.miniTokens, "\(source)")
            #expect(t.decode(s.miniIDs, skipSpecial: true) == s.miniDecode, "\(source)")
        }
    }

    /// model.json: tokenization samples and the chat template rendering.
    @Test func smolLM2ModelSamplesAndChat() throws {
        let tok = try #require(Self.smol)
        let json = try Fixtures.json("model.json")
        let samples = try #require((json["tokenizer"] as? [String: Any])?["samples"] as? [String: [String: Any]])
        for (text, want) in samples {
            #expect(tok.encode(text) == want["ids"] as? [Int], "\(text)")
        }
        let chat = try #require(json["chat"] as? [String: Any])
        let messages = try #require(chat["messages"] as? [[String: String]]).map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
        let template = try #require(tok.chatML)
        let rendered = template.render(messages, addGenerationPrompt: true)
        #expect(rendered == chat["rendered"] as? String)
        #expect(tok.encode(rendered) == chat["ids"] as? [Int])
        // A conversation with its own system message gets no default one.
        let own = template.render([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")],
                                  addGenerationPrompt: false)
        #expect(own == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
        #expect(ChatMLTemplate(jinja: "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }}{% endfor %}") == nil)
    }

    @Test func generationPromptsTokenize() throws {
        let tok = try #require(Self.smol)
        let json = try Fixtures.json("generation.json")
        for p in try #require(json["prompts"] as? [[String: Any]]) {
            for mode in ["raw", "chat"] {
                let entry = try #require(p[mode] as? [String: Any])
                let text = try #require(entry["prompt_text"] as? String)
                #expect(tok.encode(text) == entry["prompt_ids"] as? [Int], "\(p["name"] ?? "?") \(mode)")
                if let newIDs = entry["new_ids"] as? [Int], let newText = entry["new_text"] as? String {
                    #expect(tok.decode(newIDs) == newText, "\(p["name"] ?? "?") \(mode) continuation")
                }
            }
        }
    }

    /// The same vocabulary and merges written as a Hugging Face tokenizer.json give the same ids.
    @Test func bpeFromTokenizerJSON() throws {
        let smol = try #require(Self.smol)
        let gguf = try GGUFFile(path: Fixtures.path("smollm2_tokenizer.gguf"))
        let merges = try gguf.stringArray("tokenizer.ggml.merges")
        var vocab: [String: Int] = [:]
        for (i, t) in smol.vocabulary.enumerated() { vocab[t] = i }
        let added = (0...16).map { ["id": $0, "content": smol.vocabulary[$0], "special": true] as [String: Any] }
        let doc: [String: Any] = [
            "added_tokens": added,
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": [
                ["type": "Digits", "individual_digits": true],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]]],
            "model": ["type": "BPE", "vocab": vocab, "merges": merges.enumerated().map { $0.offset % 2 == 0 ? $0.element as Any : $0.element.split(separator: " ").map(String.init) as Any }],
        ]
        let path = try Fixtures.temporaryFile([UInt8](JSONSerialization.data(withJSONObject: doc)), suffix: ".json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tok = try TokenizerLoader.load(tokenizerJSON: path)
        for s in Self.samples {
            #expect(tok.encode(s.text) == s.smolIDs, "\(s.name)")
        }
    }

    /// `ignore_merges`: a piece that is a vocabulary entry is taken whole even when the merges
    /// would build it differently.
    @Test func ignoreMergesTakesWholePieces() throws {
        // Merges build "ab" then "abc" only through "bc": a+bc is never ranked, so plain BPE stops at "a","bc".
        func make(ignore: Bool) throws -> any Tokenizer {
            let vocab = ["a": 0, "b": 1, "c": 2, "bc": 3, "abc": 4]
            let doc: [String: Any] = ["model": ["type": "BPE", "vocab": vocab, "merges": ["b c"], "ignore_merges": ignore],
                                      "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false]]
            let path = try Fixtures.temporaryFile([UInt8](JSONSerialization.data(withJSONObject: doc)), suffix: ".json")
            defer { try? FileManager.default.removeItem(atPath: path) }
            return try TokenizerLoader.load(tokenizerJSON: path)
        }
        #expect(try make(ignore: false).encode("abc") == [0, 3])
        #expect(try make(ignore: true).encode("abc") == [4])
    }

    /// The Llama 3 scanner on hand-derived splits of its regular expression.
    @Test(arguments: [
        ("Hello world", ["Hello", " world"]),
        ("I'M here", ["I", "'M", " here"]),
        ("12345 apples", ["123", "45", " apples"]),
        ("foo!!\n\nbar", ["foo", "!!\n\n", "bar"]),
        ("a  \n  b", ["a", "  \n", " ", " b"]),
        ("(x)", ["(x", ")"]),
        ("tab\tthen", ["tab", "\tthen"]),
        ("end   ", ["end", "   "]),
    ])
    func llama3Split(_ text: String, _ pieces: [String]) {
        #expect(PreTokenizer.llama3.split(text) == pieces)
    }

    @Test func unknownPreTokenizerIsAnError() throws {
        var b = GGUFBuilder()
        b.kv("tokenizer.ggml.model", type: 8, GGUFBuilder.str("gpt2"))
        b.kv("tokenizer.ggml.pre", type: 8, GGUFBuilder.str("mystery"))
        b.kv("tokenizer.ggml.tokens", type: 9, GGUFBuilder.u32(8) + GGUFBuilder.u64(1) + GGUFBuilder.str("a"))
        b.kv("tokenizer.ggml.merges", type: 9, GGUFBuilder.u32(8) + GGUFBuilder.u64(0))
        let f = try RobustnessTests.open(b.build())
        #expect(throws: FormatError.invalidValue(file: "test.gguf", field: "tokenizer.ggml.pre", value: "mystery",
                                                 expected: "a known pre-tokenizer (gpt2, smollm, starcoder, llama-bpe, …)")) {
            try TokenizerLoader.load(gguf: f)
        }
    }

    /// Byte-level BPE is lossless: random text of mixed scripts, spaces, digits, emoji and
    /// control characters decodes back to itself (seeded). SmolLM2's vocabulary lacks the byte
    /// tokens of U+0004, U+0006, U+0013, U+0014, U+0016, U+001D (and of bytes that never occur
    /// in UTF-8 below plane 4); those encode to the unknown id, like Hugging Face's BPE with an unk token.
    @Test func bpeRoundTripsRandomText() throws {
        let tok = try #require(Self.smol)
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0x09...0x0D, 0xA0...0x17F, 0x370...0x3FF, 0x3040...0x30FF,
                                            0x4E00...0x4FFF, 0xAC00...0xAC40, 0x1F300...0x1F64F, 0x2000...0x206F, 0x0...0x3, 0x7...0x12, 0x17...0x1C, 0x1E...0x1F]
        var rng = SplitMix(seed: 42)
        for _ in 0..<300 {
            var text = String.UnicodeScalarView()
            for _ in 0..<rng.below(40) {
                let pool = pools[rng.below(pools.count)]
                if let s = Unicode.Scalar(pool.lowerBound + UInt32(rng.below(Int(pool.upperBound - pool.lowerBound) + 1))) {
                    text.append(s)
                }
            }
            let s = String(text)
            let ids = tok.encode(s, addSpecialTokens: false, parseSpecial: false)
            #expect(tok.decode(ids) == s)
            #expect(ids.allSatisfy { !tok.isSpecial($0) })
        }
        #expect(tok.encode("a\u{4}b", addSpecialTokens: false, parseSpecial: false) == [tok.id(of: "a")!, 0, tok.id(of: "b")!])
    }

    /// A BERT vocabulary stored in GGUF metadata tokenizes like vocab.txt.
    @Test func wordPieceFromGGUF() throws {
        let mini = try #require(Self.miniVocab)
        var b = GGUFBuilder()
        b.kv("tokenizer.ggml.model", type: 8, GGUFBuilder.str("bert"))
        b.kv("tokenizer.ggml.tokens", type: 9, GGUFBuilder.u32(8) + GGUFBuilder.u64(UInt64(mini.vocabularySize))
             + mini.vocabulary.flatMap(GGUFBuilder.str))
        let types = (0..<mini.vocabularySize).map { [0, 100, 101, 102, 103].contains($0) ? Int32(3) : 1 }
        b.kv("tokenizer.ggml.token_type", type: 9, GGUFBuilder.u32(5) + GGUFBuilder.u64(UInt64(types.count))
             + types.flatMap { GGUFBuilder.u32(UInt32(bitPattern: $0)) })
        b.kv("tokenizer.ggml.unknown_token_id", type: 4, GGUFBuilder.u32(100))
        let tok = try TokenizerLoader.load(gguf: RobustnessTests.open(b.build()))
        for s in Self.samples {
            #expect(tok.encode(s.text) == s.miniIDs, "\(s.name)")
        }
    }

    /// The committed tokenizer-only GGUF holds exactly the model's tokenizer.
    @Test(.enabled(if: Fixtures.smolLM2 != nil, "GLASSBOX_SMOLLM2_GGUF does not name the SmolLM2 GGUF"))
    func fixtureMatchesTheModelFile() throws {
        let model = try GGUFFile(path: try #require(Fixtures.smolLM2))
        let fixture = try GGUFFile(path: Fixtures.path("smollm2_tokenizer.gguf"))
        for key in fixture.metadataKeys {
            #expect(model.value(key) == fixture.value(key), "\(key)")
        }
        #expect(model.metadataKeys.filter { $0.hasPrefix("tokenizer.") }.count == fixture.metadataKeys.count - 1)
    }

    /// Streaming decode gives the same text as decoding at once, releasing a character only
    /// when its last byte has arrived.
    @Test func streamingDecode() throws {
        let tok = try #require(Self.smol)
        for s in Self.samples {
            var stream = ByteLevelBPETokenizer.StreamDecoder(tok)
            var text = ""
            for id in s.smolIDs {
                let piece = stream.next(id)
                #expect(!piece.contains("\u{FFFD}"), "\(s.name): partial character released")
                text += piece
            }
            text += stream.finish()
            #expect(text == s.smolDecode, "\(s.name)")
        }
        // " 🍕" is split over three byte-level tokens in SmolLM2: "ĠðŁ" (space, F0 9F), "į" (8D), "ķ" (95).
        var stream = ByteLevelBPETokenizer.StreamDecoder(tok)
        #expect(stream.next(15107) == " ")
        #expect(stream.next(231) == "")
        #expect(stream.next(239) == "🍕")
        #expect(stream.finish() == "")
    }

    @Test func brokenTokenizerJSONGivesClearErrors() throws {
        let cases: [(String, String)] = [
            ("[1]", "document"),
            (#"{"model": {"type": "Unigram", "vocab": []}}"#, "model.type"),
            (#"{"model": {"type": "BPE", "vocab": {"a": -1}}}"#, "model.vocab[a]"),
            (#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}, "pre_tokenizer": {"type": "ByteLevel"}}"#, "model.merges[0]"),
            (#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Whitespace"}}"#, "pre_tokenizer.type"),
            (#"{"model": {"type": "WordPiece", "vocab": {"a": 0}}}"#, "unknown token [UNK]"),
            (#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": true}, "pre_tokenizer": {"type": "ByteLevel"}}"#, "model.byte_fallback"),
            (#"{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "added_tokens": [{"content": "x"}]}"#, "added_tokens[0]"),
        ]
        for (json, field) in cases {
            let path = try Fixtures.temporaryFile(Array(json.utf8), suffix: ".json")
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                _ = try TokenizerLoader.load(tokenizerJSON: path)
                Issue.record("\(json): loaded without error")
            } catch let e as FormatError {
                switch e {
                case let .badJSON(_, f, _), let .missing(_, f, _): #expect(f == field, "\(e)")
                default: Issue.record("\(json): unexpected \(e)")
                }
            }
        }
    }
}
