import Testing
@testable import GlassboxTensor

/// Two-sided closeness check that reports the worst index: |a − b| ≤ atol + rtol·|b| everywhere.
func expectClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 0,
                 _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    var worst = -1
    var worstExcess: Float = 0
    var worstDiff: Float = 0
    for i in actual.indices {
        let diff = abs(actual[i] - expected[i])
        let bound = atol + rtol * abs(expected[i])
        if !(diff <= bound) {
            let excess = diff.isNaN ? .infinity : diff - bound
            if worst < 0 || excess > worstExcess { worst = i; worstExcess = excess; worstDiff = diff }
        }
    }
    #expect(worst < 0, "\(what): worst index \(worst): got \(worst >= 0 ? actual[worst] : 0), expected \(worst >= 0 ? expected[worst] : 0) (|diff| \(worstDiff), atol \(atol), rtol \(rtol))", sourceLocation: sourceLocation)
}

func expectClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-5, rtol: Float = 0,
                 _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
    expectClose(actual.scalars, expected.scalars, atol: atol, rtol: rtol, what, sourceLocation: sourceLocation)
}
