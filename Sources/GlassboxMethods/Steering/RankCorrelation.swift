import Foundation

/// Spearman's rank correlation ρ of two samples (ties get their average rank; Pearson
/// correlation of the ranks). NaN when either sample is constant or the lengths differ.
public func spearmanCorrelation(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count, a.count > 1 else { return .nan }
    func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return r
    }
    let ra = ranks(a), rb = ranks(b)
    let ma = ra.reduce(0, +) / Double(ra.count), mb = rb.reduce(0, +) / Double(rb.count)
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in 0..<ra.count { sab += (ra[i] - ma) * (rb[i] - mb); saa += (ra[i] - ma) * (ra[i] - ma); sbb += (rb[i] - mb) * (rb[i] - mb) }
    guard saa > 0, sbb > 0 else { return .nan }
    return sab / (saa * sbb).squareRoot()
}
