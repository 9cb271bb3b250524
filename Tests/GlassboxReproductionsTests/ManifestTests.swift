import Foundation
import Testing
@testable import GlassboxReproductions

@Test func fixtureManifestsDecode() throws {
    let manifests = try fixtureManifests()
    #expect(manifests.map(\.id) == ["geometric-half", "leibniz-pi", "needs-model"])
    let leibniz = manifests[1]
    #expect(leibniz.paper == "0000.00001")  // unquoted in YAML: kept as written, not as a float
    #expect(leibniz.tier == .fast)
    #expect(leibniz.parameters["terms"] == .int(1000))
    #expect(leibniz.expect[0].check == .close(value: 3.14159265, tolerance: 0.002))
    #expect(leibniz.expect[1].check == .atMost(0.002))
    #expect(leibniz.expect[1].kind == .directional)
    #expect(leibniz.expect[1].source == "alternating series test")
    #expect(leibniz.drift.tolerance(for: "pi_estimate", baseline: 3) == 0.000001)
    #expect(leibniz.drift.tolerance(for: "error_bound", baseline: 3) == 3e-6)  // default: 1e-6 relative
    #expect(leibniz.file == "targets/leibniz-pi.yaml")
    let geometric = manifests[0]
    #expect(geometric.expect[1].check == .between(1.999, 2.001))
    #expect(geometric.seed == 3)
}

private let valid = """
id: t
paper: "1234.56789"
claim: c
source: s
recipe: test.geometric
model: toy
tier: fast
seed: 1
parameters: { ratio: 0.5 }
expect:
  - metric: limit
    published: 2
    check: { equals: 2 }
    kind: exact
"""

@Test(arguments: [
    ("tier: fast", "tier: medium", "field 'tier': expected fast or full (got 'medium')"),
    ("seed: 1", "seed: -3", "field 'seed': expected a non-negative integer"),
    ("seed: 1", "seed: one", "field 'seed'"),
    ("claim: c\n", "", "field 'claim': missing (required)"),
    ("check: { equals: 2 }", "check: { roughly: 2 }", "field 'expect[0].check.roughly': expected one of"),
    ("check: { equals: 2 }", "check: { between: [3, 1] }", "field 'expect[0].check.between': expected lo ≤ hi"),
    ("check: { equals: 2 }", "check: { close: { value: 2 } }", "field 'expect[0].check.close.tolerance': missing"),
    ("check: { equals: 2 }", "check: { equals: two }", "field 'expect[0].check.equals': expected a number"),
    ("kind: exact", "kind: directional", "field 'expect[0].why_directional': a directional expectation must say why"),
    ("kind: exact", "kind: maybe", "field 'expect[0].kind': expected exact or directional"),
    ("model: toy", "model: toy\nmodle: x", "field 'modle': unknown field"),
    ("id: t", "id: Bad Id", "field 'id': expected a slug"),
    ("    published: 2\n", "", "field 'expect[0].published': missing"),
    ("seed: 1", "seed: 1\ndrift: { limit: -1 }", "field 'drift.limit': expected a tolerance ≥ 0"),
])
func invalidManifestsNameFileAndField(replacing old: String, with new: String, message: String) throws {
    let yaml = valid.replacingOccurrences(of: old, with: new)
    #expect(yaml != valid)
    do {
        _ = try Manifest.parse(yaml: yaml, file: "reproductions/t.yaml")
        Issue.record("accepted an invalid manifest: \(new)")
    } catch let error as ReproductionError {
        #expect(error.description.hasPrefix("reproductions/t.yaml: "), "\(error)")
        #expect(error.description.contains(message), "\(error)")
    }
}

@Test func brokenYAMLIsReported() {
    #expect(throws: ReproductionError.self) { try Manifest.parse(yaml: "id: [unclosed", file: "x.yaml") }
    #expect(throws: ReproductionError.invalidManifest(file: "x.yaml", field: "(top level)", problem: "expected a mapping of fields (id, paper, claim, …)")) {
        try Manifest.parse(yaml: "- a\n- b", file: "x.yaml")
    }
}

@Test(arguments: [
    ("ratio: 0.5", "ratio: 0.5, steps: 3", "field 'parameters.steps': recipe 'test.geometric' has no such parameter (it takes: ratio, terms)"),
    ("ratio: 0.5", "ratio: half", "field 'parameters.ratio': expected number (got half)"),
    ("ratio: 0.5", "terms: 4", "field 'parameters.ratio': missing; recipe 'test.geometric' requires it"),
    ("metric: limit", "metric: limits", "field 'expect[0].metric': recipe 'test.geometric' produces no metric 'limits'"),
    ("recipe: test.geometric", "recipe: test.nothing", "field 'recipe': no recipe named 'test.nothing'"),
])
func registryValidatesManifestAgainstRecipe(replacing old: String, with new: String, message: String) throws {
    let manifest = try Manifest.parse(yaml: valid.replacingOccurrences(of: old, with: new), file: "t.yaml")
    do {
        _ = try testRegistry.validate(manifest)
        Issue.record("validated a manifest that does not fit its recipe")
    } catch let error as ReproductionError {
        #expect(error.description.contains(message), "\(error)")
    }
}

@Test func registryFillsDefaults() throws {
    let manifest = try Manifest.parse(yaml: valid, file: "t.yaml")
    let resolved = try testRegistry.validate(manifest)
    #expect(resolved.values == ["ratio": .double(0.5), "terms": .int(10)])
    #expect(try resolved.int("terms") == 10)
    #expect(throws: ReproductionError.parameter(recipe: "test.geometric", name: "ratio", problem: "expected an integer (got 0.5)")) {
        try resolved.int("ratio")
    }
}

@Test func parameterValuesOfEveryYAMLKind() throws {
    let yaml = valid.replacingOccurrences(of: "parameters: { ratio: 0.5 }", with: """
    parameters:
      ratio: 0.5
      sparsities: [0, 0.9, 0.99]
      nested: { a: true, b: [x, y] }
      name: "5"
    """)
    let m = try Manifest.parse(yaml: yaml, file: "t.yaml")
    #expect(m.parameters["sparsities"] == .list([.int(0), .double(0.9), .double(0.99)]))
    #expect(m.parameters["nested"] == .map(["a": .bool(true), "b": .list([.string("x"), .string("y")])]))
    #expect(m.parameters["name"] == .string("5"))
    #expect(m.parameters["sparsities"]?.description == "[0, 0.9, 0.99]")
}

@Test func directoryLoadingChecksIdsAndCollectsAllErrors() throws {
    let dir = try temporaryDirectory()
    try valid.write(to: dir.appendingPathComponent("t.yaml"), atomically: true, encoding: .utf8)
    try valid.write(to: dir.appendingPathComponent("u.yaml"), atomically: true, encoding: .utf8)
    try valid.replacingOccurrences(of: "tier: fast", with: "tier: x").write(to: dir.appendingPathComponent("v.yaml"), atomically: true, encoding: .utf8)
    do {
        _ = try loadManifests(directory: dir, registry: testRegistry)
        Issue.record("accepted mismatched ids")
    } catch let error as ReproductionError {
        let text = error.description
        #expect(text.contains("u.yaml: field 'id': expected 'u' (the file name) but found 't'"), "\(text)")
        #expect(text.contains("v.yaml: field 'tier'"), "\(text)")
    }
}

@Test(arguments: [
    (ExpectationCheck.equals(5), 5.0, true), (.equals(5), 5.0000001, false), (.atLeast(1), 1, true), (.atLeast(1), 0.99, false),
    (.atMost(0.1), 0.1, true), (.atMost(0.1), .nan, false), (.between(1, 2), 2, true), (.between(1, 2), 2.01, false),
    (.close(value: 3, tolerance: 0.5), 2.5, true), (.close(value: 3, tolerance: 0.5), 3.51, false),
])
func checksHoldTwoSided(check: ExpectationCheck, measured: Double, holds: Bool) {
    #expect(check.holds(measured) == holds)
}

@Test func checkDescriptions() {
    #expect(ExpectationCheck.close(value: 0.5, tolerance: 0.05).description == "0.5 ± 0.05")
    #expect(ExpectationCheck.between(0.2, 0.4).description == "in [0.2, 0.4]")
    #expect(ExpectationCheck.atLeast(0.9).description == "≥ 0.9")
    #expect(ExpectationCheck.equals(1.998046875).description == "= 1.998046875")
    #expect(formatMetric(3.140592653839794) == "3.14059")
    #expect(formatMetric(1.998046875) == "1.99805")
    #expect(formatMetric(2.5e-7) == "2.5e-07")
    #expect(formatMetric(-0.0) == "0")
}

@Test func flowStyleExpectationsAsInTheDocs() throws {
    let manifest = try Manifest.parse(yaml: """
        id: demo
        paper: "0000.00000"
        claim: "Σ 0.5^k → 2"
        source: "textbook"
        recipe: test.geometric
        model: toy
        tier: fast
        seed: 0
        parameters: { ratio: 0.5 }
        expect:
          - { metric: partial_sum, published: 1.998046875, check: { equals: 1.998046875 }, kind: exact }
        """, file: "inline")
    let result = runner().runOne(manifest).result
    #expect(result.status == .passed)
    #expect(result.expectations.map(\.verdict) == [.pass])
}
