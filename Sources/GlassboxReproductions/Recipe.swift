import Foundation
import GlassboxModels
import GlassboxReports

/// A recipe turns a manifest into a method call: it reads its parameters from the
/// context, runs the method, and returns named metrics (plus figures through the context).
///
/// A new recipe is one file in `Recipes/` with a type conforming to `Recipe` and one
/// line in its family's list (e.g. `ToyRecipes.all`). Recipes must be deterministic given `context.seed`.
public protocol Recipe: Sendable {
    /// The name manifests use in `recipe:`, e.g. `superposition.basic`.
    static var name: String { get }
    /// One sentence: what the recipe runs.
    static var summary: String { get }
    /// Every parameter it reads, with defaults (nil = required) and descriptions.
    static var parameters: [RecipeParameter] { get }
    /// Every metric it may return.
    static var metrics: [RecipeMetric] { get }
    /// Runs the method. Throw `TargetSkipped` (or use `context.requireModel()`) when the
    /// target cannot run here; any other error fails the target.
    static func run(_ context: RecipeContext) throws -> RecipeOutput
}

/// A parameter a recipe reads.
public struct RecipeParameter: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case int, number, bool, string
        case intList = "list of int"
        case numberList = "list of number"
        case stringList = "list of string"
        /// Any YAML value; the recipe checks it.
        case any

        func accepts(_ v: ParameterValue) -> Bool {
            switch self {
            case .int: return v.intValue != nil
            case .number: return v.doubleValue != nil
            case .bool: return v.boolValue != nil
            case .string: return v.stringValue != nil
            case .intList: return v.listValue.map { $0.allSatisfy { $0.intValue != nil } } ?? false
            case .numberList: return v.listValue.map { $0.allSatisfy { $0.doubleValue != nil } } ?? false
            case .stringList: return v.listValue.map { $0.allSatisfy { $0.stringValue != nil } } ?? false
            case .any: return true
            }
        }
    }

    public var name: String
    public var kind: Kind
    /// `nil` means the manifest must give it.
    public var defaultValue: ParameterValue?
    public var description: String

    public init(_ name: String, _ kind: Kind, default defaultValue: ParameterValue? = nil, _ description: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.description = description
    }
}

/// A metric a recipe reports.
public struct RecipeMetric: Sendable, Equatable {
    public var name: String
    public var description: String
    public init(_ name: String, _ description: String) {
        self.name = name
        self.description = description
    }
}

/// What a recipe returns.
public struct RecipeOutput: Sendable, Equatable {
    public var metrics: [String: Double]
    /// Short Markdown notes for the report (e.g. what was observed along the way).
    public var notes: [String]
    public init(metrics: [String: Double], notes: [String] = []) {
        self.metrics = metrics
        self.notes = notes
    }
}

/// A figure produced by a recipe; written to `reports/figures/<target>-<name>.svg`.
public struct Figure: Sendable {
    /// Lower-case letters, digits and '-'.
    public var name: String
    public var caption: String
    public var svg: String
    public init(name: String, caption: String, svg: String) {
        self.name = name
        self.caption = caption
        self.svg = svg
    }
}

/// The parameters of one run: the manifest's values over the recipe's defaults,
/// already checked against the recipe's schema.
public struct ResolvedParameters: Sendable, Equatable {
    public let recipe: String
    public let values: [String: ParameterValue]

    public init(recipe: String, values: [String: ParameterValue]) {
        self.recipe = recipe
        self.values = values
    }

    public func value(_ name: String) throws -> ParameterValue {
        guard let v = values[name] else {
            throw ReproductionError.parameter(recipe: recipe, name: name, problem: "not declared by the recipe (declared: \(values.keys.sorted().joined(separator: ", ")))")
        }
        return v
    }

    private func typed<T>(_ name: String, _ what: String, _ get: (ParameterValue) -> T?) throws -> T {
        let v = try value(name)
        guard let t = get(v) else {
            throw ReproductionError.parameter(recipe: recipe, name: name, problem: "expected \(what) (got \(v))")
        }
        return t
    }

    public func int(_ name: String) throws -> Int { try typed(name, "an integer") { $0.intValue } }
    public func double(_ name: String) throws -> Double { try typed(name, "a number") { $0.doubleValue } }
    public func bool(_ name: String) throws -> Bool { try typed(name, "true or false") { $0.boolValue } }
    public func string(_ name: String) throws -> String { try typed(name, "text") { $0.stringValue } }
    public func ints(_ name: String) throws -> [Int] {
        try typed(name, "a list of integers") { v in v.listValue.flatMap { l in l.compactMap(\.intValue).count == l.count ? l.compactMap(\.intValue) : nil } }
    }
    public func doubles(_ name: String) throws -> [Double] {
        try typed(name, "a list of numbers") { v in v.listValue.flatMap { l in l.compactMap(\.doubleValue).count == l.count ? l.compactMap(\.doubleValue) : nil } }
    }
    public func strings(_ name: String) throws -> [String] {
        try typed(name, "a list of text") { v in v.listValue.flatMap { l in l.compactMap(\.stringValue).count == l.count ? l.compactMap(\.stringValue) : nil } }
    }
}

/// Whether a model can be had on this machine.
public enum ModelAvailability: Sendable, Equatable {
    /// Available; the file or folder to read, or nil for models the recipe builds itself (toy models).
    case available(URL?)
    case unavailable(reason: String)
}

/// Finds models by the manifest's `model:` name. The runner asks it; recipes call
/// `context.requireModel()`.
public protocol ModelResolver: Sendable {
    func resolve(_ model: String) -> ModelAvailability
}

/// The resolver the CLI uses: `toy` / `toy-*` are always available (trained from the
/// seed); an existing `.gguf` / `.safetensors` path or folder is used as is; other
/// names go to `registryLookup` (the model registry), unavailable without one.
public struct DefaultModelResolver: ModelResolver {
    public var baseDirectory: URL
    public var registryLookup: (@Sendable (String) -> ModelAvailability)?

    public init(baseDirectory: URL, registryLookup: (@Sendable (String) -> ModelAvailability)? = nil) {
        self.baseDirectory = baseDirectory
        self.registryLookup = registryLookup
    }

    public func resolve(_ model: String) -> ModelAvailability {
        if model == "toy" || model.hasPrefix("toy-") { return .available(nil) }
        let looksLikePath = model.contains("/") || model.hasSuffix(".gguf") || model.hasSuffix(".safetensors")
        if looksLikePath {
            let url = model.hasPrefix("/") ? URL(fileURLWithPath: model) : baseDirectory.appendingPathComponent(model)
            return FileManager.default.fileExists(atPath: url.path)
                ? .available(url) : .unavailable(reason: "model file '\(model)' does not exist")
        }
        if let registryLookup { return registryLookup(model) }
        return Self.registry(model, cache: .default)
    }

    /// A registry model is available when it is in `cache` (`glassbox models fetch` puts it
    /// there; `make reproduce` and `make test` fetch every registry model first).
    public static func registry(_ model: String, cache: ModelCache) -> ModelAvailability {
        guard let entry = ModelRegistry.entry(model) else {
            return .unavailable(reason: "model '\(model)' is neither a toy model, a file, nor a registry model (known: \(ModelRegistry.names.joined(separator: ", ")))")
        }
        guard cache.isCached(entry) else {
            return .unavailable(reason: "model '\(model)' is not in the cache \(cache.root) (fetch it with `glassbox models fetch \(model)`)")
        }
        return .available(URL(fileURLWithPath: cache.loadPath(entry)))
    }
}

/// A resolver from a fixed table (tests, or a caller that already knows its models).
public struct StaticModelResolver: ModelResolver {
    public var models: [String: ModelAvailability]
    public init(_ models: [String: ModelAvailability]) { self.models = models }
    public func resolve(_ model: String) -> ModelAvailability {
        models[model] ?? .unavailable(reason: "model '\(model)' is not available")
    }
}

/// What a recipe sees of its run: parameters, seed, model, progress and figure sinks.
public final class RecipeContext: @unchecked Sendable {
    public let targetID: String
    public let recipe: String
    public let parameters: ResolvedParameters
    public let seed: UInt64
    /// The manifest's `model:` name.
    public let model: String
    /// The manifest's expectations (e.g. to draw the published value into a figure).
    public let expectations: [Expectation]
    private let resolver: any ModelResolver
    private let progressSink: @Sendable (Double, String) -> Void
    private let lock = NSLock()
    private var collectedFigures: [Figure] = []

    public init(targetID: String, recipe: String, parameters: ResolvedParameters, seed: UInt64, model: String,
                expectations: [Expectation] = [], resolver: any ModelResolver,
                progress: @escaping @Sendable (Double, String) -> Void = { _, _ in }) {
        self.expectations = expectations
        self.targetID = targetID
        self.recipe = recipe
        self.parameters = parameters
        self.seed = seed
        self.model = model
        self.resolver = resolver
        self.progressSink = progress
    }

    /// The model's location (nil for toy models), or throws `TargetSkipped` with the reason.
    @discardableResult
    public func requireModel() throws -> URL? {
        switch resolver.resolve(model) {
        case .available(let url): return url
        case .unavailable(let reason): throw TargetSkipped(reason)
        }
    }

    /// Loads the manifest's model (memory-mapped once per process and shared between
    /// targets), or throws `TargetSkipped` when it cannot be had here.
    public func loadModel() throws -> LoadedModel {
        guard let url = try requireModel() else {
            throw ReproductionError.parameter(recipe: recipe, name: "model", problem: "'\(model)' is a toy model; this recipe needs a real model (a registry name or a .gguf / safetensors path)")
        }
        return try LoadedModelCache.shared.load(path: url.path, name: model)
    }

    /// A file shipped under the repository's `data/` folder (e.g. `"corpus/wiki.txt"`),
    /// found from the run's repository root, or throws an error naming the path.
    public func dataFile(_ relativePath: String) throws -> URL {
        var roots: [URL] = []
        if let base = (resolver as? DefaultModelResolver)?.baseDirectory { roots.append(base) }
        return try DataFiles.locate(relativePath, roots: roots)
    }

    /// The published number of the first expectation on `metric`, if it is a number.
    public func published(_ metric: String) -> Double? {
        for e in expectations where e.metric == metric {
            if case .number(let v) = e.published { return v }
        }
        return nil
    }

    /// Reports progress in [0, 1] with a short message ("step 400/10000").
    public func progress(_ fraction: Double, _ message: String = "") {
        progressSink(min(1, max(0, fraction)), message)
    }

    /// Adds a figure (any chart of GlassboxReports). `name` becomes part of the file name.
    public func addFigure(_ name: String, caption: String, chart: any SVGRenderable) throws {
        try addFigure(Figure(name: name, caption: caption, svg: chart.svg()))
    }

    public func addFigure(_ figure: Figure) throws {
        guard !figure.name.isEmpty, figure.name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
            throw ReproductionError.invalidName(recipe: recipe, name: figure.name, problem: "a figure name must be lower-case letters, digits and '-'")
        }
        lock.lock()
        defer { lock.unlock() }
        guard !collectedFigures.contains(where: { $0.name == figure.name }) else {
            throw ReproductionError.invalidName(recipe: recipe, name: figure.name, problem: "figure added twice")
        }
        collectedFigures.append(figure)
    }

    /// The figures added so far, in the order they were added.
    public var figures: [Figure] {
        lock.lock()
        defer { lock.unlock() }
        return collectedFigures
    }
}

/// Models loaded by recipes, kept for the life of the process (they are memory-mapped,
/// so keeping them costs address space, not memory).
final class LoadedModelCache: @unchecked Sendable {
    static let shared = LoadedModelCache()
    private let lock = NSLock()
    private var models: [String: LoadedModel] = [:]

    func load(path: String, name: String) throws -> LoadedModel {
        lock.lock()
        defer { lock.unlock() }
        if let m = models[path] { return m }
        let m = try ModelLoader.load(path: path, name: name)
        models[path] = m
        return m
    }
}

/// Finds the files shipped in the repository's `data/` folder: under `$GLASSBOX_DATA`, under
/// the given roots, under the current directory or one of its parents, and under the source
/// checkout this module was built from.
public enum DataFiles {
    public static func locate(_ relativePath: String, roots: [URL] = []) throws -> URL {
        let fm = FileManager.default
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["GLASSBOX_DATA"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env, isDirectory: true))
        }
        candidates += roots.map { $0.appendingPathComponent("data", isDirectory: true) }
        var dir = URL(fileURLWithPath: fm.currentDirectoryPath, isDirectory: true)
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent("data", isDirectory: true))
            dir = dir.deletingLastPathComponent()
        }
        // Sources/GlassboxReproductions/Recipe.swift -> repository root.
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(checkout.appendingPathComponent("data", isDirectory: true))
        for base in candidates {
            let url = base.appendingPathComponent(relativePath)
            if fm.fileExists(atPath: url.path) { return url }
        }
        throw ReproductionError.missingData(path: "data/" + relativePath,
                                            searched: candidates.map { $0.path })
    }
}
