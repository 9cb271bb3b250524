import Foundation

/// What the runner reports while it works (the CLI turns these into a live display).
public enum RunEvent: Sendable {
    case started(id: String, index: Int, total: Int)
    case progress(id: String, fraction: Double, message: String)
    /// A target is done; its outcome carries the figures, so a caller can write its
    /// report at once (a long run then keeps what it has finished if interrupted).
    case finished(Runner.Outcome)
}

/// Runs targets: resolves parameters, calls the recipe, evaluates the expectations.
public struct Runner: Sendable {
    public var registry: RecipeRegistry
    public var resolver: any ModelResolver
    public var environment: RunEnvironment

    public init(registry: RecipeRegistry, resolver: any ModelResolver, environment: RunEnvironment) {
        self.registry = registry
        self.resolver = resolver
        self.environment = environment
    }

    /// A finished run of one target: its result and the figures the recipe drew.
    public struct Outcome: Sendable {
        public var manifest: Manifest
        public var result: TargetResult
        public var figures: [Figure]
        public var notes: [String] { result.notes }
    }

    /// Runs `manifests` with up to `jobs` at a time; outcomes come back in the input order.
    public func run(_ manifests: [Manifest], jobs: Int = 1,
                    events: @escaping @Sendable (RunEvent) -> Void = { _ in }) async -> [Outcome] {
        let total = manifests.count
        let jobs = max(1, min(jobs, max(total, 1)))
        return await withTaskGroup(of: (Int, Outcome).self) { group in
            var next = 0
            var outcomes: [Outcome?] = Array(repeating: nil, count: total)
            func launch(_ i: Int) {
                let m = manifests[i]
                group.addTask {
                    events(.started(id: m.id, index: i + 1, total: total))
                    let outcome = self.runOne(m) { fraction, message in
                        events(.progress(id: m.id, fraction: fraction, message: message))
                    }
                    events(.finished(outcome))
                    return (i, outcome)
                }
            }
            while next < min(jobs, total) { launch(next); next += 1 }
            for await (i, outcome) in group {
                outcomes[i] = outcome
                if next < total { launch(next); next += 1 }
            }
            return outcomes.compactMap { $0 }
        }
    }

    /// Runs one target synchronously. Never throws: a recipe that cannot run is a skip, a
    /// recipe that fails makes every expectation fail with the error as the reason.
    public func runOne(_ manifest: Manifest, progress: @escaping @Sendable (Double, String) -> Void = { _, _ in }) -> Outcome {
        let clock = ContinuousClock()
        let start = clock.now
        var status: TargetStatus
        var reason: String?
        var metrics: [String: Double] = [:]
        var notes: [String] = []
        var figures: [Figure] = []
        var parameters = manifest.parameters

        do {
            let resolved = try registry.validate(manifest)
            parameters = resolved.values
            let recipe = registry.recipe(named: manifest.recipe)!
            // A target whose model cannot be had is skipped before the recipe runs.
            if case .unavailable(let why) = resolver.resolve(manifest.model) { throw TargetSkipped(why) }
            let context = RecipeContext(targetID: manifest.id, recipe: recipe.name, parameters: resolved, seed: manifest.seed,
                                        model: manifest.model, expectations: manifest.expect, resolver: resolver, progress: progress)
            let output = try recipe.run(context)
            figures = context.figures
            notes = output.notes
            let declared = Set(recipe.metrics.map(\.name))
            if let stray = output.metrics.keys.sorted().first(where: { !declared.contains($0) }) {
                throw ReproductionError.invalidName(recipe: recipe.name, name: stray, problem: "metric returned but not declared in `metrics`")
            }
            metrics = output.metrics
            status = .passed
        } catch let skip as TargetSkipped {
            status = .skipped
            reason = skip.reason
        } catch {
            status = .error
            reason = "\(error)"
        }

        let expectations = manifest.expect.map { e -> ExpectationResult in
            let source = e.source ?? manifest.source
            let base = ExpectationResult(metric: e.metric, published: e.published, check: e.check.description, kind: e.kind,
                                         measured: nil, verdict: .fail, reason: nil, source: source)
            var r = base
            switch status {
            case .skipped:
                r.verdict = .skipped
                r.reason = reason
            case .error:
                r.reason = "recipe failed: \(reason ?? "unknown error")"
            case .passed, .failed:
                if let v = metrics[e.metric] {
                    r.measured = v
                    let ok = e.check.holds(v)
                    r.verdict = ok ? .pass : .fail
                    r.reason = ok ? nil : "measured \(formatMetric(v)), expected \(e.check.description)"
                } else {
                    r.reason = "the recipe did not report metric '\(e.metric)'"
                }
            }
            return r
        }
        if status == .passed && expectations.contains(where: { $0.verdict != .pass }) { status = .failed }

        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let result = TargetResult(
            id: manifest.id, paper: manifest.paper, claim: manifest.claim, recipe: manifest.recipe, model: manifest.model,
            tier: manifest.tier, seed: manifest.seed, parameters: parameters, status: status, reason: reason,
            metrics: metrics, expectations: expectations,
            figures: figures.map { "\(manifest.id)-\($0.name).svg" }, notes: notes,
            durationSeconds: (seconds * 1000).rounded() / 1000, commit: environment.commit, machine: environment.machine)
        return Outcome(manifest: manifest, result: result, figures: figures)
    }
}

/// The `--manifest PATH --json` summary: `{"id", "metrics", "expectations": [{metric, published, measured, verdict}]}`.
public struct ManifestRunSummary: Sendable, Codable, Equatable {
    public struct Item: Sendable, Codable, Equatable {
        public var metric: String
        public var published: PublishedValue
        public var measured: Double?
        public var verdict: Verdict

        enum CodingKeys: String, CodingKey { case metric, published, measured, verdict }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(metric, forKey: .metric)
            try c.encode(published, forKey: .published)
            // `measured` is always present: null when nothing was measured.
            if let measured { try c.encode(measured, forKey: .measured) } else { try c.encodeNil(forKey: .measured) }
            try c.encode(verdict, forKey: .verdict)
        }
    }
    public var id: String
    public var status: TargetStatus
    public var reason: String?
    public var metrics: [String: Double]
    public var expectations: [Item]

    public init(_ result: TargetResult) {
        id = result.id
        status = result.status
        reason = result.reason
        metrics = result.metrics
        expectations = result.expectations.map { Item(metric: $0.metric, published: $0.published, measured: $0.measured, verdict: $0.verdict) }
    }

    public func json() throws -> String {
        let e = ResultsFile.encoder()
        return String(decoding: try e.encode(self), as: UTF8.self)
    }
}
