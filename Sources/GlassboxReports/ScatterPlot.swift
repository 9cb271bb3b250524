import Foundation

/// Points in the plane, one colour per series, with optional point labels.
///
/// `equalAspect` keeps one unit the same length on both axes (geometry must not be
/// distorted, e.g. feature directions in a 2-D hidden space); `vectorsFromOrigin` draws
/// each point as an arrow from (0, 0) — the superposition paper's pentagon picture.
public struct ScatterPlot: SVGRenderable, Equatable {
    public var series: [Series]
    public var title: String?
    public var xLabel: String?
    public var yLabel: String?
    public var equalAspect: Bool
    public var vectorsFromOrigin: Bool
    public var width: Double
    public var height: Double

    public init(
        series: [Series], title: String? = nil, xLabel: String? = nil, yLabel: String? = nil,
        equalAspect: Bool = false, vectorsFromOrigin: Bool = false, width: Double = 560, height: Double = 440
    ) {
        self.series = series
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.equalAspect = equalAspect
        self.vectorsFromOrigin = vectorsFromOrigin
        self.width = width
        self.height = height
    }

    public func svg() -> String {
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var xs = points.map(\.x), ys = points.map(\.y)
        if vectorsFromOrigin { xs.append(0); ys.append(0) }
        var xAxis = ValueAxis(values: xs, logarithmic: false)
        var yAxis = ValueAxis(values: ys, logarithmic: false)
        if equalAspect {
            // One symmetric domain for both axes, centred on the data.
            let lo = min(xAxis.lower, yAxis.lower), hi = max(xAxis.upper, yAxis.upper)
            let m = max(abs(lo), abs(hi))
            let domain = vectorsFromOrigin ? (-m, m) : (lo, hi)
            xAxis = ValueAxis(values: [], logarithmic: false, fixed: domain)
            yAxis = ValueAxis(values: [], logarithmic: false, fixed: domain)
        }
        let showLegend = series.count > 1
        let legend = showLegend ? PlotFrame.legendWidth(series.map(\.name)) : 0
        var frame = PlotFrame(width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
                              yTickLabels: yAxis.labels, rightExtra: legend)
        if equalAspect {
            // Square plot area.
            let side = min(frame.plotRight - frame.plotLeft, frame.plotBottom - frame.plotTop)
            let total = min(width, frame.plotLeft + side + 16 + legend)
            frame.right = total - frame.plotLeft - side
            frame.width = total
        }
        let sx = xAxis.scale(from: frame.plotLeft, to: frame.plotRight)
        let sy = yAxis.scale(from: frame.plotBottom, to: frame.plotTop)

        var w = SVGWriter(width: frame.width, height: height)
        frame.drawTitleAndLabels(&w, title: title, xLabel: xLabel, yLabel: yLabel)
        frame.drawXAxis(&w, scale: sx, ticks: xAxis.ticks, labels: xAxis.labels, grid: true)
        frame.drawYAxis(&w, scale: sy, ticks: yAxis.ticks, labels: yAxis.labels, grid: true)
        frame.drawFrame(&w)
        if vectorsFromOrigin {
            w.element("line", [("x1", .number(sx.pixel(0))), ("y1", .number(frame.plotTop)), ("x2", .number(sx.pixel(0))), ("y2", .number(frame.plotBottom)), ("stroke", "#bbbbbb")])
            w.element("line", [("x1", .number(frame.plotLeft)), ("y1", .number(sy.pixel(0))), ("x2", .number(frame.plotRight)), ("y2", .number(sy.pixel(0))), ("stroke", "#bbbbbb")])
        }
        var entries: [(name: String, color: String, line: Bool)] = []
        for (i, s) in series.enumerated() {
            let color = s.color ?? SVGStyle.seriesColor(i)
            entries.append((s.name, color, false))
            w.open("g", [("class", "series"), ("data-name", .text(s.name))])
            for p in s.points where p.x.isFinite && p.y.isFinite {
                let px = sx.pixel(p.x), py = sy.pixel(p.y)
                if vectorsFromOrigin {
                    w.element("line", [("x1", .number(sx.pixel(0))), ("y1", .number(sy.pixel(0))), ("x2", .number(px)), ("y2", .number(py)), ("stroke", .text(color)), ("stroke-width", 1.8)])
                }
                w.open("g", [])
                w.element("circle", [("cx", .number(px)), ("cy", .number(py)), ("r", 4), ("fill", .text(color)), ("fill-opacity", 0.85)])
                w.element("title", [], text: "\(p.label.map { $0 + ": " } ?? "")(\(NumberFormat.significant(p.x, digits: 4)), \(NumberFormat.significant(p.y, digits: 4)))")
                w.close("g")
                if let label = p.label {
                    w.text(label, x: px + 6, y: py - 5, size: SVGStyle.tickSize - 0.5, fill: "#333")
                }
            }
            w.close("g")
        }
        if showLegend { frame.drawLegend(&w, entries: entries) }
        return w.render(title: title)
    }
}
