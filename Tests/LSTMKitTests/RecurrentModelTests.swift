import XCTest
@testable import LSTMKit

/// The recurrent layers inside a Sequential model: Keras's names and counts, and the gradient of
/// the training loss through a masked stack of them.
final class RecurrentModelTests: XCTestCase {
    let stack: JSON = ["layers": [
        ["class_name": "Embedding", "config": ["input_dim": 9, "output_dim": 3, "mask_zero": true]],
        ["class_name": "Bidirectional", "config": ["merge_mode": "concat",
                                                   "layer": ["class_name": "GRU", "config": ["units": 3, "return_sequences": true]]]],
        ["class_name": "SimpleRNN", "config": ["units": 4, "return_sequences": true, "go_backwards": true]],
        ["class_name": "LSTM", "config": ["units": 2]],
        ["class_name": "Dense", "config": ["units": 1, "activation": "sigmoid"]],
    ]]

    func testNamesAndKerasCounts() throws {
        let m = try Model(config: stack, seed: 1)
        try m.build(input: [5])
        XCTAssertEqual(m.layers.map(\.name), ["embedding", "bidirectional", "simple_rnn", "lstm", "dense"])
        XCTAssertEqual(Array(m.weightNames[1...6]), ["bidirectional/forward_gru/kernel", "bidirectional/forward_gru/recurrent_kernel",
                                                     "bidirectional/forward_gru/bias", "bidirectional/backward_gru/kernel",
                                                     "bidirectional/backward_gru/recurrent_kernel", "bidirectional/backward_gru/bias"])
        let gru = 3 * (3 * (3 + 3) + 2 * 3)          // 3*(H*(D+H) + 2H), reset_after
        let simple = 4 * (6 + 4) + 4                  // H*(D+H) + H
        let lstm = 4 * (2 * (4 + 2) + 2)              // 4*(H*(D+H) + H)
        XCTAssertEqual(m.paramCount, 9 * 3 + 2 * gru + simple + lstm + 2 + 1)
        let s = m.summary
        XCTAssertTrue(s.contains("bidirectional (Bidirectional)"), s)
        XCTAssertTrue(s.contains("(None, 5, 6)"), s)
        // the configuration rebuilds the same model
        let again = try Model(config: m.config, seed: 1)
        try again.build(input: [5])
        XCTAssertEqual(again.weightNames, m.weightNames)
    }

    func testWholeModelGradientThroughMaskedStack() throws {
        let m = try Model(config: stack, seed: 3)
        try m.build(input: [5])
        var init_ = Rng(seed: 4)
        for p in m.params { p.value = p.value.map { $0 + init_.uniform(-0.3, 0.3) } }
        let x = Tensor(shape: [3, 5], data: [0, 0, 3, 4, 5, 1, 2, 8, 7, 6, 0, 3, 3, 0, 0])
        checkModelGradients(m, x: x, y: [1, 0, 1], samplesPerParam: 10)
    }
}
