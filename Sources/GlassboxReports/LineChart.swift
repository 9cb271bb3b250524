import Foundation

/// A named sequence of (x, y) points.
public struct Series: Sendable, Equatable {
    public var name: String
    public var points: [Point]
    /// `nil` picks the next palette colour.
    public var color: String?
    public var dashed: Bool

    public struct Point: Sendable, Equatable {
        public var x: Double
        public var y: Double
        /// Optional text drawn next to the point (scatter plots).
        public var label: String?
        public init(x: Double, y: Double, label: String? = nil) {
            self.x = x
            self.y = y
            self.label = label
        }
    }

    public init(name: String, points: [Point], color: String? = nil, dashed: Bool = false) {
        self.name = name
        self.points = points
        self.color = color
        self.dashed = dashed
    }

    public init(name: String, x: [Double], y: [Double], color: String? = nil, dashed: Bool = false) {
        self.init(name: name, points: zip(x, y).map { Point(x: $0, y: $1) }, color: color, dashed: dashed)
    }

    /// y against 0, 1, 2, …
    public init(name: String, y: [Double], color: String? = nil, dashed: Bool = false) {
        self.init(name: name, x: y.indices.map(Double.init), y: y, color: color, dashed: dashed)
    }
}

/// A horizontal reference line (e.g. a published value) drawn across a chart.
public struct ReferenceLine: Sendable, Equatable {
    public var value: Double
    public var label: String
    public init(value: Double, label: String) {
        self.value = value
        self.label = label
    }
}

/// Lines over a shared x axis: KL per layer, loss per step, accuracy per sparsity.
/// Non-finite points (and non-positive ones on a log axis) are skipped, splitting the line.
public struct LineChart: SVGRenderable, Equatable {
    public var series: [Series]
    public var title: String?
    public var xLabel: String?
    public var yLabel: String?
    public var logX: Bool
    public var logY: Bool
    public var markers: Bool?
    public var referenceLines: [ReferenceLine]
    public var width: Double
    public var height: Double
    /// Fixed y range; `nil` fits the data.
    public var yRange: ClosedRange<Double>?

    public init(
        series: [Series], title: String? = nil, xLabel: String? = nil, yLabel: String? = nil,
        logX: Bool = false, logY: Bool = false, markers: Bool? = nil, referenceLines: [ReferenceLine] = [],
        width: Double = 640, height: Double = 380, yRange: ClosedRange<Double>? = nil
    ) {
        self.series = series
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logX = logX
        self.logY = logY
        self.markers = markers
        self.referenceLines = referenceLines
        self.width = width
        self.height = height
        self.yRange = yRange
    }

    private func usable(_ p: Series.Point) -> Bool {
        p.x.isFinite && p.y.isFinite && (!logX || p.x > 0) && (!logY || p.y > 0)
    }

    public func svg() -> String {
        let points = series.flatMap(\.points).filter(usable)
        let xAxis = ValueAxis(values: points.map(\.x), logarithmic: logX)
        let yAxis = ValueAxis(values: points.map(\.y) + referenceLines.map(\.value), logarithmic: logY,
                              fixed: yRange.map { ($0.lowerBound, $0.upperBound) })
        let showLegend = series.count > 1 || !(series.first?.name.isEmpty ?? true)
        let legend = showLegend ? PlotFrame.legendWidth(series.map(\.name)) : 0
        let frame = PlotFrame(width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
                              yTickLabels: yAxis.labels, rightExtra: legend)
        let xs = xAxis.scale(from: frame.plotLeft, to: frame.plotRight)
        let ys = yAxis.scale(from: frame.plotBottom, to: frame.plotTop)

        var w = SVGWriter(width: width, height: height)
        frame.drawTitleAndLabels(&w, title: title, xLabel: xLabel, yLabel: yLabel)
        frame.drawXAxis(&w, scale: xs, ticks: xAxis.ticks, labels: xAxis.labels, grid: true)
        frame.drawYAxis(&w, scale: ys, ticks: yAxis.ticks, labels: yAxis.labels, grid: true)
        frame.drawFrame(&w)

        for ref in referenceLines where ref.value.isFinite {
            let y = ys.pixel(ref.value)
            w.element("line", [("x1", .number(frame.plotLeft)), ("y1", .number(y)), ("x2", .number(frame.plotRight)), ("y2", .number(y)), ("stroke", "#777777"), ("stroke-dasharray", "5 4")])
            w.haloText(ref.label, x: frame.plotRight - 4, y: y - 4, size: SVGStyle.tickSize, anchor: "end", fill: "#555")
        }

        var entries: [(name: String, color: String, line: Bool)] = []
        for (i, s) in series.enumerated() {
            let color = s.color ?? SVGStyle.seriesColor(i)
            entries.append((s.name, color, true))
            w.open("g", [("class", "series"), ("data-name", .text(s.name))])
            // Split the line at unusable points.
            var runs: [[Series.Point]] = [[]]
            for p in s.points {
                if usable(p) { runs[runs.count - 1].append(p) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
            }
            let budget = Int(frame.plotRight - frame.plotLeft)
            for full in runs where full.count > 1 {
                let run = Self.decimate(full, buckets: budget, pixel: xs.pixel)
                let d = run.enumerated().map { j, p in
                    "\(j == 0 ? "M" : "L")\(NumberFormat.fixed(xs.pixel(p.x))) \(NumberFormat.fixed(ys.pixel(p.y)))"
                }.joined(separator: " ")
                var attrs: [(String, SVGWriter.Value)] = [("d", .text(d)), ("fill", "none"), ("stroke", .text(color)), ("stroke-width", 2), ("stroke-linejoin", "round")]
                if s.dashed { attrs.append(("stroke-dasharray", "6 4")) }
                w.element("path", attrs)
            }
            let drawMarkers = markers ?? (s.points.count <= 40)
            if drawMarkers {
                for p in s.points where usable(p) {
                    w.element("circle", [("cx", .number(xs.pixel(p.x))), ("cy", .number(ys.pixel(p.y))), ("r", 3), ("fill", .text(color))])
                }
            }
            w.close("g")
        }
        if showLegend { frame.drawLegend(&w, entries: entries) }
        return w.render(title: title)
    }

    /// Long runs (more than two points per horizontal pixel) keep, per pixel column,
    /// the first, lowest, highest and last point: the drawn line looks the same and the
    /// SVG stays small (a 10 000-step training curve becomes ~2 000 points).
    static func decimate(_ run: [Series.Point], buckets: Int, pixel: (Double) -> Double) -> [Series.Point] {
        guard buckets > 0, run.count > 2 * buckets else { return run }
        var out: [Series.Point] = []
        var i = 0
        while i < run.count {
            let column = Int(pixel(run[i].x).rounded(.down))
            var j = i
            var lo = i, hi = i
            while j < run.count && Int(pixel(run[j].x).rounded(.down)) == column {
                if run[j].y < run[lo].y { lo = j }
                if run[j].y > run[hi].y { hi = j }
                j += 1
            }
            for k in Set([i, lo, hi, j - 1]).sorted() { out.append(run[k]) }
            i = j
        }
        return out
    }
}
