import Foundation

/// An sRGB colour with 8-bit channels.
public struct RGBColor: Sendable, Equatable, CustomStringConvertible {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// Parses `#rrggbb`.
    public init?(hex: String) {
        var s = Substring(hex)
        if s.hasPrefix("#") { s = s.dropFirst() }
        guard s.count == 6, let v = UInt32(s, radix: 16) else { return nil }
        self.init(red: UInt8((v >> 16) & 0xff), green: UInt8((v >> 8) & 0xff), blue: UInt8(v & 0xff))
    }

    /// `#rrggbb`, lower case.
    public var hex: String {
        let digits = Array("0123456789abcdef")
        var out = "#"
        for c in [red, green, blue] {
            out.append(digits[Int(c >> 4)])
            out.append(digits[Int(c & 0xf)])
        }
        return out
    }

    public var description: String { hex }

    /// Relative luminance (WCAG), 0 = black, 1 = white.
    public var luminance: Double {
        func channel(_ c: UInt8) -> Double {
            let v = Double(c) / 255
            return v <= 0.03928 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)
    }

    /// Black or white, whichever reads better on this colour.
    public var contrastingText: String { luminance > 0.35 ? "#111111" : "#ffffff" }

    static func mix(_ a: RGBColor, _ b: RGBColor, _ t: Double) -> RGBColor {
        func lerp(_ x: UInt8, _ y: UInt8) -> UInt8 {
            UInt8((Double(x) + (Double(y) - Double(x)) * t).rounded())
        }
        return RGBColor(red: lerp(a.red, b.red), green: lerp(a.green, b.green), blue: lerp(a.blue, b.blue))
    }
}

/// Maps numbers to colours.
///
/// - `sequential`: `lo` → dark purple … `hi` → yellow (viridis-like, perceptually ordered).
/// - `diverging`: symmetric around `center` (white); below → blue, above → red;
///   `radius` is the distance from the centre that reaches the darkest colour.
public struct ColorScale: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable { case sequential, diverging }

    public var kind: Kind
    /// The value mapped to the first colour stop.
    public var lower: Double
    /// The value mapped to the last colour stop.
    public var upper: Double

    public static func sequential(lower: Double, upper: Double) -> ColorScale {
        ColorScale(kind: .sequential, lower: lower, upper: upper)
    }

    public static func diverging(center: Double = 0, radius: Double) -> ColorScale {
        ColorScale(kind: .diverging, lower: center - abs(radius), upper: center + abs(radius))
    }

    /// A scale fitted to data: diverging around 0 with radius max |v|, or sequential min…max.
    public static func fitted(_ kind: Kind, to values: [Double]) -> ColorScale {
        let finite = values.filter(\.isFinite)
        switch kind {
        case .diverging:
            let m = finite.map(abs).max() ?? 1
            return .diverging(radius: m > 0 ? m : 1)
        case .sequential:
            let lo = finite.min() ?? 0
            var hi = finite.max() ?? 1
            if hi <= lo { hi = lo + 1 }
            return .sequential(lower: lo, upper: hi)
        }
    }

    static let sequentialStops: [RGBColor] = [
        "#440154", "#482878", "#3e4989", "#31688e", "#26828e",
        "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725",
    ].map { RGBColor(hex: $0)! }

    static let divergingStops: [RGBColor] = [
        "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
        "#fddbc7", "#f4a582", "#d6604d", "#b2182b",
    ].map { RGBColor(hex: $0)! }

    var stops: [RGBColor] { kind == .sequential ? Self.sequentialStops : Self.divergingStops }

    /// Position of `value` on the scale in [0, 1] (clamped); NaN maps to 0.5.
    public func position(_ value: Double) -> Double {
        guard value.isFinite else { return value.isNaN ? 0.5 : (value > 0 ? 1 : 0) }
        let span = upper - lower
        guard span > 0 else { return 0.5 }
        return min(1, max(0, (value - lower) / span))
    }

    /// The colour of `value`. Non-finite values are grey.
    public func color(for value: Double) -> RGBColor {
        if value.isNaN { return RGBColor(red: 0xbb, green: 0xbb, blue: 0xbb) }
        let t = position(value)
        let stops = self.stops
        let scaled = t * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(scaled.rounded(.down)))
        return RGBColor.mix(stops[i], stops[i + 1], scaled - Double(i))
    }
}
