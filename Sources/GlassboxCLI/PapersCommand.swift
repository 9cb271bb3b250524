import ArgumentParser
import Foundation
import Glassbox

/// `glassbox papers …`: the literature index. All logic lives in GlassboxPapers; this file parses
/// arguments, prints and sets the exit status (0 ok, 1 failure, 2 could not run).
struct PapersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "papers",
        abstract: "Browse, search, sync and grow the annotated paper catalog (papers/).",
        subcommands: [PapersList.self, PapersShow.self, PapersSearch.self, PapersIndex.self, PapersValidate.self,
                      PapersSync.self, PapersDiscover.self, PapersDismiss.self]
    )
}

struct CatalogOptions: ParsableArguments {
    @Option(name: .long, help: "The catalog directory.")
    var catalog: String = "papers"

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    var directory: URL { URL(fileURLWithPath: catalog, isDirectory: true) }
}

struct NetworkOptions: ParsableArguments {
    @Option(name: .long, help: "The arXiv query API endpoint.")
    var endpoint: String = ArxivClientConfiguration.defaultEndpoint.absoluteString

    @Option(name: .long, help: "Base address of the announcement feeds (categories are appended).")
    var feedEndpoint: String = ArxivClientConfiguration.defaultFeedEndpoint.absoluteString

    @Flag(name: .long, help: "Do not read or write the response cache ($GLASSBOX_CACHE/arxiv).")
    var noCache = false

    @Flag(name: .shortAndLong, help: "Print each request and retry to standard error.")
    var verbose = false

    func client() throws -> ArxivClient {
        guard let api = URL(string: endpoint), ["http", "https"].contains(api.scheme ?? "") else {
            throw PapersError.invalidArgument(name: "--endpoint", value: endpoint, expected: "an http(s) URL")
        }
        guard let feeds = URL(string: feedEndpoint), ["http", "https"].contains(feeds.scheme ?? "") else {
            throw PapersError.invalidArgument(name: "--feed-endpoint", value: feedEndpoint, expected: "an http(s) URL")
        }
        let config = ArxivClientConfiguration(endpoint: api, feedEndpoint: feeds,
                                              cacheDirectory: noCache ? nil : ArxivClientConfiguration.defaultCacheDirectory)
        let log: (@Sendable (String) -> Void)? = verbose ? { @Sendable message in PapersOutput.warn(message) } : nil
        return ArxivClient(configuration: config, log: log)
    }
}

extension ReproductionStatus: ExpressibleByArgument {}

// MARK: - Output helpers

enum PapersOutput {
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    nonisolated static func warn(_ message: String) {
        FileHandle.standardError.write(Data("glassbox papers: \(message)\n".utf8))
    }

    /// Runs `body`; a PapersError is printed and becomes exit status 1 (the data is wrong) or 2 (could not run).
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as PapersError {
            warn("error: \(e.description)")
            throw ExitCode(exitStatus(e))
        }
    }

    static func exitStatus(_ e: PapersError) -> Int32 {
        switch e {
        case .titleMismatch, .notFound, .unknownPaper, .invalidField, .malformedPaperFile: return 1
        case .multiple(let all): return all.map(exitStatus).max() ?? 1
        default: return 2
        }
    }

    static func warnAbout(_ view: CatalogView) {
        for p in view.catalog.problems { warn("skipped: \(p.description)") }
        if let p = view.resultsProblem { warn("ignoring results: \(p.description)") }
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

    static func table(_ rows: [PaperListing]) {
        let idWidth = max(10, rows.map(\.id.count).max() ?? 0)
        for l in rows {
            let year = l.year.map(String.init) ?? "n.d."
            let status = l.candidate ? "candidate" : l.status.rawValue
            print("\(pad(l.id, idWidth))  \(year)  \(pad(status, 10))  \(l.title)")
        }
    }
}

// MARK: - Browsing

struct PapersList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List papers, optionally filtered.")
    @OptionGroup var options: CatalogOptions
    @Option(help: "Only papers of this family (e.g. circuits).") var family: String?
    @Option(help: "Only papers using this method.") var method: String?
    @Option(help: "Only papers first published in this year.") var year: Int?
    @Option(help: "Only papers with this status: reproduced, failing or untested.") var status: ReproductionStatus?
    @Flag(help: "List the unannotated candidates instead.") var candidates = false
    @Flag(help: "List annotated papers and candidates.") var all = false

    func run() throws {
        try PapersOutput.run {
            let view = CatalogView(catalog: try Catalog.existing(options.directory))
            PapersOutput.warnAbout(view)
            let filter = PaperFilter(family: family, method: method, year: year, status: status,
                                     candidates: all ? .include : candidates ? .only : .exclude)
            let rows = view.list(filter)
            if options.json { try PapersOutput.json(rows) } else { PapersOutput.table(rows) }
        }
    }
}

struct PapersShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a paper: metadata, annotation, linked targets and their latest verdicts.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The paper's id (2209.10652, hep-th/9901001, web/<slug>).") var id: String

    struct Details: Encodable {
        var paper: Paper
        var status: ReproductionStatus
        var targets: [LinkedTarget]
        var url: String?
    }

    func run() throws {
        try PapersOutput.run {
            let catalog = try Catalog.existing(options.directory)
            guard let paper = catalog.paper(id) else { throw PapersError.unknownPaper(id) }
            let view = CatalogView(catalog: catalog)
            if let p = view.resultsProblem { PapersOutput.warn("ignoring results: \(p.description)") }
            let listing = try view.listing(id)
            if options.json {
                try PapersOutput.json(Details(paper: paper, status: listing.status, targets: listing.targets, url: listing.url))
                return
            }
            print("\(paper.title)")
            print("\(paper.id)\(paper.version.map { "v\($0)" } ?? "") · \(paper.year.map(String.init) ?? "n.d.") · \(paper.authors.joined(separator: ", "))")
            if let url = listing.url { print(url) }
            var meta: [String] = []
            if let c = paper.primaryCategory { meta.append("primary \(c)") }
            if !paper.categories.isEmpty { meta.append("categories \(paper.categories.joined(separator: " "))") }
            if let d = paper.doi { meta.append("doi \(d)") }
            if let j = paper.journalRef { meta.append(j) }
            if !meta.isEmpty { print(meta.joined(separator: " · ")) }
            if !paper.families.isEmpty { print("families: \(paper.families.joined(separator: ", "))") }
            if !paper.methods.isEmpty { print("methods: \(paper.methods.joined(separator: ", "))") }
            if !paper.tags.isEmpty { print("tags: \(paper.tags.joined(separator: ", "))") }
            print("status: \(paper.isCandidate ? "candidate (unannotated)" : listing.status.badge)")
            if !listing.targets.isEmpty {
                print("targets:")
                for t in listing.targets {
                    print("  \(t.id)\(t.model.map { " [\($0)]" } ?? ""): \(t.verdict?.rawValue ?? "no result yet")")
                }
            }
            if !paper.abstract.isEmpty { print("\nAbstract: \(paper.abstract)") }
            let body = paper.body.trimmingCharacters(in: .whitespacesAndNewlines)
            if !body.isEmpty { print("\n\(body)") }
        }
    }
}

struct PapersSearch: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Ranked full-text search (BM25) over titles, abstracts and annotations.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The query, e.g. \"induction heads\".") var query: String
    @Option(help: "How many results.") var limit = 10

    func run() throws {
        try PapersOutput.run {
            let catalog = try Catalog.existing(options.directory)
            let hits = SearchIndex(papers: catalog.papers).search(query, limit: limit)
            if options.json { try PapersOutput.json(hits); return }
            if hits.isEmpty { print("no matches for '\(query)'"); return }
            let idWidth = hits.map(\.id.count).max() ?? 10
            for h in hits {
                print("\(String(format: "%6.2f", h.score))  \(PapersOutput.pad(h.id, idWidth))  \(h.year.map(String.init) ?? "n.d.")  \(h.title)")
            }
        }
    }
}

struct PapersIndex: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "Write <catalog>/README.md: papers by family, status badges, coverage table.")
    @OptionGroup var options: CatalogOptions

    func run() throws {
        try PapersOutput.run {
            let catalog = try Catalog.existing(options.directory)
            let view = CatalogView(catalog: catalog)
            PapersOutput.warnAbout(view)
            let url = try CatalogIndex.write(view)
            if options.json { try PapersOutput.json(["file": url.path]) } else { print("wrote \(url.path)") }
        }
    }
}

struct PapersValidate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check every paper file, id and reproduction link.")
    @OptionGroup var options: CatalogOptions
    @Option(help: "The reproduction targets directory (default: reproductions/ next to the catalog).") var reproductions: String?

    struct Output: Encodable { var valid: Bool; var papers: Int; var targets: Int; var problems: [String] }

    func run() throws {
        try PapersOutput.run {
            let catalog = try Catalog.existing(options.directory)
            let report = catalog.validate(reproductionsDirectory: reproductions.map { URL(fileURLWithPath: $0, isDirectory: true) })
            if options.json {
                try PapersOutput.json(Output(valid: report.isValid, papers: report.papersChecked, targets: report.targetsChecked,
                                             problems: report.problems.map(\.description)))
            } else {
                for p in report.problems { print("✗ \(p.description)") }
                print(report.isValid ? "ok: \(report.papersChecked) papers, \(report.targetsChecked) targets"
                                     : "\(report.problems.count) problem\(report.problems.count == 1 ? "" : "s") in \(report.papersChecked) papers, \(report.targetsChecked) targets")
            }
            if !report.isValid { throw ExitCode(1) }
        }
    }
}

// MARK: - arXiv

struct PapersSync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Add papers from arXiv and refresh the metadata of existing ones (never the annotations).",
        discussion: "Without --ids or --query, refreshes every arXiv paper in the catalog.")
    @OptionGroup var options: CatalogOptions
    @OptionGroup var network: NetworkOptions
    @Option(parsing: .upToNextOption, help: "arXiv ids (with a version to pin one).") var ids: [String] = []
    @Option(help: "An arXiv search_query, e.g. 'cat:cs.LG AND abs:\"sparse autoencoder\"'.") var query: String?
    @Option(help: "At most this many results of --query.") var limit = 100
    @Flag(help: "Report what would change without writing.") var dryRun = false

    func run() throws {
        try PapersOutput.run {
            let client = try network.client()
            let report = try CatalogSync.sync(directory: options.directory, client: client, ids: ids.flatMap { $0.split(separator: ",").map(String.init) },
                                              query: query, limit: limit, dryRun: dryRun)
            for s in report.skipped { PapersOutput.warn("skipped: \(s)") }
            if options.json { try PapersOutput.json(report); return }
            for c in report.added { print("added    \(c.id)  \(c.title)") }
            for c in report.updated { print("updated  \(c.id)  \(c.fields.joined(separator: ", "))") }
            print("\(dryRun ? "would add" : "added") \(report.added.count), \(dryRun ? "would update" : "updated") \(report.updated.count), unchanged \(report.unchanged.count)")
        }
    }
}

struct PapersDiscover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "Propose new interpretability papers from arXiv's daily feeds as candidates.")
    @OptionGroup var options: CatalogOptions
    @OptionGroup var network: NetworkOptions
    @Option(help: "Categories joined with '+', e.g. cs.LG+cs.CL (default: the rules' feeds).") var feed: String?
    @Option(help: "The rules file (default: <catalog>/discover.yaml).") var match: String?
    @Option(help: "Read a saved announcement feed from this file instead of fetching it.") var feedFile: String?
    @Flag(help: "Report what would be proposed without writing.") var dryRun = false

    func run() throws {
        try PapersOutput.run {
            let client = try network.client()
            let rulesURL = match.map { URL(fileURLWithPath: $0) } ?? Catalog.rulesFile(in: options.directory)
            let rules = try DiscoveryRules.load(rulesURL)
            var data: Data?
            if let feedFile {
                do { data = try Data(contentsOf: URL(fileURLWithPath: feedFile)) } catch {
                    throw PapersError.io(path: feedFile, message: "cannot read the feed file")
                }
            }
            let report = try Discovery.discover(directory: options.directory, client: client,
                                                feeds: feed.map { $0.split(separator: "+").map(String.init) }, rules: rules,
                                                feedData: data, dryRun: dryRun)
            if options.json { try PapersOutput.json(report); return }
            for c in report.proposed { print("candidate  \(c.id)  \(c.title)  [\(c.announceType); \(c.matched.joined(separator: ", "))]") }
            print("\(report.examined) listed, \(report.proposed.count) \(dryRun ? "would be proposed" : "proposed"), \(report.known.count) already in the catalog, \(report.dismissed.count) dismissed before")
        }
    }
}

struct PapersDismiss: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dismiss", abstract: "Dismiss a candidate: remove its file and never propose it again.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The candidate's arXiv id.") var id: String
    @Option(help: "Why (kept as a comment in dismissed.txt).") var reason: String?

    func run() throws {
        try PapersOutput.run {
            let removed = try Discovery.dismiss(id, directory: options.directory, reason: reason)
            if options.json { try PapersOutput.json(["id": id, "removed_candidate": removed ? "yes" : "no"]) }
            else { print("dismissed \(id)\(removed ? " (candidate file removed)" : "")") }
        }
    }
}
