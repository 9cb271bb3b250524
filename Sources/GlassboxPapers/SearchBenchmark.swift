import Foundation

/// Workloads for the benchmark harness (`Benchmarks/`); not used by tests or the CLI.
public enum PapersBenchmark {
    /// Timings of one search benchmark run.
    public struct SearchTimings: Sendable {
        public var papers: Int
        public var indexBuildSeconds: Double
        /// One entry per query run.
        public var querySeconds: [Double]
        public var medianQuerySeconds: Double { querySeconds.sorted()[querySeconds.count / 2] }
        public var maxQuerySeconds: Double { querySeconds.max() ?? 0 }
    }

    /// `count` generated papers with titles, abstracts and annotations drawn from an
    /// interpretability vocabulary; the same seed gives the same catalog.
    public static func syntheticPapers(count: Int, seed: UInt64 = 0) -> [Paper] {
        var rng = SplitMix64(seed: seed)
        let vocab = vocabulary
        func words(_ n: Int) -> String {
            (0..<n).map { _ -> String in
                // Zipf-like: favour the head of the vocabulary.
                let u = Double(rng.next() >> 11) / Double(1 << 53)
                return vocab[min(vocab.count - 1, Int(pow(u, 2.5) * Double(vocab.count)))]
            }.joined(separator: " ")
        }
        let families = ["superposition", "dictionary-learning", "circuits", "lenses", "attention", "attribution",
                        "causal-intervention", "probing-steering", "grokking"]
        return (0..<count).map { i in
            let yymm = 1501 + (i / 90_000) * 100 + (i / 9_000) % 12
            let id = String(format: "%04d.%05d", yymm, i % 90_000 + 1)
            let body = "## Summary\n\n\(words(40)).\n\n## Key claims\n\n- \(words(25)).\n\n## Method\n\n\(words(30)).\n\n## Reproduction notes\n\n\(words(15)).\n"
            return Paper(id: id, version: 1, title: words(8).capitalized, authors: ["Author \(i)"],
                         published: "20\(String(yymm).prefix(2))-01-01T00:00:00Z", updated: nil, primaryCategory: "cs.LG",
                         categories: ["cs.LG"], abstract: words(150) + ".", families: [families[Int(rng.next() % 9)]],
                         methods: [vocab[Int(rng.next() % 40)]], body: body)
        }
    }

    /// Builds the index over `count` synthetic papers and times each of `queries`, `repeats` times.
    public static func measureSearch(count: Int = 10_000, seed: UInt64 = 0, repeats: Int = 5,
                                     queries: [String] = defaultQueries) -> SearchTimings {
        let papers = syntheticPapers(count: count, seed: seed)
        let t0 = DispatchTime.now().uptimeNanoseconds
        let index = SearchIndex(papers: papers)
        let build = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        var times: [Double] = []
        var sink = 0
        for _ in 0..<repeats {
            for q in queries {
                let s = DispatchTime.now().uptimeNanoseconds
                sink &+= index.search(q, limit: 20).count
                times.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9)
            }
        }
        precondition(sink >= 0)
        return SearchTimings(papers: count, indexBuildSeconds: build, querySeconds: times)
    }

    public static let defaultQueries = [
        "sparse autoencoder features", "induction heads in attention", "logit lens", "causal tracing factual recall",
        "integrated gradients saliency sanity checks", "superposition toy models polytope", "the model",
    ]

    static let vocabulary: [String] = [
        "model", "feature", "layer", "attention", "head", "residual", "stream", "neuron", "activation", "circuit",
        "sparse", "autoencoder", "dictionary", "superposition", "probe", "linear", "direction", "steering", "vector",
        "patching", "causal", "tracing", "attribution", "gradient", "integrated", "saliency", "lens", "logit", "tuned",
        "induction", "grokking", "modular", "addition", "fourier", "transformer", "language", "token", "embedding",
        "unembedding", "interpretability", "mechanistic", "polysemantic", "monosemantic", "polytope", "geometry",
        "truth", "refusal", "sink", "rollout", "shap", "lime", "deeplift", "smoothgrad", "sanity", "checks", "baseline",
        "path", "integral", "convergence", "delta", "kl", "divergence", "loss", "training", "dynamics", "phase",
        "transition", "memorization", "generalization", "weight", "decay", "mlp", "factual", "recall", "knowledge",
        "editing", "rome", "indirect", "object", "identification", "name", "mover", "copy", "suppression", "previous",
        "duplicate", "token", "positional", "rotary", "norm", "bias", "variance", "seed", "replication", "benchmark",
        "dataset", "synthetic", "toy", "small", "large", "scale", "compute", "efficient", "approximation", "first",
        "order", "taylor", "expansion", "contrast", "consistent", "search", "unsupervised", "latent", "knowledge",
        "belief", "honest", "deception", "safety", "alignment", "reward", "policy", "vision", "image", "pixel",
    ]
}

/// SplitMix64: a small seeded generator for reproducible synthetic data.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
