/// Splits text into the pieces that byte-level BPE encodes one at a time, by hand-written
/// Unicode scanners equivalent to the regular expressions of the GPT-2 family (no regex
/// engine: `NSRegularExpression` is slow and its classes differ from Oniguruma's).
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Every digit on its own (`\p{N}`), then the GPT-2 pattern on the rest
    /// (SmolLM, StarCoder, Refact: llama.cpp's `smollm`, `starcoder`, `refact`).
    case digitsThenGPT2
    /// Llama 3:
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3

    /// The pre-tokenizer for a `tokenizer.ggml.pre` value, or nil if unknown.
    public init?(ggmlPre: String) {
        switch ggmlPre {
        case "default", "gpt2", "gpt-2", "mpt", "olmo", "jais", "trillion": self = .gpt2
        case "smollm", "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "command-r": self = .digitsThenGPT2
        case "llama3", "llama-bpe", "llama-v3", "falcon3", "pixtral", "dbrx", "smaug-bpe": self = .llama3
        default: return nil
        }
    }

    /// The pieces of `text`, in order; their concatenation is `text`.
    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var out: [String] = []
        for range in ranges(scalars) {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[range])
            out.append(String(s))
        }
        return out
    }

    /// Piece boundaries over `scalars`.
    public func ranges(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        switch self {
        case .gpt2:
            Self.gpt2(scalars, 0..<scalars.count, &out)
        case .llama3:
            Self.llama3(scalars, &out)
        case .digitsThenGPT2:
            var start = 0
            var i = 0
            while i < scalars.count {
                if Self.isNumber(scalars[i]) {
                    if start < i { Self.gpt2(scalars, start..<i, &out) }
                    out.append(i..<i + 1)
                    start = i + 1
                }
                i += 1
            }
            if start < scalars.count { Self.gpt2(scalars, start..<scalars.count, &out) }
        }
        return out
    }

    // MARK: Character classes (Unicode general categories, as Oniguruma's \p{L}, \p{N}, \s)

    @inline(__always)
    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return (c.value | 0x20) >= 0x61 && (c.value | 0x20) <= 0x7A }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    @inline(__always)
    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c.value >= 0x30 && c.value <= 0x39 }
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    @inline(__always)
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c.value == 0x20 || (c.value >= 0x09 && c.value <= 0x0D) }
        return c.properties.isWhitespace
    }

    @inline(__always)
    static func isOther(_ c: Unicode.Scalar) -> Bool { !isSpace(c) && !isLetter(c) && !isNumber(c) }

    /// Length of a contraction `'s 't 're 've 'm 'll 'd` at `i` (0 if none).
    static func contraction(_ s: [Unicode.Scalar], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard s[i] == "'", i + 1 < end else { return 0 }
        func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
            caseInsensitive && c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 0x20)! : c
        }
        let a = lower(s[i + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        guard i + 2 < end else { return 0 }
        let b = lower(s[i + 2])
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        return 0
    }

    /// End of the run of `pred` starting at `i`.
    @inline(__always)
    static func run(_ s: [Unicode.Scalar], from i: Int, to end: Int, _ pred: (Unicode.Scalar) -> Bool) -> Int {
        var j = i
        while j < end && pred(s[j]) { j += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` at `i` (a whitespace scalar): a run of whitespace that leaves its last
    /// scalar to the next piece when a non-space follows and the run is longer than one.
    @inline(__always)
    static func whitespace(_ s: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        let j = run(s, from: i, to: end, isSpace)
        return (j < end && j - i > 1) ? j - 1 : j
    }

    static func gpt2(_ s: [Unicode.Scalar], _ range: Range<Int>, _ out: inout [Range<Int>]) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            var j: Int
            let k = contraction(s, i, end, caseInsensitive: false)
            if k > 0 {
                j = i + k
            } else {
                // ` ?X+` for X in letters, numbers, other: the optional space belongs to the piece.
                let start = (s[i] == " " && i + 1 < end && !isSpace(s[i + 1])) ? i + 1 : i
                let c = s[start]
                if isLetter(c) {
                    j = run(s, from: start, to: end, isLetter)
                } else if isNumber(c) {
                    j = run(s, from: start, to: end, isNumber)
                } else if !isSpace(c) {
                    j = run(s, from: start, to: end, isOther)
                } else {
                    j = whitespace(s, i, end)
                }
            }
            out.append(i..<j)
            i = j
        }
    }

    static func llama3(_ s: [Unicode.Scalar], _ out: inout [Range<Int>]) {
        var i = 0
        let end = s.count
        func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\r" || c == "\n" }
        while i < end {
            var j: Int
            let c = s[i]
            let k = contraction(s, i, end, caseInsensitive: true)
            if k > 0 {
                j = i + k
            } else if isLetter(c) {
                j = run(s, from: i, to: end, isLetter)
            } else if !isNewline(c) && !isNumber(c) && i + 1 < end && isLetter(s[i + 1]) {
                // [^\r\n\p{L}\p{N}]?\p{L}+ with one leading scalar (space or punctuation).
                j = run(s, from: i + 1, to: end, isLetter)
            } else if isNumber(c) {
                j = i + 1
                while j < end && j - i < 3 && isNumber(s[j]) { j += 1 }
            } else if isOther(c) || (c == " " && i + 1 < end && isOther(s[i + 1])) {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                let start = c == " " ? i + 1 : i
                j = run(s, from: start, to: end, isOther)
                j = run(s, from: j, to: end, isNewline)
            } else {
                // Whitespace: `\s*[\r\n]+` (up to the last newline of the run), else `\s+(?!\S)|\s+`.
                let wsEnd = run(s, from: i, to: end, isSpace)
                var lastNewline = -1
                for p in i..<wsEnd where isNewline(s[p]) { lastNewline = p }
                if lastNewline >= 0 {
                    j = lastNewline + 1
                } else {
                    j = whitespace(s, i, end)
                }
            }
            out.append(i..<j)
            i = j
        }
    }
}
