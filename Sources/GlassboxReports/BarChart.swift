import Foundation

/// Bars from a zero baseline, one per category: attributions per token (signed),
/// accuracy per condition, effect per head.
///
/// With `signed`, positive bars are red and negative bars blue (the diverging scale's
/// ends), so the sign of an attribution reads at a glance.
public struct BarChart: SVGRenderable, Equatable {
    public enum Orientation: String, Sendable, Equatable { case vertical, horizontal }

    public struct Bar: Sendable, Equatable {
        public var label: String
        public var value: Double
        public var color: String?
        public init(label: String, value: Double, color: String? = nil) {
            self.label = label
            self.value = value
            self.color = color
        }
    }

    public var bars: [Bar]
    public var title: String?
    /// Label of the category axis.
    public var categoryLabel: String?
    /// Label of the value axis.
    public var valueLabel: String?
    public var orientation: Orientation
    public var signed: Bool
    public var showValues: Bool
    public var referenceLines: [ReferenceLine]
    public var width: Double?
    public var height: Double?

    public static let positiveColor = "#d6604d"
    public static let negativeColor = "#4393c3"
    public static let plainColor = "#4e79a7"

    public init(
        bars: [Bar], title: String? = nil, categoryLabel: String? = nil, valueLabel: String? = nil,
        orientation: Orientation = .vertical, signed: Bool = false, showValues: Bool = true,
        referenceLines: [ReferenceLine] = [], width: Double? = nil, height: Double? = nil
    ) {
        self.bars = bars
        self.title = title
        self.categoryLabel = categoryLabel
        self.valueLabel = valueLabel
        self.orientation = orientation
        self.signed = signed
        self.showValues = showValues
        self.referenceLines = referenceLines
        self.width = width
        self.height = height
    }

    public init(labels: [String], values: [Double], title: String? = nil, categoryLabel: String? = nil,
                valueLabel: String? = nil, orientation: Orientation = .vertical, signed: Bool = false,
                showValues: Bool = true) {
        self.init(bars: zip(labels, values).map { Bar(label: $0, value: $1) }, title: title,
                  categoryLabel: categoryLabel, valueLabel: valueLabel, orientation: orientation, signed: signed,
                  showValues: showValues)
    }

    /// The fill of bar `index`, as written into the SVG.
    public func barColor(_ index: Int) -> String {
        let bar = bars[index]
        if let c = bar.color { return c }
        guard signed else { return Self.plainColor }
        return bar.value < 0 ? Self.negativeColor : Self.positiveColor
    }

    public func svg() -> String {
        let values = bars.map(\.value).filter(\.isFinite) + referenceLines.map(\.value)
        let axis = ValueAxis(values: values, logarithmic: false, includeZero: true)
        let valueText = bars.map { NumberFormat.significant($0.value, digits: 3) }
        let labelWidth = bars.map { SVGStyle.textWidth($0.label, size: SVGStyle.tickSize) }.max() ?? 0
        let n = Double(max(bars.count, 1))
        var w: SVGWriter
        switch orientation {
        case .vertical:
            let slot = min(64, max(14, 560 / n))
            let rotate = labelWidth > slot - 4
            let width = self.width ?? max(360, slot * n + 120)
            let extraBottom = rotate ? labelWidth * 0.72 : 0
            let height = self.height ?? 360 + extraBottom
            var frame = PlotFrame(width: width, height: height, title: title, xLabel: categoryLabel, yLabel: valueLabel,
                                  yTickLabels: axis.labels, rightExtra: 0)
            frame.bottom += extraBottom
            let vs = axis.scale(from: frame.plotBottom, to: frame.plotTop)
            w = SVGWriter(width: width, height: height)
            frame.drawTitleAndLabels(&w, title: title, xLabel: categoryLabel, yLabel: valueLabel)
            frame.drawYAxis(&w, scale: vs, ticks: axis.ticks, labels: axis.labels, grid: true)
            let band = (frame.plotRight - frame.plotLeft) / n
            let zero = vs.pixel(0)
            w.open("g", [("class", "bars")])
            for (i, bar) in bars.enumerated() {
                let cx = frame.plotLeft + (Double(i) + 0.5) * band
                let barW = band * 0.72
                if bar.value.isFinite {
                    let y = vs.pixel(bar.value)
                    w.open("g", [])
                    w.element("rect", [("x", .number(cx - barW / 2)), ("y", .number(min(y, zero))), ("width", .number(barW)), ("height", .number(abs(zero - y))), ("fill", .text(barColor(i)))])
                    w.element("title", [], text: "\(bar.label): \(valueText[i])")
                    w.close("g")
                    if showValues && band >= 24 {
                        let ty = bar.value >= 0 ? y - 4 : y + 12
                        w.text(valueText[i], x: cx, y: ty, size: SVGStyle.tickSize - 1, anchor: "middle", fill: "#333")
                    }
                }
                if rotate {
                    w.text(bar.label, x: cx + 3, y: frame.plotBottom + 10, size: SVGStyle.tickSize, anchor: "end", fill: "#444", rotate: -45)
                } else {
                    w.text(bar.label, x: cx, y: frame.plotBottom + 15, size: SVGStyle.tickSize, anchor: "middle", fill: "#444")
                }
            }
            w.close("g")
            w.element("line", [("x1", .number(frame.plotLeft)), ("y1", .number(zero)), ("x2", .number(frame.plotRight)), ("y2", .number(zero)), ("stroke", "#333333")])
            for ref in referenceLines {
                let y = vs.pixel(ref.value)
                w.element("line", [("x1", .number(frame.plotLeft)), ("y1", .number(y)), ("x2", .number(frame.plotRight)), ("y2", .number(y)), ("stroke", "#777777"), ("stroke-dasharray", "5 4")])
                w.haloText(ref.label, x: frame.plotRight - 4, y: y - 4, size: SVGStyle.tickSize, anchor: "end", fill: "#555")
            }
            w.element("line", [("x1", .number(frame.plotLeft)), ("y1", .number(frame.plotTop)), ("x2", .number(frame.plotLeft)), ("y2", .number(frame.plotBottom)), ("stroke", .text(SVGStyle.axisColor))])
        case .horizontal:
            let slot = 22.0
            let valueRoom = showValues ? 44.0 : 0
            let width = self.width ?? 640
            let height = self.height ?? (slot * n + (title == nil ? 16 : 38) + 30 + (valueLabel == nil ? 0 : 20) + 6)
            var frame = PlotFrame(width: width, height: height, title: title, xLabel: valueLabel, yLabel: categoryLabel,
                                  yTickLabels: [], rightExtra: valueRoom)
            frame.left = 14 + labelWidth + (categoryLabel == nil ? 0 : 22)
            frame.left += bars.contains { $0.value < 0 } && showValues ? valueRoom : 0
            let vs = axis.scale(from: frame.plotLeft, to: frame.plotRight)
            w = SVGWriter(width: width, height: height)
            frame.drawTitleAndLabels(&w, title: title, xLabel: valueLabel, yLabel: categoryLabel)
            frame.drawXAxis(&w, scale: vs, ticks: axis.ticks, labels: axis.labels, grid: true)
            let band = (frame.plotBottom - frame.plotTop) / n
            let zero = vs.pixel(0)
            w.open("g", [("class", "bars")])
            for (i, bar) in bars.enumerated() {
                let cy = frame.plotTop + (Double(i) + 0.5) * band
                let barH = band * 0.72
                if bar.value.isFinite {
                    let x = vs.pixel(bar.value)
                    w.open("g", [])
                    w.element("rect", [("x", .number(min(x, zero))), ("y", .number(cy - barH / 2)), ("width", .number(abs(x - zero))), ("height", .number(barH)), ("fill", .text(barColor(i)))])
                    w.element("title", [], text: "\(bar.label): \(valueText[i])")
                    w.close("g")
                    if showValues {
                        if bar.value >= 0 {
                            w.text(valueText[i], x: x + 4, y: cy + 3.5, size: SVGStyle.tickSize - 1, fill: "#333")
                        } else {
                            w.text(valueText[i], x: x - 4, y: cy + 3.5, size: SVGStyle.tickSize - 1, anchor: "end", fill: "#333")
                        }
                    }
                }
                let labelX = frame.plotLeft - 6 - (bars.contains { $0.value < 0 } && showValues ? valueRoom : 0)
                w.text(bar.label, x: labelX, y: cy + 3.5, size: SVGStyle.tickSize, anchor: "end", fill: "#444")
            }
            w.close("g")
            w.element("line", [("x1", .number(zero)), ("y1", .number(frame.plotTop)), ("x2", .number(zero)), ("y2", .number(frame.plotBottom)), ("stroke", "#333333")])
            for ref in referenceLines {
                let x = vs.pixel(ref.value)
                w.element("line", [("x1", .number(x)), ("y1", .number(frame.plotTop)), ("x2", .number(x)), ("y2", .number(frame.plotBottom)), ("stroke", "#777777"), ("stroke-dasharray", "5 4")])
                w.haloText(ref.label, x: x + 4, y: frame.plotTop + 10, size: SVGStyle.tickSize, fill: "#555")
            }
        }
        return w.render(title: title)
    }
}
