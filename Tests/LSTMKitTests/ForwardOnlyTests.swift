import XCTest
@testable import LSTMKit

/// A forward-only pass (predict, evaluate) projects the input into a ring of a few steps
/// (RecurrentLayer.forwardOnly); its outputs and final states must equal the full pass's.
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
}
