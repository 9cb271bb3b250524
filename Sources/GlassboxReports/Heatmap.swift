import Foundation

/// A matrix as coloured cells: rows top to bottom, columns left to right, with row and
/// column labels, a colour bar, and optionally each cell's value printed in it.
///
/// Used for WᵀW (superposition), attention patterns [query, key], patching effects
/// [layer, position] and lens top-token grids (with `cellText`).
public struct Heatmap: SVGRenderable, Equatable {
    public var values: [[Double]]
    public var rowLabels: [String]
    public var columnLabels: [String]
    public var title: String?
    public var xLabel: String?
    public var yLabel: String?
    public var scale: ColorScale
    /// Print each cell's value (when the cells are big enough to hold it).
    public var showValues: Bool
    /// Text per cell that replaces the printed value (e.g. a lens's top token).
    public var cellText: [[String]]?
    /// Label of the colour bar (the quantity the colour encodes).
    public var colorBarLabel: String?
    /// Cell edge in pixels; `nil` sizes cells so the matrix fits about 560 px.
    public var cellSize: Double?

    public init(
        values: [[Double]], rowLabels: [String]? = nil, columnLabels: [String]? = nil,
        title: String? = nil, xLabel: String? = nil, yLabel: String? = nil,
        scale: ColorScale? = nil, scaleKind: ColorScale.Kind = .sequential,
        showValues: Bool = false, cellText: [[String]]? = nil, colorBarLabel: String? = nil, cellSize: Double? = nil
    ) {
        self.values = values
        let columns = values.map(\.count).max() ?? 0
        self.rowLabels = rowLabels ?? values.indices.map(String.init)
        self.columnLabels = columnLabels ?? (0..<columns).map(String.init)
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.scale = scale ?? ColorScale.fitted(scaleKind, to: values.flatMap { $0 })
        self.showValues = showValues
        self.cellText = cellText
        self.colorBarLabel = colorBarLabel
        self.cellSize = cellSize
    }

    public var rowCount: Int { values.count }
    public var columnCount: Int { values.map(\.count).max() ?? 0 }

    /// The fill of cell (row, column), as written into the SVG.
    public func cellColor(row: Int, column: Int) -> RGBColor {
        scale.color(for: values[row][column])
    }

    var resolvedCellSize: Double {
        if let cellSize { return cellSize }
        let longest = Double(max(rowCount, columnCount, 1))
        return min(44, max(6, (560 / longest).rounded(.down)))
    }

    /// Matrices with more rows or columns than this are drawn block-averaged, so the SVG
    /// stays small (at most 128 × 128 cells) whatever the input.
    public static let maximumSide = 128

    /// The block-averaged heatmap drawn for large inputs (same colour scale), or nil
    /// when the matrix is small enough to draw cell by cell.
    public func pooled() -> Heatmap? {
        let fr = (rowCount + Self.maximumSide - 1) / Self.maximumSide
        let fc = (columnCount + Self.maximumSide - 1) / Self.maximumSide
        guard fr > 1 || fc > 1 else { return nil }
        let rows = (rowCount + fr - 1) / fr, cols = (columnCount + fc - 1) / fc
        var pooledValues = Array(repeating: Array(repeating: Double.nan, count: cols), count: rows)
        for r in 0..<rows {
            for c in 0..<cols {
                var sum = 0.0, n = 0
                for i in (r * fr)..<min(rowCount, (r + 1) * fr) {
                    for j in (c * fc)..<min(values[i].count, (c + 1) * fc) where values[i][j].isFinite {
                        sum += values[i][j]
                        n += 1
                    }
                }
                if n > 0 { pooledValues[r][c] = sum / Double(n) }
            }
        }
        func blockLabels(_ labels: [String], _ count: Int, _ f: Int, _ blocks: Int) -> [String] {
            (0..<blocks).map { b in
                let lo = b * f, hi = min(count, (b + 1) * f) - 1
                let first = lo < labels.count ? labels[lo] : String(lo)
                let last = hi < labels.count ? labels[hi] : String(hi)
                return f == 1 ? first : "\(first)–\(last)"
            }
        }
        var copy = self
        copy.values = pooledValues
        copy.rowLabels = blockLabels(rowLabels, rowCount, fr, rows)
        copy.columnLabels = blockLabels(columnLabels, columnCount, fc, cols)
        copy.cellText = nil
        copy.showValues = false
        copy.cellSize = nil
        copy.title = (title.map { $0 + " " } ?? "") + "(mean over \(fr)×\(fc) blocks)"
        return copy
    }

    public func svg() -> String {
        if let pooled = pooled() { return pooled.svg() }
        let cell = resolvedCellSize
        let rows = rowCount, cols = columnCount
        let rowLabelWidth = (rowLabels.map { SVGStyle.textWidth($0, size: SVGStyle.tickSize) }.max() ?? 0)
        let colLabelWidth = (columnLabels.map { SVGStyle.textWidth($0, size: SVGStyle.tickSize) }.max() ?? 0)
        // Column labels are rotated when they would not fit under their cells.
        let rotateColumns = colLabelWidth > cell - 2
        let labelStride = max(1, Int((SVGStyle.tickSize * 1.3 / cell).rounded(.up)))
        let left = 12 + (yLabel == nil ? 0 : 22) + rowLabelWidth + 6
        let top: Double = title == nil ? 14 : 40
        let gridW = cell * Double(cols), gridH = cell * Double(rows)
        let bottom = 10 + (rotateColumns ? colLabelWidth * 0.72 + 12 : 18) + (xLabel == nil ? 0 : 22)
        let barX = left + gridW + 18, barW = 14.0
        let barLabels = colorBarTicks()
        let barLabelWidth = barLabels.map { SVGStyle.textWidth($0.1, size: SVGStyle.tickSize) }.max() ?? 20
        let width = max(barX + barW + 8 + barLabelWidth + (colorBarLabel == nil ? 0 : 22) + 10,
                        title.map { SVGStyle.textWidth($0, size: SVGStyle.titleSize) + 30 } ?? 0)
        let barH = max(gridH, 120)
        let height = top + max(gridH, barH) + bottom

        var w = SVGWriter(width: width.rounded(.up), height: height.rounded(.up))
        if let title {
            w.text(title, x: width / 2, y: 24, size: SVGStyle.titleSize, anchor: "middle", weight: "600")
        }
        // Cells.
        w.open("g", [("class", "cells"), ("shape-rendering", "crispEdges")])
        for r in 0..<rows {
            for c in 0..<values[r].count {
                let v = values[r][c]
                let color = scale.color(for: v)
                let x = left + Double(c) * cell, y = top + Double(r) * cell
                w.open("g", [])
                w.element("rect", [("x", .number(x)), ("y", .number(y)), ("width", .number(cell)), ("height", .number(cell)), ("fill", .text(color.hex))])
                w.element("title", [], text: "\(rowLabel(r)), \(columnLabel(c)): \(NumberFormat.significant(v, digits: 4))")
                w.close("g")
                if let text = cellLabel(row: r, column: c, cell: cell) {
                    let size = min(SVGStyle.tickSize, cell * 0.36)
                    w.text(text, x: x + cell / 2, y: y + cell / 2 + size * 0.35, size: size, anchor: "middle", fill: color.contrastingText)
                }
            }
        }
        w.close("g")
        w.element("rect", [("x", .number(left)), ("y", .number(top)), ("width", .number(gridW)), ("height", .number(gridH)), ("fill", "none"), ("stroke", .text(SVGStyle.axisColor)), ("stroke-width", 0.8)])
        // Row labels.
        w.open("g", [("class", "row-labels")])
        for r in stride(from: 0, to: rows, by: labelStride) {
            w.text(rowLabel(r), x: left - 5, y: top + (Double(r) + 0.5) * cell + 3.5, size: SVGStyle.tickSize, anchor: "end", fill: "#444")
        }
        w.close("g")
        // Column labels.
        w.open("g", [("class", "column-labels")])
        for c in stride(from: 0, to: cols, by: labelStride) {
            let x = left + (Double(c) + 0.5) * cell
            if rotateColumns {
                w.text(columnLabel(c), x: x + 3, y: top + gridH + 8, size: SVGStyle.tickSize, anchor: "end", fill: "#444", rotate: -45)
            } else {
                w.text(columnLabel(c), x: x, y: top + gridH + 14, size: SVGStyle.tickSize, anchor: "middle", fill: "#444")
            }
        }
        w.close("g")
        if let xLabel {
            w.text(xLabel, x: left + gridW / 2, y: height - 8, size: SVGStyle.labelSize, anchor: "middle")
        }
        if let yLabel {
            w.text(yLabel, x: 16, y: top + gridH / 2, size: SVGStyle.labelSize, anchor: "middle", rotate: -90)
        }
        drawColorBar(&w, x: barX, y: top, width: barW, height: barH, ticks: barLabels)
        return w.render(title: title)
    }

    private func rowLabel(_ r: Int) -> String { r < rowLabels.count ? rowLabels[r] : String(r) }
    private func columnLabel(_ c: Int) -> String { c < columnLabels.count ? columnLabels[c] : String(c) }

    private func cellLabel(row: Int, column: Int, cell: Double) -> String? {
        if let cellText, row < cellText.count, column < cellText[row].count {
            return cell >= 14 ? cellText[row][column] : nil
        }
        guard showValues, cell >= 22 else { return nil }
        return NumberFormat.significant(values[row][column], digits: cell >= 34 ? 3 : 2)
    }

    /// Tick values and labels along the colour bar.
    func colorBarTicks() -> [(Double, String)] {
        let ticks = ChartAxis.niceTicks(scale.lower, scale.upper, target: 5)
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        return ticks.map { ($0, ChartAxis.label($0, step: step)) }
    }

    private func drawColorBar(_ w: inout SVGWriter, x: Double, y: Double, width: Double, height: Double, ticks: [(Double, String)]) {
        // The scale is piecewise linear between its stops, so a gradient with the same
        // stops reproduces it exactly (top = upper end).
        let stops = scale.stops
        w.open("defs")
        w.open("linearGradient", [("id", "colorbar"), ("x1", 0), ("y1", 1), ("x2", 0), ("y2", 0)])
        for (i, color) in stops.enumerated() {
            w.element("stop", [("offset", .number(Double(i) / Double(stops.count - 1))), ("stop-color", .text(color.hex))])
        }
        w.close("linearGradient")
        w.close("defs")
        w.open("g", [("class", "color-bar")])
        w.element("rect", [("x", .number(x)), ("y", .number(y)), ("width", .number(width)), ("height", .number(height)), ("fill", "url(#colorbar)")])
        w.element("rect", [("x", .number(x)), ("y", .number(y)), ("width", .number(width)), ("height", .number(height)), ("fill", "none"), ("stroke", .text(SVGStyle.axisColor)), ("stroke-width", 0.8)])
        for (v, label) in ticks {
            let ty = y + (1 - scale.position(v)) * height
            w.element("line", [("x1", .number(x + width)), ("y1", .number(ty)), ("x2", .number(x + width + 4)), ("y2", .number(ty)), ("stroke", .text(SVGStyle.axisColor))])
            w.text(label, x: x + width + 7, y: ty + 3.5, size: SVGStyle.tickSize, fill: "#444")
        }
        if let colorBarLabel {
            let widest = ticks.map { SVGStyle.textWidth($0.1, size: SVGStyle.tickSize) }.max() ?? 20
            w.text(colorBarLabel, x: x + width + 14 + widest, y: y + height / 2, size: SVGStyle.labelSize, anchor: "middle", rotate: 90)
        }
        w.close("g")
    }
}
