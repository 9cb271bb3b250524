import Foundation
import Yams

/// Loads every `*.yaml` manifest of a directory (sorted by file name), checking that each
/// id matches its file name and is unique, and — with a registry — that each manifest
/// fits its recipe. All problems are reported together.
public func loadManifests(directory: URL, registry: RecipeRegistry?) throws -> [Manifest] {
    let files: [URL]
    do {
        files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "yaml" || $0.pathExtension == "yml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    } catch {
        throw ReproductionError.io(path: directory.path, reason: "cannot list the manifests: \(error.localizedDescription)")
    }
    var manifests: [Manifest] = []
    var errors: [ReproductionError] = []
    let folder = directory.lastPathComponent
    for url in files {
        let display = "\(folder)/\(url.lastPathComponent)"
        do {
            let m = try Manifest.load(contentsOf: url, displayName: display)
            let slug = url.deletingPathExtension().lastPathComponent
            if m.id != slug {
                throw ReproductionError.invalidManifest(file: display, field: "id", problem: "expected '\(slug)' (the file name) but found '\(m.id)'")
            }
            if let registry { _ = try registry.validate(m) }
            manifests.append(m)
        } catch let e as ReproductionError {
            errors.append(e)
        }
    }
    let byID = Dictionary(grouping: manifests, by: \.id)
    for (id, group) in byID.sorted(by: { $0.key < $1.key }) where group.count > 1 {
        errors.append(.duplicateTarget(id: id, files: group.map(\.file)))
    }
    if errors.count == 1 { throw errors[0] }
    if !errors.isEmpty { throw ReproductionError.manyInvalidManifests(errors) }
    return manifests
}

/// Which targets to run: `[SLUG…] [--tier] [--paper] [--family] [--shard K/N]`.
public struct TargetSelection: Sendable, Equatable {
    public var slugs: [String]
    /// `fast`: the fast tier only; `full`: every target (the fast tier is part of the full suite); nil: every target.
    public var tier: Tier?
    public var paper: String?
    public var family: String?
    /// 1-based shard index K of N: targets at sorted positions i with i mod N = K − 1.
    public var shard: Shard?

    public struct Shard: Sendable, Equatable {
        public var index: Int
        public var count: Int

        /// Parses `K/N` with 1 ≤ K ≤ N.
        public init(parsing text: String) throws {
            let parts = text.split(separator: "/")
            guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 1, k <= n else {
                throw ReproductionError.selection("--shard: expected K/N with 1 ≤ K ≤ N (got '\(text)')")
            }
            index = k
            count = n
        }

        public init(index: Int, count: Int) {
            self.index = index
            self.count = count
        }
    }

    public init(slugs: [String] = [], tier: Tier? = nil, paper: String? = nil, family: String? = nil, shard: Shard? = nil) {
        self.slugs = slugs
        self.tier = tier
        self.paper = paper
        self.family = family
        self.shard = shard
    }

    /// The selected manifests, sorted by id. `families` gives a paper's families
    /// (from its catalog entry); a manifest's own `families` count too.
    /// Unknown slugs are an error; an empty selection is not (the caller decides).
    public func apply(to manifests: [Manifest], families: (String) -> [String] = { _ in [] }) throws -> [Manifest] {
        let known = Set(manifests.map(\.id))
        let unknown = slugs.filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw ReproductionError.selection("no target named \(unknown.map { "'\($0)'" }.joined(separator: ", ")) in reproductions/")
        }
        var list = manifests.sorted { $0.id < $1.id }
        if !slugs.isEmpty { list = list.filter { slugs.contains($0.id) } }
        if tier == .fast { list = list.filter { $0.tier == .fast } }
        if let paper { list = list.filter { $0.paper == paper } }
        if let family { list = list.filter { ($0.families + families($0.paper)).contains(family) } }
        if let shard { list = list.enumerated().filter { $0.offset % shard.count == shard.index - 1 }.map(\.element) }
        return list
    }
}

/// Reads the `families` and `reproductions` of papers from the catalog's front matter
/// (`papers/<id>.md`, `/` in old-style ids written as `_`). Missing files give no families.
public struct PaperFamilies: Sendable {
    public var papersDirectory: URL
    public init(papersDirectory: URL) { self.papersDirectory = papersDirectory }

    public func families(of paper: String) -> [String] {
        frontMatterList("families", of: paper) ?? []
    }

    /// The paper file's `reproductions:` slugs; nil when the paper has no file (or no front matter).
    public func reproductions(of paper: String) -> [String]? {
        guard let node = frontMatter(of: paper) else { return nil }
        guard let list = node["reproductions"], case .sequence(let s) = list else { return [] }
        return s.compactMap(\.string)
    }

    /// Every paper file's id (front matter `id`, else the file name) with its `reproductions:` slugs.
    public func allReproductions() -> [String: [String]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: papersDirectory.path)) ?? []
        var lists: [String: [String]] = [:]
        for name in names where name.hasSuffix(".md") && name != "README.md" {
            let stem = String(name.dropLast(3))
            guard let node = frontMatter(file: papersDirectory.appendingPathComponent(name)) else { continue }
            let id = node["id"]?.string ?? stem.replacingOccurrences(of: "_", with: "/")
            if let list = node["reproductions"], case .sequence(let s) = list {
                lists[id] = s.compactMap(\.string)
            } else {
                lists[id] = []
            }
        }
        return lists
    }

    func frontMatterList(_ key: String, of paper: String) -> [String]? {
        guard let node = frontMatter(of: paper), let value = node[key], case .sequence(let s) = value else { return nil }
        return s.compactMap(\.string)
    }

    func frontMatter(of paper: String) -> Yams.Node.Mapping? {
        frontMatter(file: papersDirectory.appendingPathComponent(paper.replacingOccurrences(of: "/", with: "_") + ".md"))
    }

    func frontMatter(file url: URL) -> Yams.Node.Mapping? {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
        let lines = text.components(separatedBy: "\n")
        guard lines.first?.trimmingCharacters(in: .whitespaces) == "---",
              let end = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) else { return nil }
        let yaml = lines[1..<end].joined(separator: "\n")
        guard let node = try? Yams.compose(yaml: yaml), case .mapping(let m) = node else { return nil }
        return m
    }
}
