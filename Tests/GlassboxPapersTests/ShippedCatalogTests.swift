import Foundation
import Testing
@testable import GlassboxPapers

/// The repository's own catalog (`papers/`) and discovery rules must always be valid.
@Suite struct ShippedCatalogTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func shippedCatalogValidates() throws {
        let papers = Self.repository.appendingPathComponent("papers")
        let catalog = try Catalog(directory: papers)
        let report = catalog.validate(reproductionsDirectory: Self.repository.appendingPathComponent("reproductions"))
        #expect(report.problems.map(\.description) == [])
        // Every paper parses into the listing used by list / show / index.
        let view = CatalogView(catalog: catalog)
        #expect(view.listings.count == catalog.files.count)
    }

    @Test func shippedDiscoveryRulesLoad() throws {
        let rules = try DiscoveryRules.load(Self.repository.appendingPathComponent("papers/discover.yaml"))
        #expect(rules.feeds == ["cs.LG", "cs.CL", "cs.AI"])
        #expect(rules.announceTypes == [.new, .cross])
        #expect(!rules.matches(title: "Towards Monosemanticity: Decomposing Language Models With Dictionary Learning", abstract: "").isEmpty)
        #expect(!rules.matches(title: "Locating and Editing Factual Associations in GPT", abstract: "We use causal mediation analysis.").isEmpty)
        #expect(rules.matches(title: "A Faster Optimizer for Convex Problems", abstract: "We prove rates for strongly convex objectives.").isEmpty)
    }
}
