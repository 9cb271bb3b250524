import Foundation

/// One ranked search result.
public struct SearchHit: Sendable, Equatable, Codable {
    public var id: String
    public var title: String
    public var year: Int?
    public var score: Double
}

/// A BM25 index over title (weight 3), abstract with authors, and annotation (body, families, methods, tags),
/// precomputed once so a query touches only the postings of its terms.
public struct SearchIndex: Sendable {
    public static let k1: Float = 1.2
    public static let b: Float = 0.75
    static let titleWeight: Float = 3

    private let ids: [String]
    private let titles: [String]
    private let years: [Int?]
    private let vocabulary: [String: Int]
    /// Per term: documents containing it and their field-weighted term frequencies.
    private let postingDocs: [[Int32]]
    private let postingTF: [[Float]]
    /// Per document: 1 − b + b·|d|/avgdl, precomputed.
    private let lengthNorm: [Float]

    public init(papers: [Paper]) {
        var vocabulary: [String: Int] = [:]
        var docs: [[Int32]] = []
        var tfs: [[Float]] = []
        var lengths: [Float] = []
        lengths.reserveCapacity(papers.count)
        for (d, p) in papers.enumerated() {
            var counts: [Int: Float] = [:]
            var length: Float = 0
            func add(_ text: String, weight: Float) {
                for token in Tokenizer.terms(text) {
                    let t: Int
                    if let existing = vocabulary[token] { t = existing } else {
                        t = docs.count; vocabulary[token] = t; docs.append([]); tfs.append([])
                    }
                    counts[t, default: 0] += weight
                    length += weight
                }
            }
            add(p.title, weight: Self.titleWeight)
            add(p.abstract + " " + p.authors.joined(separator: " "), weight: 1)
            add(p.body + " " + (p.families + p.methods + p.tags).joined(separator: " "), weight: 1)
            for (t, c) in counts.sorted(by: { $0.key < $1.key }) {
                docs[t].append(Int32(d)); tfs[t].append(c)
            }
            lengths.append(length)
        }
        let avg = lengths.isEmpty ? 1 : max(1, lengths.reduce(0, +) / Float(lengths.count))
        self.ids = papers.map(\.id)
        self.titles = papers.map(\.title)
        self.years = papers.map(\.year)
        self.vocabulary = vocabulary
        self.postingDocs = docs
        self.postingTF = tfs
        self.lengthNorm = lengths.map { 1 - Self.b + Self.b * $0 / avg }
    }

    public var count: Int { ids.count }

    /// The `limit` best papers for `query` (BM25; ties broken by id). Terms absent from the catalog are ignored.
    public func search(_ query: String, limit: Int = 20) -> [SearchHit] {
        let n = ids.count
        guard n > 0, limit > 0 else { return [] }
        var terms: [Int] = []
        for token in Tokenizer.terms(query) {
            if let t = vocabulary[token], !terms.contains(t) { terms.append(t) }
        }
        if terms.isEmpty { return [] }
        var scores = [Float](repeating: 0, count: n)
        var touched: [Int32] = []
        let k1 = Self.k1
        scores.withUnsafeMutableBufferPointer { score in
            lengthNorm.withUnsafeBufferPointer { norm in
                for t in terms {
                    let df = Float(postingDocs[t].count)
                    let idf = logf(1 + (Float(n) - df + 0.5) / (df + 0.5))
                    postingDocs[t].withUnsafeBufferPointer { docs in
                        postingTF[t].withUnsafeBufferPointer { tf in
                            for i in 0..<docs.count {
                                let d = Int(docs[i])
                                if score[d] == 0 { touched.append(docs[i]) }
                                let f = tf[i]
                                score[d] += idf * f * (k1 + 1) / (f + k1 * norm[d])
                            }
                        }
                    }
                }
            }
        }
        // Partial selection: keep the best `limit` in a small sorted buffer.
        var best: [(Float, Int)] = []
        best.reserveCapacity(limit + 1)
        for d32 in touched {
            let d = Int(d32)
            let s = scores[d]
            if best.count == limit, let last = best.last, !(s > last.0 || (s == last.0 && ids[d] < ids[last.1])) { continue }
            var i = best.count
            while i > 0, s > best[i - 1].0 || (s == best[i - 1].0 && ids[d] < ids[best[i - 1].1]) { i -= 1 }
            best.insert((s, d), at: i)
            if best.count > limit { best.removeLast() }
        }
        return best.map { SearchHit(id: ids[$0.1], title: titles[$0.1], year: years[$0.1], score: Double($0.0)) }
    }
}

enum Tokenizer {
    static let stopwords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into", "is", "it", "its",
        "of", "on", "or", "that", "the", "their", "this", "to", "we", "was", "were", "which", "with", "our", "can", "these",
        "s", "t",  // from possessives and contractions split at the apostrophe
    ]

    /// Lower-cased alphanumeric words, stop words dropped, with a light plural stemmer.
    /// ASCII text is scanned byte by byte; words with other characters take the Unicode path.
    static func terms(_ text: String) -> [String] {
        var out: [String] = []
        var word: [UInt8] = []
        word.reserveCapacity(32)
        var nonASCII = false
        func emit(_ w: String) {
            if !w.isEmpty, !stopwords.contains(w) { out.append(stem(w)) }
        }
        func flush() {
            if word.isEmpty { return }
            let w = String(decoding: word, as: UTF8.self)
            if nonASCII {
                var current = ""
                for ch in w.lowercased().unicodeScalars {
                    if CharacterSet.alphanumerics.contains(ch) { current.unicodeScalars.append(ch) } else { emit(current); current = "" }
                }
                emit(current)
            } else {
                emit(w)
            }
            word.removeAll(keepingCapacity: true)
            nonASCII = false
        }
        for b in text.utf8 {
            switch b {
            case 97...122, 48...57: word.append(b)
            case 65...90: word.append(b + 32)
            case 0x80...: word.append(b); nonASCII = true
            default: flush()
            }
        }
        flush()
        return out
    }

    /// heads → head, studies → study, classes → class; short words and -ss/-us/-is endings stay.
    static func stem(_ w: String) -> String {
        guard w.count > 3, w.hasSuffix("s") else { return w }
        if w.hasSuffix("ss") || w.hasSuffix("us") || w.hasSuffix("is") { return w }
        if w.hasSuffix("ies"), w.count > 4 { return String(w.dropLast(3)) + "y" }
        if w.hasSuffix("sses") || w.hasSuffix("xes") || w.hasSuffix("ches") || w.hasSuffix("shes") { return String(w.dropLast(2)) }
        return String(w.dropLast())
    }
}
