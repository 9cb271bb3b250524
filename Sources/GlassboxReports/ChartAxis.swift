import Foundation

/// A mapping from data values to pixel coordinates, linear or base-10 logarithmic.
public struct AxisScale: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var pixelStart: Double
    public var pixelEnd: Double
    public var logarithmic: Bool

    public init(lower: Double, upper: Double, pixelStart: Double, pixelEnd: Double, logarithmic: Bool = false) {
        self.lower = lower
        self.upper = upper
        self.pixelStart = pixelStart
        self.pixelEnd = pixelEnd
        self.logarithmic = logarithmic
    }

    private func transform(_ v: Double) -> Double { logarithmic ? log10(v) : v }

    /// Pixel position of `value` (values outside the domain extrapolate).
    public func pixel(_ value: Double) -> Double {
        let a = transform(lower), b = transform(upper)
        guard b != a else { return (pixelStart + pixelEnd) / 2 }
        return pixelStart + (transform(value) - a) / (b - a) * (pixelEnd - pixelStart)
    }

    /// Tick values inside the domain: 1-2-5 steps (linear) or powers of ten (log).
    public func ticks(target: Int = 6) -> [Double] {
        logarithmic ? ChartAxis.logTicks(lower, upper) : ChartAxis.niceTicks(lower, upper, target: target)
    }
}

/// Tick and domain helpers.
public enum ChartAxis {
    /// The 1-2-5 step that gives about `target` intervals over `span`.
    public static func niceStep(span: Double, target: Int) -> Double {
        guard span > 0, span.isFinite else { return 1 }
        let raw = span / Double(max(1, target))
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        let nice: Double = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 2.5 ? 2.5 : residual <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// Ticks at multiples of a nice step within [lo, hi].
    public static func niceTicks(_ lo: Double, _ hi: Double, target: Int = 6) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return lo.isFinite ? [lo] : [] }
        let step = niceStep(span: hi - lo, target: target)
        let first = (lo / step).rounded(.up)
        let last = (hi / step).rounded(.down)
        guard last >= first, last - first < 1000 else { return [lo, hi] }
        return stride(from: first, through: last, by: 1).map { k in
            let v = k * step
            return abs(v) < step * 1e-9 ? 0 : v
        }
    }

    /// Multiples of `step` within [lo, hi].
    public static func ticks(_ lo: Double, _ hi: Double, step: Double) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo, step > 0 else { return lo.isFinite ? [lo] : [] }
        let first = (lo / step - 1e-9).rounded(.up)
        let last = (hi / step + 1e-9).rounded(.down)
        guard last >= first, last - first < 1000 else { return [lo, hi] }
        return stride(from: first, through: last, by: 1).map { k in
            let v = k * step
            return abs(v) < step * 1e-9 ? 0 : v
        }
    }

    /// Powers of ten within [lo, hi] (lo > 0); thinned to at most ~8.
    public static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        guard lo > 0, hi > lo else { return lo > 0 ? [lo] : [] }
        let a = Int(ceil(log10(lo) - 1e-9)), b = Int(floor(log10(hi) + 1e-9))
        guard b >= a else { return [lo, hi] }
        let every = max(1, (b - a + 1 + 7) / 8)
        return stride(from: a, through: b, by: every).map { pow(10, Double($0)) }
    }

    /// Expands [lo, hi] to nice step boundaries (linear), so data do not touch the frame.
    public static func niceDomain(_ lo: Double, _ hi: Double, target: Int = 6, includeZero: Bool = false) -> (Double, Double) {
        var lo = lo, hi = hi
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        if !lo.isFinite || !hi.isFinite { return (0, 1) }
        if hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad; hi += pad
        }
        let step = niceStep(span: hi - lo, target: target)
        return ((lo / step).rounded(.down) * step, (hi / step).rounded(.up) * step)
    }

    /// Expands [lo, hi] (both > 0) to whole decades.
    public static func logDomain(_ lo: Double, _ hi: Double) -> (Double, Double) {
        guard lo > 0, hi > 0 else { return (1, 10) }
        let a = floor(log10(lo) + 1e-9), b = ceil(log10(hi) - 1e-9)
        return (pow(10, a), pow(10, b > a ? b : a + 1))
    }

    /// A tick label: plain numbers with only the decimals the step needs.
    public static func label(_ value: Double, step: Double) -> String {
        let magnitude = abs(value)
        if magnitude != 0 && (magnitude >= 1e6 || magnitude < 1e-4) {
            return NumberFormat.scientific(value, digits: 2)
        }
        var decimals = 2
        if step > 0 && step.isFinite {
            let e = floor(log10(step))
            let mantissa = step / pow(10, e)
            let whole = abs(mantissa - mantissa.rounded()) < 1e-6
            decimals = max(0, -Int(e)) + (whole ? 0 : 1)
        }
        return NumberFormat.fixed(value, decimals: min(decimals, 8))
    }

    /// A tick label on a log axis (powers of ten).
    public static func logLabel(_ value: Double) -> String {
        let e = Int(log10(value).rounded())
        if e >= -3 && e <= 4 { return NumberFormat.fixed(value, decimals: 4) }
        return "1e\(e)"
    }
}
