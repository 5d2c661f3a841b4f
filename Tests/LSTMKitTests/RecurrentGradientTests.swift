import XCTest
@testable import LSTMKit

/// Finite-difference checks of the recurrent layers built on RecurrentLayer, and the semantics
/// that the gradients alone would not catch (go_backwards order, masks, dropout at inference).
final class RecurrentGradientTests: XCTestCase {
    // post-padded, pre-padded and a gap in the middle
    let mask3x5: [Float] = [1, 1, 1, 0, 0,
                            0, 0, 1, 1, 1,
                            1, 0, 1, 1, 0]

    /// Zero biases would hide a bias index error; give every weight a random value.
    func randomizeWeights(_ layer: Layer, seed: UInt64, scale: Float = 0.6) {
        var rng = Rng(seed: seed)
        for p in layer.params { p.value = (0..<p.count).map { _ in rng.uniform(-scale, scale) } }
    }

    func recurrent(_ cls: String, _ config: [String: JSON], input: FeatureShape = [5, 2], seed: UInt64 = 7) throws -> Layer {
        let layer = try makeLayer(cls, .object(config), input: input, seed: seed)
        randomizeWeights(layer, seed: seed + 100)
        return layer
    }

    func testGRUBothResetModes() throws {
        for resetAfter in [true, false] {
            for seq in [false, true] {
                let layer = try recurrent("GRU", ["units": 4, "reset_after": .bool(resetAfter), "return_sequences": .bool(seq)])
                XCTAssertEqual(layer.params.map { $0.shape }, [[2, 12], [4, 12], resetAfter ? [2, 12] : [12]])
                var rng = Rng(seed: 11)
                checkLayerGradients(layer, x: randomTensor([3, 5, 2], &rng), samples: 40)
            }
        }
    }

    func testSimpleRNNActivations() throws {
        for act in ["tanh", "sigmoid", "linear"] {
            for seq in [false, true] {
                let layer = try recurrent("SimpleRNN", ["units": 3, "activation": .string(act), "return_sequences": .bool(seq)])
                var rng = Rng(seed: 12)
                checkLayerGradients(layer, x: randomTensor([3, 5, 2], &rng), samples: 30)
            }
        }
    }

    func testGoBackwardsGradients() throws {
        for cls in ["LSTM", "GRU", "SimpleRNN"] {
            for seq in [false, true] {
                let layer = try recurrent(cls, ["units": 3, "go_backwards": true, "return_sequences": .bool(seq)])
                var rng = Rng(seed: 13)
                checkLayerGradients(layer, x: randomTensor([2, 5, 2], &rng), samples: 30)
            }
        }
    }

    func testEachRecurrentLayerWithMask() throws {
        let configs: [(String, [String: JSON])] = [("LSTM", [:]), ("GRU", [:]), ("GRU", ["reset_after": false]),
                                                    ("SimpleRNN", [:])]
        for (cls, extra) in configs {
            for seq in [false, true] {
                for back in [false, true] {
                    var config = extra
                    config["units"] = 3
                    config["return_sequences"] = .bool(seq)
                    config["go_backwards"] = .bool(back)
                    let layer = try recurrent(cls, config)
                    var rng = Rng(seed: 14)
                    checkLayerGradients(layer, x: randomTensor([3, 5, 2], &rng), mask: mask3x5, samples: 30)
                }
            }
        }
    }

    /// Keras: go_backwards processes the reversed sequence and returns outputs in that order.
    func testGoBackwardsIsTheForwardLayerOnReversedInput() throws {
        for cls in ["LSTM", "GRU", "SimpleRNN"] {
            for seq in [false, true] {
                let fwd = try recurrent(cls, ["units": 3, "return_sequences": .bool(seq)], seed: 21)
                let bwd = try recurrent(cls, ["units": 3, "return_sequences": .bool(seq), "go_backwards": true], seed: 21)
                var rng = Rng(seed: 15)
                let x = randomTensor([2, 5, 2], &rng)
                let (a, _) = fwd.forward(reverseTime(x), mask: nil, training: false, rng: &rng)
                let (b, _) = bwd.forward(x, mask: nil, training: false, rng: &rng)
                XCTAssertEqual(a.shape, b.shape)
                for i in 0..<a.count { XCTAssertEqual(a.data[i], b.data[i], accuracy: 1e-6, "\(cls) \(seq) [\(i)]") }
            }
        }
    }

    func testMaskedStepsCarryStateInEveryCell() throws {
        for cls in ["GRU", "SimpleRNN"] {
            let layer = try recurrent(cls, ["units": 3, "return_sequences": true], input: [4, 2])
            var rng = Rng(seed: 9)
            let x = randomTensor([1, 4, 2], &rng)
            let (y, _) = layer.forward(x, mask: [1, 0, 0, 1], training: false, rng: &rng)
            for j in 0..<3 {
                XCTAssertEqual(y.data[1 * 3 + j], y.data[j])
                XCTAssertEqual(y.data[2 * 3 + j], y.data[j])
            }
            XCTAssertNotEqual(y.data[3 * 3], y.data[0])
        }
    }

    func testBidirectionalEveryMergeMode() throws {
        for merge in ["concat", "sum", "mul", "ave"] {
            for seq in [false, true] {
                for cls in ["LSTM", "GRU"] {
                    let config: JSON = ["merge_mode": .string(merge),
                                        "layer": ["class_name": .string(cls),
                                                  "config": ["units": 3, "return_sequences": .bool(seq)]]]
                    let layer = try makeLayer("Bidirectional", config, input: [5, 2])
                    randomizeWeights(layer, seed: 31)
                    var rng = Rng(seed: 16)
                    let x = randomTensor([3, 5, 2], &rng)
                    checkLayerGradients(layer, x: x, samples: 16)
                    checkLayerGradients(layer, x: x, mask: mask3x5, samples: 16)
                }
            }
        }
    }

    func testBidirectionalWeightsAndHalves() throws {
        let config: JSON = ["layer": ["class_name": "SimpleRNN", "config": ["units": 2, "return_sequences": true]]]
        let bi = try makeLayer("Bidirectional", config, input: [4, 3]) as! Bidirectional
        XCTAssertEqual(bi.params.map { $0.name }, ["forward_simple_rnn/kernel", "forward_simple_rnn/recurrent_kernel",
                                                   "forward_simple_rnn/bias", "backward_simple_rnn/kernel",
                                                   "backward_simple_rnn/recurrent_kernel", "backward_simple_rnn/bias"])
        XCTAssertEqual(try bi.outputShape(for: [4, 3]), [4, 4])
        var rng = Rng(seed: 17)
        let x = randomTensor([2, 4, 3], &rng)
        let (y, mask) = bi.forward(x, mask: [1, 1, 1, 0, 1, 1, 1, 1], training: false, rng: &rng)
        XCTAssertEqual(mask, [1, 1, 1, 0, 1, 1, 1, 1])
        // Keras forces zero_output_for_mask on both copies when returning sequences
        XCTAssertEqual(Array(y.data[12..<16]), [0, 0, 0, 0])
        XCTAssertNotEqual(y.data[8], 0)
        // the backward half at timestep t is the reversed pass's output for t, flipped back
        let (f, _) = bi.forwardLayer.forward(x, mask: nil, training: false, rng: &rng)
        let (b, _) = bi.backwardLayer.forward(x, mask: nil, training: false, rng: &rng)
        for s in 0..<4 {
            for j in 0..<2 {
                XCTAssertEqual(y.data[(4 + s) * 4 + j], f.data[(4 + s) * 2 + j])
                XCTAssertEqual(y.data[(4 + s) * 4 + 2 + j], b.data[(4 + 3 - s) * 2 + j])
            }
        }
    }

    func testBidirectionalRefusesMergeModeNoneAndOtherLayers() {
        for config: JSON in [["merge_mode": nil, "layer": ["class_name": "LSTM", "config": ["units": 2]]],
                             ["layer": ["class_name": "Dense", "config": ["units": 2]]],
                             ["layer": ["class_name": "LSTM", "config": ["units": 2, "go_backwards": true]]],
                             ["merge_mode": "max", "layer": ["class_name": "GRU", "config": ["units": 2]]]] {
            XCTAssertThrowsError(try makeLayer("Bidirectional", config, input: [3, 2])) { error in
                XCTAssertEqual((error as? LSTMKitError)?.status, .badConfig)
            }
        }
    }

    func testDropoutGradientsWithFixedMasks() throws {
        let configs: [(String, [String: JSON])] = [("LSTM", [:]), ("GRU", [:]), ("GRU", ["reset_after": false]),
                                                    ("SimpleRNN", [:])]
        for (cls, extra) in configs {
            // dropout alone (one shared input mask), recurrent dropout alone and both (masks per gate)
            for (rate, recurrentRate) in [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)] as [(Double, Double)] {
                var config = extra
                config["units"] = 4
                config["return_sequences"] = true
                config["dropout"] = .number(rate)
                config["recurrent_dropout"] = .number(recurrentRate)
                config["go_backwards"] = .bool(recurrentRate > 0)
                let layer = try recurrent(cls, config)
                var rng = Rng(seed: 18)
                let x = randomTensor([3, 5, 2], &rng)
                checkLayerGradients(layer, x: x, training: true, samples: 24)
                checkLayerGradients(layer, x: x, mask: mask3x5, training: true, samples: 16)

                // training really drops something; inference ignores dropout
                var r1 = Rng(seed: 0), r2 = Rng(seed: 0)
                let (train, _) = layer.forward(x, mask: nil, training: true, rng: &r1)
                let (infer, _) = layer.forward(x, mask: nil, training: false, rng: &r2)
                var plainConfig = config
                plainConfig["dropout"] = 0
                plainConfig["recurrent_dropout"] = 0
                let plain = try recurrent(cls, plainConfig)
                let (want, _) = plain.forward(x, mask: nil, training: true, rng: &r2)
                XCTAssertEqual(infer.data, want.data, "\(cls) inference ignores dropout")
                XCTAssertNotEqual(train.data, want.data, "\(cls) training applies dropout")
            }
        }
    }

    func testMaskingLayer() throws {
        let layer = try makeLayer("Masking", ["mask_value": 0.5], input: [3, 2])
        let x = Tensor(shape: [2, 3, 2], data: [1, 2, 0.5, 0.5, 0.5, 3,
                                                0.5, 0.5, 4, 5, 6, 0.5])
        var rng = Rng(seed: 1)
        let (y, mask) = layer.forward(x, mask: nil, training: false, rng: &rng)
        XCTAssertEqual(mask, [1, 0, 1, 0, 1, 1])
        XCTAssertEqual(y.data, [1, 2, 0, 0, 0.5, 3, 0, 0, 4, 5, 6, 0.5])
        let dx = layer.backward(Tensor(shape: [2, 3, 2], data: [Float](repeating: 1, count: 12)))
        XCTAssertEqual(dx.data, [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1])
    }
}
