import Foundation

/// Layout and axes shared by the x/y charts: title, plot rectangle, grid, ticks, axis titles.
struct PlotFrame {
    var width: Double
    var height: Double
    var left: Double
    var right: Double
    var top: Double
    var bottom: Double

    var plotLeft: Double { left }
    var plotRight: Double { width - right }
    var plotTop: Double { top }
    var plotBottom: Double { height - bottom }

    /// Margins sized for the title, axis titles and the widest y tick label.
    init(width: Double, height: Double, title: String?, xLabel: String?, yLabel: String?, yTickLabels: [String], rightExtra: Double) {
        self.width = width
        self.height = height
        let widest = yTickLabels.map { SVGStyle.textWidth($0, size: SVGStyle.tickSize) }.max() ?? 20
        left = 14 + widest + (yLabel == nil ? 0 : 22)
        right = 16 + rightExtra
        top = title == nil ? 16 : 38
        bottom = 30 + (xLabel == nil ? 0 : 20)
    }

    func drawTitleAndLabels(_ w: inout SVGWriter, title: String?, xLabel: String?, yLabel: String?) {
        if let title {
            w.text(title, x: width / 2, y: 22, size: SVGStyle.titleSize, anchor: "middle", weight: "600")
        }
        if let xLabel {
            w.text(xLabel, x: (plotLeft + plotRight) / 2, y: height - 10, size: SVGStyle.labelSize, anchor: "middle")
        }
        if let yLabel {
            let x = 16.0, y = (plotTop + plotBottom) / 2
            w.text(yLabel, x: x, y: y, size: SVGStyle.labelSize, anchor: "middle", rotate: -90)
        }
    }

    /// Grid lines and tick labels for a value axis.
    func drawXAxis(_ w: inout SVGWriter, scale: AxisScale, ticks: [Double], labels: [String], grid: Bool) {
        w.open("g", [("class", "x-axis")])
        for (t, label) in zip(ticks, labels) {
            let x = scale.pixel(t)
            if grid {
                w.element("line", [("x1", .number(x)), ("y1", .number(plotTop)), ("x2", .number(x)), ("y2", .number(plotBottom)), ("stroke", .text(SVGStyle.gridColor))])
            }
            w.element("line", [("x1", .number(x)), ("y1", .number(plotBottom)), ("x2", .number(x)), ("y2", .number(plotBottom + 4)), ("stroke", .text(SVGStyle.axisColor))])
            w.text(label, x: x, y: plotBottom + 16, size: SVGStyle.tickSize, anchor: "middle", fill: "#444")
        }
        w.close("g")
    }

    func drawYAxis(_ w: inout SVGWriter, scale: AxisScale, ticks: [Double], labels: [String], grid: Bool) {
        w.open("g", [("class", "y-axis")])
        for (t, label) in zip(ticks, labels) {
            let y = scale.pixel(t)
            if grid {
                w.element("line", [("x1", .number(plotLeft)), ("y1", .number(y)), ("x2", .number(plotRight)), ("y2", .number(y)), ("stroke", .text(SVGStyle.gridColor))])
            }
            w.element("line", [("x1", .number(plotLeft - 4)), ("y1", .number(y)), ("x2", .number(plotLeft)), ("y2", .number(y)), ("stroke", .text(SVGStyle.axisColor))])
            w.text(label, x: plotLeft - 7, y: y + 3.5, size: SVGStyle.tickSize, anchor: "end", fill: "#444")
        }
        w.close("g")
    }

    func drawFrame(_ w: inout SVGWriter) {
        w.element("rect", [("x", .number(plotLeft)), ("y", .number(plotTop)), ("width", .number(plotRight - plotLeft)), ("height", .number(plotBottom - plotTop)), ("fill", "none"), ("stroke", .text(SVGStyle.axisColor))])
    }

    /// A legend box at the right of the plot: a swatch and name per entry.
    func drawLegend(_ w: inout SVGWriter, entries: [(name: String, color: String, line: Bool)]) {
        guard !entries.isEmpty else { return }
        let x = plotRight + 14
        var y = plotTop + 6
        w.open("g", [("class", "legend")])
        for entry in entries {
            if entry.line {
                w.element("line", [("x1", .number(x)), ("y1", .number(y + 5)), ("x2", .number(x + 16)), ("y2", .number(y + 5)), ("stroke", .text(entry.color)), ("stroke-width", 2.5)])
            } else {
                w.element("circle", [("cx", .number(x + 8)), ("cy", .number(y + 5)), ("r", 4.5), ("fill", .text(entry.color))])
            }
            w.text(entry.name, x: x + 22, y: y + 9, size: SVGStyle.tickSize + 0.5)
            y += 18
        }
        w.close("g")
    }

    static func legendWidth(_ names: [String]) -> Double {
        guard !names.isEmpty else { return 0 }
        return 40 + (names.map { SVGStyle.textWidth($0, size: SVGStyle.tickSize + 0.5) }.max() ?? 0)
    }
}

/// Domain and tick labels for a value axis.
struct ValueAxis {
    var lower: Double
    var upper: Double
    var ticks: [Double]
    var labels: [String]
    var logarithmic: Bool

    init(values: [Double], logarithmic: Bool, includeZero: Bool = false, fixed: (Double, Double)? = nil) {
        self.logarithmic = logarithmic
        if logarithmic {
            let positive = values.filter { $0 > 0 && $0.isFinite }
            let (lo, hi) = fixed ?? ChartAxis.logDomain(positive.min() ?? 1, positive.max() ?? 10)
            lower = lo; upper = hi
            ticks = ChartAxis.logTicks(lo, hi)
            labels = ticks.map(ChartAxis.label(logValue:))
        } else {
            let finite = values.filter(\.isFinite)
            let (lo, hi) = fixed ?? ChartAxis.niceDomain(finite.min() ?? 0, finite.max() ?? 1, includeZero: includeZero)
            lower = lo; upper = hi
            // Ticks on the same step the domain was rounded to, so the frame ends on a tick.
            var dataLo = finite.min() ?? 0, dataHi = finite.max() ?? 1
            if includeZero { dataLo = min(dataLo, 0); dataHi = max(dataHi, 0) }
            let step = fixed == nil && dataHi > dataLo ? ChartAxis.niceStep(span: dataHi - dataLo, target: 6)
                                                      : ChartAxis.niceStep(span: hi - lo, target: 6)
            ticks = ChartAxis.ticks(lo, hi, step: step)
            labels = ticks.map { ChartAxis.label($0, step: step) }
        }
    }

    func scale(from start: Double, to end: Double) -> AxisScale {
        AxisScale(lower: lower, upper: upper, pixelStart: start, pixelEnd: end, logarithmic: logarithmic)
    }
}

extension ChartAxis {
    static func label(logValue: Double) -> String { logLabel(logValue) }
}
