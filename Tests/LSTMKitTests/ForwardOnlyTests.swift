import XCTest
@testable import LSTMKit

/// A forward-only pass (predict, evaluate) projects the input into a ring of a few steps
/// (RecurrentLayer.forwardOnly) and keeps two steps of states where it can; its outputs and
/// final states must equal the full pass's.
final class ForwardOnlyTests: XCTestCase {
    let b = 3, t = 45, d = 4

    func testRingGivesTheSameOutputs() throws {
        var rng = Rng(seed: 11)
        let x = randomTensor([b, t, d], &rng)
        // a mask with a hole keeps the plain plan (no padding skip), which the ring needs
        var holed = [Float](repeating: 1, count: b * t)
        holed[7] = 0; holed[t + 30] = 0
        for cls in ["LSTM", "GRU", "SimpleRNN"] {
            for seq in [false, true] {
                for back in [false, true] {
                    for mask in [nil, holed] {
                        let config: JSON = .object(["units": 6, "return_sequences": .bool(seq), "go_backwards": .bool(back),
                                                    "return_state": true])
                        let layer = try XCTUnwrap(try makeLayer(cls, config, input: [t, d], seed: 5) as? RecurrentLayer)
                        var r1 = Rng(seed: 1), r2 = Rng(seed: 1)
                        let (full, _) = layer.forward(x, mask: mask, training: false, rng: &r1)
                        let fullStates = layer.finalStates
                        XCTAssertEqual(layer.zRingSteps, 0)
                        layer.forwardOnly = true
                        let (ring, _) = layer.forward(x, mask: mask, training: false, rng: &r2)
                        let what = "\(cls) seq=\(seq) back=\(back) mask=\(mask != nil)"
                        XCTAssertGreaterThan(layer.zRingSteps, 0, what)
                        XCTAssertLessThan(layer.z.count, t * b * layer.gateCount * 6, what)
                        // the states too, where only the last step's are read
                        XCTAssertEqual(layer.stateTimes, seq || mask != nil ? t + 1 : 2, what)
                        XCTAssertEqual(layer.hs.count, layer.stateTimes * b * 6, what)
                        layer.forwardOnly = false
                        XCTAssertEqual(ring.shape, full.shape, what)
                        for (u, v) in zip(ring.data, full.data) { XCTAssertEqual(u, v, accuracy: 1e-5, what) }
                        for (s1, s2) in zip(layer.finalStates, fullStates) {
                            for (u, v) in zip(s1.data, s2.data) { XCTAssertEqual(u, v, accuracy: 1e-5, what) }
                        }
                    }
                }
            }
        }
    }

    /// An LSTM reading a repeated row (RepeatVector) in a forward-only pass adds the row's one
    /// projection itself (cellAddsProjection): z holds one step, and the outputs and states are
    /// the full pass's.
    func testLSTMAddsARepeatedProjectionItself() throws {
        var rng = Rng(seed: 12)
        let row = randomTensor([b, d], &rng)
        var x = Tensor(zeros: [b, t, d])
        for i in 0..<b { for s in 0..<t { for j in 0..<d { x.data[(i * t + s) * d + j] = row.data[i * d + j] } } }
        for seq in [false, true] {
            for back in [false, true] {
                let config: JSON = .object(["units": 6, "return_sequences": .bool(seq), "go_backwards": .bool(back),
                                            "return_state": true])
                let layer = try XCTUnwrap(try makeLayer("LSTM", config, input: [t, d], seed: 5) as? RecurrentLayer)
                var r1 = Rng(seed: 1), r2 = Rng(seed: 1)
                let (full, _) = layer.forward(x, mask: nil, training: false, rng: &r1)
                let fullStates = layer.finalStates
                layer.forwardOnly = true
                let (only, _) = layer.forward(x, mask: nil, training: false, rng: &r2)
                layer.forwardOnly = false
                let what = "seq=\(seq) back=\(back)"
                XCTAssertTrue(layer.repeatedInput, what)
                XCTAssertEqual(layer.z.count, b * 4 * 6, what)
                XCTAssertEqual(only.shape, full.shape, what)
                for (u, v) in zip(only.data, full.data) { XCTAssertEqual(u, v, accuracy: 1e-6, what) }
                for (s1, s2) in zip(layer.finalStates, fullStates) {
                    for (u, v) in zip(s1.data, s2.data) { XCTAssertEqual(u, v, accuracy: 1e-6, what) }
                }
            }
        }
    }
}
