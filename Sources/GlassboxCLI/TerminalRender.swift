import Foundation

/// Terminal rendering shared by the method commands: aligned tables, heatmaps of a grid
/// of numbers, and tokens coloured by a signed score. Colour only when stdout is a
/// terminal (and `NO_COLOR` is unset); otherwise plain characters, so pipes and files stay clean.
enum Terminal {
    static let colour: Bool = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    /// Left-aligned columns separated by two spaces; numbers are already formatted by the caller.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = (0..<header.count).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            r.enumerated().map { c, s in c == r.count - 1 ? s : s.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }

    /// A heatmap of `grid[row][column]`, one character cell per value (two wide), rows
    /// labelled on the left and columns listed underneath. Values are scaled to the
    /// largest |value| when any is negative (blue–white–red), else to [min, max].
    static func heatmap(_ grid: [[Double]], rowLabels: [String], columnLabels: [String], title: String = "") -> String {
        let values = grid.flatMap { $0 }.filter { $0.isFinite }
        let lo = values.min() ?? 0, hi = values.max() ?? 0
        let signed = lo < 0
        let scale = signed ? max(abs(lo), abs(hi)) : hi - lo
        let shades: [Character] = [" ", "░", "▒", "▓", "█"]
        let labelWidth = rowLabels.map(\.count).max() ?? 0
        var out: [String] = []
        if !title.isEmpty { out.append(title) }
        for (r, row) in grid.enumerated() {
            var line = (r < rowLabels.count ? rowLabels[r] : "").padding(toLength: labelWidth, withPad: " ", startingAt: 0) + " "
            for v in row {
                guard v.isFinite else { line += "??"; continue }
                let t = scale > 0 ? (signed ? v / scale : (v - lo) / scale) : 0     // [-1, 1] or [0, 1]
                if colour {
                    line += "\u{1B}[48;5;\(ansi256(t, signed: signed))m  \u{1B}[0m"
                } else {
                    let s = shades[min(shades.count - 1, Int((abs(t) * Double(shades.count - 1)).rounded()))]
                    line += String(repeating: String(s), count: 2)
                }
            }
            out.append(line)
        }
        out.append(String(format: "scale: %@ %.4g … %.4g", signed ? "(blue < 0 < red)" : "(light → dark)", lo, hi))
        if !columnLabels.isEmpty {
            out.append("columns: " + columnLabels.enumerated().map { "\($0)=\($1.debugDescription)" }.joined(separator: " "))
        }
        return out.joined(separator: "\n")
    }

    /// Tokens with a background colour for their score (red positive, blue negative),
    /// or `token[score]` without colour.
    static func colouredTokens(_ tokens: [String], scores: [Double]) -> String {
        let m = scores.map(abs).filter(\.isFinite).max() ?? 0
        return zip(tokens, scores).map { tok, s in
            if colour {
                return "\u{1B}[48;5;\(ansi256(m > 0 ? s / m : 0, signed: true))m\(tok)\u{1B}[0m"
            }
            return tok + String(format: "[%+.3g]", s)
        }.joined()
    }

    /// xterm-256 colour for t in [-1, 1] (signed) or [0, 1].
    private static func ansi256(_ t: Double, signed: Bool) -> Int {
        let c = max(-1, min(1, t))
        if !signed {
            // white (231) → dark red through the 6×6×6 cube
            let k = Int((c * 5).rounded())
            return 16 + 36 * 5 + 6 * (5 - k) + (5 - k)
        }
        let k = Int((abs(c) * 5).rounded())
        return c >= 0 ? 16 + 36 * 5 + 6 * (5 - k) + (5 - k) : 16 + 36 * (5 - k) + 6 * (5 - k) + 5
    }
}
