import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import GlassboxReports

// MARK: - Shared helpers

/// Number of occurrences of `needle` in `text`.
func count(_ needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

/// Parses an SVG with Foundation's XML parser; nil when it is not well-formed.
func parsesAsXML(_ svg: String) -> Bool {
    let parser = XMLParser(data: Data(svg.utf8))
    return parser.parse()
}

// MARK: - Numbers and escaping

@Test(arguments: [
    (1.0, 2, "1"), (1.0051, 2, "1.01"), (1.005, 2, "1"), (-0.001, 2, "0"), (-2.5, 1, "-2.5"), (123.456, 2, "123.46"),
    (0.1 + 0.2, 2, "0.3"), (1e-7, 9, "0.0000001"),
])
func fixedFormatting(value: Double, decimals: Int, expected: String) {
    #expect(NumberFormat.fixed(value, decimals: decimals) == expected)
}

@Test(arguments: [
    (1234.5, "1235"), (0.012345, "0.0123"), (3.14159, "3.14"), (2.5e-6, "2.5e-6"), (9.999e6, "1e7"), (-42.0, "-42"),
])
func significantFormatting(value: Double, expected: String) {
    #expect(NumberFormat.significant(value, digits: 3) == expected)
}

@Test func xmlEscapingCoversAllSpecials() {
    #expect(xmlEscape(#"<a href="x">Tom & 'Jerry'</a>"#) == "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;")
    #expect(xmlEscape("bell\u{07}") == "bell ")
}

@Test func chartTextIsEscapedAndDocumentStaysWellFormed() {
    let chart = BarChart(labels: ["<eos>", "a&b", "\"q\""], values: [1, -2, 0.5], title: "Tokens <& \"quotes\">", signed: true)
    let svg = chart.svg()
    #expect(svg.contains("&lt;eos&gt;"))
    #expect(svg.contains("a&amp;b"))
    #expect(!svg.contains("<eos>"))
    #expect(parsesAsXML(svg))
}

// MARK: - Colour scales

@Test func divergingScaleIsWhiteAtCentreAndSaturatedAtEnds() {
    let scale = ColorScale.diverging(radius: 2)
    #expect(scale.color(for: 0).hex == "#f7f7f7")
    #expect(scale.color(for: 2).hex == "#b2182b")
    #expect(scale.color(for: -2).hex == "#2166ac")
    #expect(scale.color(for: 10).hex == "#b2182b")  // clamped
    // +1 of radius 2 sits at position 0.75 = stop 6 of 0…8 exactly.
    #expect(scale.color(for: 1).hex == "#f4a582")
    // +1.25 → position 0.8125 → stop 6.5: the channel means of #f4a582 and #d6604d, rounded.
    #expect(scale.color(for: 1.25).hex == "#e58368")
}

@Test func sequentialScaleEndpointsAndOrder() {
    let scale = ColorScale.sequential(lower: 0, upper: 1)
    #expect(scale.color(for: 0).hex == "#440154")
    #expect(scale.color(for: 1).hex == "#fde725")
    // Luminance increases along the scale.
    let lum = stride(from: 0.0, through: 1.0, by: 0.1).map { scale.color(for: $0).luminance }
    #expect(zip(lum, lum.dropFirst()).allSatisfy { $0 < $1 })
}

// MARK: - Axes

@Test func niceTicksUseOneTwoFiveSteps() {
    #expect(ChartAxis.niceTicks(0, 1, target: 5) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
    #expect(ChartAxis.niceTicks(0, 100, target: 5) == [0, 20, 40, 60, 80, 100])
    #expect(ChartAxis.logTicks(0.001, 10) == [0.001, 0.01, 0.1, 1, 10])
    #expect(ChartAxis.niceDomain(0.13, 0.87) == (0.0, 1.0))
    #expect(ChartAxis.niceDomain(0.13, 0.87, target: 10) == (0.1, 0.9))
    #expect(ChartAxis.label(0.6000000000000001, step: 0.2) == "0.6")
    #expect(ChartAxis.label(2.5, step: 2.5) == "2.5")
}

@Test func axisScaleMapsLinearAndLog() {
    let lin = AxisScale(lower: 0, upper: 10, pixelStart: 100, pixelEnd: 200)
    #expect(lin.pixel(5) == 150)
    let log = AxisScale(lower: 1, upper: 1000, pixelStart: 0, pixelEnd: 300, logarithmic: true)
    #expect(abs(log.pixel(10) - 100) < 1e-9)
    #expect(abs(log.pixel(100) - 200) < 1e-9)
}

// MARK: - Heatmap

@Test func heatmapCellColoursMatchTheScale() {
    let values: [[Double]] = [[1, 0, -1], [0.5, -0.5, 0]]
    let map = Heatmap(values: values, rowLabels: ["a", "b"], columnLabels: ["x", "y", "z"],
                      title: "W^T W", scaleKind: .diverging, showValues: true)
    let svg = map.svg()
    #expect(parsesAsXML(svg))
    // Radius fitted to max |v| = 1, so +1 is the darkest red, -1 the darkest blue.
    #expect(map.cellColor(row: 0, column: 0).hex == "#b2182b")
    #expect(map.cellColor(row: 0, column: 2).hex == "#2166ac")
    #expect(map.cellColor(row: 0, column: 1).hex == "#f7f7f7")
    // Six cells, each a rect with a tooltip, plus the grid frame and the colour bar (48 slices + frame).
    let cells = svg.components(separatedBy: "<g class=\"cells\" shape-rendering=\"crispEdges\">")[1].components(separatedBy: "</g>\n  <rect")[0]
    #expect(count("<rect", in: cells) == 6)
    #expect(count("<title>", in: cells) == 6)
    #expect(count("<rect", in: svg) == 1 + 6 + 1 + 1 + 1)
    #expect(count("<stop ", in: svg) == 9)  // the diverging scale's nine stops
    #expect(svg.contains("fill=\"#b2182b\""))
    #expect(svg.contains(">-0.5</text>"))
    #expect(svg.contains("<title>b, y: -0.5</title>"))
}

@Test func heatmapIsDeterministic() {
    let values = (0..<12).map { r in (0..<12).map { c in sin(Double(r * 12 + c)) } }
    let a = Heatmap(values: values, title: "t", scaleKind: .diverging).svg()
    let b = Heatmap(values: values, title: "t", scaleKind: .diverging).svg()
    #expect(a == b)
}

@Test func heatmapCellTextReplacesValues() {
    let map = Heatmap(values: [[0.2, 0.9]], cellText: [["Paris", "<s>"]], cellSize: 40)
    let svg = map.svg()
    #expect(svg.contains(">Paris</text>"))
    #expect(svg.contains(">&lt;s&gt;</text>"))
    let cells = svg.components(separatedBy: "<g class=\"cells\" shape-rendering=\"crispEdges\">")[1].components(separatedBy: "</g>\n  <rect")[0]
    #expect(!cells.contains(">0.2</text>"))
}

@Test func largeHeatmapsAreBlockAveraged() throws {
    // 300 × 300, value = row index: blocks of 3×3 rows average to the middle row.
    let values = (0..<300).map { r in Array(repeating: Double(r), count: 300) }
    let map = Heatmap(values: values, title: "big")
    let pooled = try #require(map.pooled())
    #expect(pooled.rowCount == 100 && pooled.columnCount == 100)
    #expect(pooled.values[0][0] == 1)      // mean of rows 0, 1, 2
    #expect(pooled.values[99][5] == 298)   // mean of rows 297, 298, 299
    #expect(pooled.rowLabels[1] == "3–5")
    #expect(pooled.title == "big (mean over 3×3 blocks)")
    let svg = map.svg()
    let cells = svg.components(separatedBy: "<g class=\"cells\" shape-rendering=\"crispEdges\">")[1].components(separatedBy: "</g>\n  <rect")[0]
    #expect(count("<rect", in: cells) == 10_000)
    #expect(Heatmap(values: [[1, 2]]).pooled() == nil)
}

@Test func longSeriesAreDecimatedWithoutLosingExtremes() {
    let n = 20_000
    let ys: [Double] = (0..<n).map { i in i == 12_345 ? 50 : sin(Double(i) / 500) }
    let chart = LineChart(series: [Series(name: "loss", y: ys)])
    let svg = chart.svg()
    let path = svg.components(separatedBy: " d=\"")[1].prefix { $0 != "\"" }
    let points = path.split(separator: " ").count / 2
    #expect(points < 4 * 640 && points > 500)
    // The spike survives decimation: y = 50 is the top of the domain, drawn at the
    // plot's top edge (16 px without a title).
    let yCoords = path.split(separator: " ").enumerated().filter { $0.offset % 2 == 1 }.map { Double($0.element)! }
    #expect(yCoords.min() == 16)
    #expect(svg.utf8.count < 120_000)
}

// MARK: - Line, bar, scatter

@Test func lineChartHasOnePathPerSeriesAndALegend() {
    let xs = [1.0, 10, 100, 1000]
    let chart = LineChart(series: [
        Series(name: "logit lens", x: xs, y: [4, 3, 2, 1]),
        Series(name: "tuned lens", x: xs, y: [2, 1.5, 1, 0.5]),
    ], title: "KL", xLabel: "step", yLabel: "KL (nats)", logX: true,
       referenceLines: [ReferenceLine(value: 3, label: "published")])
    let svg = chart.svg()
    #expect(parsesAsXML(svg))
    #expect(count("<path", in: svg) == 2)
    #expect(count("<circle", in: svg) == 8)
    #expect(svg.contains(">logit lens</text>") && svg.contains(">tuned lens</text>"))
    // Log axis: the four decades are equally spaced ticks.
    #expect(svg.contains(">1000</text>") && svg.contains(">10</text>"))
    #expect(svg.contains("stroke-dasharray=\"5 4\""))
}

@Test func lineChartSkipsNonFiniteAndNonPositiveOnLogAxis() {
    let chart = LineChart(series: [Series(name: "s", x: [0, 1, 2, 3, 4], y: [1, .nan, 2, 3, 4])], logX: true)
    let svg = chart.svg()
    // x = 0 is dropped (log), NaN splits: runs [] and [2,3,4] → one path, three markers.
    #expect(count("<path", in: svg) == 1)
    #expect(count("<circle", in: svg) == 3)
    #expect(parsesAsXML(svg))
}

@Test(arguments: [BarChart.Orientation.vertical, .horizontal])
func signedBarsAreColouredBySignAndGrowFromZero(orientation: BarChart.Orientation) {
    let chart = BarChart(labels: ["The", "cat", "sat"], values: [0.5, -0.25, 1], title: "IG attributions",
                         orientation: orientation, signed: true)
    #expect(chart.barColor(0) == BarChart.positiveColor)
    #expect(chart.barColor(1) == BarChart.negativeColor)
    let svg = chart.svg()
    #expect(parsesAsXML(svg))
    let bars = svg.components(separatedBy: "<g class=\"bars\">")[1]
    #expect(count("<rect", in: bars) == 3)
    #expect(count(BarChart.negativeColor, in: bars) == 1)
    #expect(count(BarChart.positiveColor, in: bars) == 2)
    #expect(bars.contains(">-0.25</text>"))
}

@Test func verticalBarHeightsAreProportional() throws {
    let chart = BarChart(labels: ["a", "b"], values: [1, 2], showValues: false)
    let svg = chart.svg()
    let heights = svg.components(separatedBy: "<g class=\"bars\">")[1]
        .components(separatedBy: " height=\"").dropFirst().map { Double($0.prefix { $0 != "\"" })! }
    #expect(heights.count == 2)
    #expect(abs(heights[1] - 2 * heights[0]) < 0.02)
}

@Test func scatterWithVectorsDrawsOneArrowPerPoint() {
    let pentagon = (0..<5).map { k -> Series.Point in
        let a = 2 * Double.pi * Double(k) / 5
        return Series.Point(x: cos(a), y: sin(a), label: "f\(k)")
    }
    let plot = ScatterPlot(series: [Series(name: "features", points: pentagon)], title: "Pentagon",
                           equalAspect: true, vectorsFromOrigin: true)
    let svg = plot.svg()
    #expect(parsesAsXML(svg))
    let body = svg.components(separatedBy: "<g class=\"series\"")[1]
    #expect(count("<circle", in: body) == 5)
    #expect(count("<line", in: body) == 5)
    #expect(body.contains(">f3</text>"))
}

// MARK: - Markdown

@Test func markdownTableAlignsAndEscapes() {
    var table = MarkdownTable(headers: ["metric", "value"], alignments: [.left, .right])
    table.addRow(["a|b", "1.5"])
    table.addRow(["two\nlines"])
    #expect(table.render() == """
    | metric | value |
    | :--- | ---: |
    | a\\|b | 1.5 |
    | two<br>lines |  |
    """)
}

@Test func markdownDocumentBlocks() {
    var doc = MarkdownDocument()
    doc.heading("Title")
    doc.paragraph("  Some *text*.  ")
    doc.codeBlock("let x = ```1```", language: "swift")
    doc.bulletList(["one", "two"])
    doc.heading("Sub", level: 2)
    #expect(doc.render() == """
    # Title

    Some *text*.

    ````swift
    let x = ```1```
    ````

    - one
    - two

    ## Sub

    """)
}

@Test func linksImagesAndBadges() {
    #expect(Markdown.link("paper [1]", to: "../papers/2209.10652.md") == "[paper \\[1\\]](../papers/2209.10652.md)")
    #expect(Markdown.image("fig", source: "figures/a b.svg") == "![fig](figures/a%20b.svg)")
    #expect(Markdown.badge(label: "tms-basic", message: "pass 3/3", color: "brightgreen", link: "tms-basic.md")
        == "[![tms-basic: pass 3/3](https://img.shields.io/badge/tms--basic-pass_3%2F3-brightgreen)](tms-basic.md)")
    #expect(Markdown.escape("a_b*c") == "a\\_b\\*c")
    #expect(Markdown.code("a`b") == "``a`b``")
}

// MARK: - Rendering to PNG (when a rasteriser is installed)

/// All four chart kinds, as they would appear in reports.
func sampleCharts() -> [(String, any SVGRenderable)] {
    let n = 8
    var w: [[Double]] = []
    for i in 0..<n {
        var row: [Double] = []
        for j in 0..<n {
            let v: Double = i == j ? 1.0 : (abs(i - j) == 1 ? -0.3 : 0.05 * Double((i + j) % 3))
            row.append(v)
        }
        w.append(row)
    }
    let heatmap = Heatmap(values: w, rowLabels: (0..<n).map { "feature \($0)" }, columnLabels: (0..<n).map { "f\($0)" },
                          title: "WᵀW, sparsity 0.9", xLabel: "feature", yLabel: "feature",
                          scaleKind: .diverging, showValues: true, colorBarLabel: "inner product")
    let steps: [Double] = (0..<30).map { pow(10, Double($0) / 10) }
    let train: [Double] = steps.map { 2 / (1 + $0 / 50) }
    let test: [Double] = steps.map { 2.3 - 2.2 / (1 + exp(-($0 - 300) / 60)) }
    let line = LineChart(series: [
        Series(name: "train loss", x: steps, y: train),
        Series(name: "test loss", x: steps, y: test, dashed: true),
    ], title: "Grokking on p = 113", xLabel: "step", yLabel: "loss", logX: true,
       referenceLines: [ReferenceLine(value: 0.1, label: "published final loss")])
    let tokens = ["<s>", "When", " Mary", " and", " John", " went", " to", " the", " store"]
    let attributions: [Double] = [0.02, 0.1, 0.85, -0.12, -0.6, 0.05, 0.01, -0.03, 0.3]
    let bar = BarChart(labels: tokens, values: attributions, title: "Integrated gradients per token",
                       categoryLabel: "token", valueLabel: "attribution", signed: true)
    let hbar = BarChart(labels: ["L0H1", "L1H4", "L2H0", "L3H7"], values: [0.4, -0.2, 0.9, 0.05],
                        title: "Head effect", valueLabel: "logit difference", orientation: .horizontal, signed: true)
    var pentagon: [Series.Point] = []
    for k in 0..<5 {
        let a = 2 * Double.pi * Double(k) / 5 + 0.3
        pentagon.append(Series.Point(x: 1.1 * cos(a), y: 1.1 * sin(a), label: "f\(k)"))
    }
    let scatter = ScatterPlot(series: [Series(name: "features", points: pentagon)],
                              title: "Feature directions in the 2-D hidden space", xLabel: "h₁", yLabel: "h₂",
                              equalAspect: true, vectorsFromOrigin: true)
    // A causal attention pattern over tokens: rows are queries, columns keys.
    let toks = ["<s>", "When", " Mary", " and", " John", " went", " to", " the", " store", ",", " John", " gave"]
    var attention: [[Double]] = []
    for q in toks.indices {
        var row = Array(repeating: 0.0, count: toks.count)
        var total = 0.0
        for k in 0...q {
            let w: Double = k == 0 ? 2 : 1 / Double(1 + q - k)
            row[k] = w
            total += w
        }
        attention.append(row.map { $0 / total })
    }
    let pattern = Heatmap(values: attention, rowLabels: toks, columnLabels: toks, title: "blocks.1.attn.hook_pattern, head 4",
                          xLabel: "key", yLabel: "query", scale: .sequential(lower: 0, upper: 1), colorBarLabel: "attention")
    // A logit-lens grid: top token per (layer, position), coloured by its probability.
    var probs: [[Double]] = []
    for l in 0..<6 {
        var row: [Double] = []
        for p in 0..<5 {
            let v: Double = Double(l + 1) * 0.15 + Double(p) * 0.02
            row.append(min(1, v))
        }
        probs.append(row)
    }
    let words = ["the", " Paris", " of", " France", " is"]
    let grid: [[String]] = (0..<6).map { l in (0..<5).map { p in l < 3 ? words[(p + l) % 5] : " Paris" } }
    let lens = Heatmap(values: probs, rowLabels: (0..<6).map { "resid \($0)" }, columnLabels: ["The", " capital", " of", " France", " is"],
                       title: "Logit lens: top token", xLabel: "position", yLabel: "layer",
                       scale: .sequential(lower: 0, upper: 1), cellText: grid, colorBarLabel: "probability", cellSize: 56)
    return [("heatmap", heatmap), ("line", line), ("bar", bar), ("bar-horizontal", hbar), ("scatter", scatter),
            ("attention", pattern), ("lens-grid", lens)]
}

func rasteriser() -> URL? {
    for path in ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"] where FileManager.default.isExecutableFile(atPath: path) {
        return URL(fileURLWithPath: path)
    }
    return nil
}

@Test func chartsRenderToPNG() throws {
    guard let tool = rasteriser() else { return }  // rsvg-convert not installed: nothing to check
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glassbox-reports-png")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, chart) in sampleCharts() {
        let svgURL = dir.appendingPathComponent("\(name).svg")
        let pngURL = dir.appendingPathComponent("\(name).png")
        try Data(chart.svg().utf8).write(to: svgURL)
        let process = Process()
        process.executableURL = tool
        process.arguments = ["-o", pngURL.path, svgURL.path]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "rsvg-convert failed on \(name)")
        let png = try Data(contentsOf: pngURL)
        #expect(png.starts(with: [0x89, 0x50, 0x4e, 0x47]), "\(name) is not a PNG")
        #expect(png.count > 2000)
    }
}

@Test func sampleChartsAreWellFormedAndDeterministic() {
    for ((name, a), (_, b)) in zip(sampleCharts(), sampleCharts()) {
        #expect(parsesAsXML(a.svg()), "\(name)")
        #expect(a.svg() == b.svg(), "\(name)")
    }
}
