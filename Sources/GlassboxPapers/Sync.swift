import Foundation

/// What sync or discovery did to one paper.
public struct CatalogChange: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case added, updated, unchanged }
    public var id: String
    public var kind: Kind
    /// The sync fields that changed (empty for unchanged; every written field for added).
    public var fields: [String]
    /// The file name in the catalog.
    public var file: String
    public var title: String
}

/// The outcome of `papers sync`.
public struct SyncReport: Sendable, Equatable, Codable {
    public var changes: [CatalogChange]
    /// Catalog files that did not parse and were left alone.
    public var skipped: [String] = []
    public var added: [CatalogChange] { changes.filter { $0.kind == .added } }
    public var updated: [CatalogChange] { changes.filter { $0.kind == .updated } }
    public var unchanged: [CatalogChange] { changes.filter { $0.kind == .unchanged } }
}

/// Brings catalog metadata in line with arXiv.
public enum CatalogSync {
    /// Syncs the catalog in `directory`:
    /// - `ids`: these papers (versioned ids fetch that version);
    /// - `query`: the papers a `search_query` returns (up to `limit`);
    /// - neither: every arXiv paper already in the catalog.
    ///
    /// New papers are added unannotated (`status: candidate`); existing ones get their sync fields
    /// refreshed and nothing else. A known id whose arXiv title differs is an error. Nothing is
    /// written unless every paper can be written (fetch and parse errors leave the catalog untouched).
    public static func sync(directory: URL, client: ArxivClient, ids: [String] = [], query: String? = nil,
                            limit: Int = 100, dryRun: Bool = false) throws -> SyncReport {
        let catalog = try Catalog(directory: directory)
        let parsedIDs = try ids.map { try PaperID($0) }
        if let bad = parsedIDs.first(where: { !$0.isArxiv }) {
            throw PapersError.invalidID("\(bad.base) (web/ works are not on arXiv and cannot be synced)")
        }
        var entries: [ArxivEntry] = []
        if !parsedIDs.isEmpty { entries += try client.fetch(ids: parsedIDs) }
        if let query, !query.isEmpty { entries += try client.search(query: query, limit: limit) }
        if parsedIDs.isEmpty && (query ?? "").isEmpty {
            let known = catalog.papers.compactMap(\.paperID).filter(\.isArxiv).map(\.unversioned)
            if !known.isEmpty { entries += try client.fetch(ids: known) }
        }
        var report = try apply(entries: entries, to: catalog, dryRun: dryRun)
        report.skipped = catalog.problems.map(\.description)
        return report
    }

    /// Applies fetched entries to a catalog (see `sync`).
    public static func apply(entries: [ArxivEntry], to catalog: Catalog, status: String = "candidate",
                             dryRun: Bool = false) throws -> SyncReport {
        var byID: [String: ArxivEntry] = [:]
        var order: [String] = []
        for e in entries {
            if byID[e.id.base] == nil { order.append(e.id.base) }
            byID[e.id.base] = e
        }
        var writes: [(URL, String)] = []
        var changes: [CatalogChange] = []
        var errors: [PapersError] = []
        for base in order {
            let entry = byID[base]!
            let fields = entry.syncFields
            let url = catalog.url(for: entry.id.unversioned)
            if let file = catalog.file(for: base) {
                if titleKey(file.paper.title) != titleKey(entry.title) {
                    errors.append(.titleMismatch(id: base, catalog: file.paper.title, arxiv: entry.title))
                    continue
                }
                let changed = fields.changedKeys(from: file.paper.syncFields)
                if changed.isEmpty {
                    changes.append(CatalogChange(id: base, kind: .unchanged, fields: [], file: url.lastPathComponent, title: entry.title))
                } else {
                    writes.append((URL(fileURLWithPath: file.path), file.rewriting(syncFields: fields)))
                    changes.append(CatalogChange(id: base, kind: .updated, fields: changed, file: url.lastPathComponent, title: entry.title))
                }
            } else {
                if FileManager.default.fileExists(atPath: url.path) {
                    errors.append(.malformedPaperFile(path: url.path, message: "exists but does not parse; fix it before syncing \(base)"))
                    continue
                }
                writes.append((url, PaperFile.newFile(syncFields: fields, status: status)))
                changes.append(CatalogChange(id: base, kind: .added, fields: SyncFields.keys.filter { SyncFieldWriter.render(key: $0, of: fields) != nil },
                                             file: url.lastPathComponent, title: entry.title))
            }
        }
        if errors.count == 1 { throw errors[0] }
        if errors.count > 1 { throw PapersError.multiple(errors) }
        if !dryRun {
            for (url, text) in writes { try writeAtomically(text, to: url) }
        }
        return SyncReport(changes: changes)
    }

    /// Titles compare on letters and digits only, case-insensitively (TeX, punctuation and line breaks differ).
    static func titleKey(_ s: String) -> String {
        String(s.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }
}
