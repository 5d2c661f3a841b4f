import XCTest
@testable import LSTMKit

/// Concatenate(axis=-1): values side by side, the gradient split back, Keras 3's output mask.
final class ConcatenateTests: XCTestCase {
    func layer() throws -> Concatenate {
        try Concatenate(name: "concatenate", config: ConfigReader(["axis": -1], className: "Concatenate"))
    }

    func testValuesAndGradientSplit() throws {
        let c = try layer()
        var rng = Rng(seed: 3)
        let a = randomTensor([2, 3, 2], &rng), b = randomTensor([2, 3, 4], &rng)
        let (ys, _) = c.forward([a, b], masks: [nil, nil], training: false, rng: &rng)
        XCTAssertEqual(ys[0].shape, [2, 3, 6])
        for r in 0..<6 {
            XCTAssertEqual(Array(ys[0].data[(r * 6)..<(r * 6 + 2)]), Array(a.data[(r * 2)..<(r * 2 + 2)]))
            XCTAssertEqual(Array(ys[0].data[(r * 6 + 2)..<(r * 6 + 6)]), Array(b.data[(r * 4)..<(r * 4 + 4)]))
        }
        // the layer is linear: its gradient is the matching slice of dy, exactly
        let dy = randomTensor([2, 3, 6], &rng)
        let dx = c.backward([dy])
        XCTAssertEqual(dx.map { $0.shape }, [[2, 3, 2], [2, 3, 4]])
        for r in 0..<6 {
            XCTAssertEqual(Array(dx[0].data[(r * 2)..<(r * 2 + 2)]), Array(dy.data[(r * 6)..<(r * 6 + 2)]))
            XCTAssertEqual(Array(dx[1].data[(r * 4)..<(r * 4 + 4)]), Array(dy.data[(r * 6 + 2)..<(r * 6 + 6)]))
        }
    }

    /// Keras 3 (merging/concatenate.py compute_mask): an input without a mask keeps every step,
    /// and a step is masked only if every input masks it.
    func testMaskIsKeras3s() throws {
        let c = try layer()
        var rng = Rng(seed: 4)
        let a = randomTensor([2, 3, 2], &rng), b = randomTensor([2, 3, 2], &rng)
        let m1: [Float] = [1, 0, 0, 1, 1, 0], m2: [Float] = [0, 0, 1, 1, 0, 0]
        XCTAssertEqual(c.forward([a, b], masks: [m1, m2], training: false, rng: &rng).1[0], [1, 0, 1, 1, 1, 0])
        XCTAssertNil(c.forward([a, b], masks: [m1, nil], training: false, rng: &rng).1[0])
        XCTAssertNil(c.forward([a, b], masks: [nil, nil], training: false, rng: &rng).1[0])
    }
}
