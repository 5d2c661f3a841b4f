import XCTest
@testable import LSTMKit

final class LayerGradientTests: XCTestCase {
    func testDenseEveryActivation() throws {
        for act in ["linear", "relu", "sigmoid", "tanh", "softmax"] {
            let layer = try makeLayer("Dense", ["units": 5, "activation": .string(act)], input: [4])
            var rng = Rng(seed: 3)
            checkLayerGradients(layer, x: randomTensor([3, 4], &rng))
        }
    }

    func testDenseOnSequences() throws {
        let layer = try makeLayer("Dense", ["units": 3, "activation": "tanh"], input: [4, 2])
        var rng = Rng(seed: 4)
        checkLayerGradients(layer, x: randomTensor([2, 4, 2], &rng))
    }

    func testEmbedding() throws {
        let layer = try makeLayer("Embedding", ["input_dim": 7, "output_dim": 3], input: [5])
        // repeated ids: their gradient rows must accumulate
        let ids: [Float] = [1, 2, 2, 0, 6, 3, 1, 1, 5, 4]
        checkLayerGradients(layer, x: Tensor(shape: [2, 5], data: ids), checkInput: false, samples: 21)
    }

    func testLSTMLastOutput() throws {
        let layer = try makeLayer("LSTM", ["units": 4], input: [6, 3])
        var rng = Rng(seed: 5)
        checkLayerGradients(layer, x: randomTensor([3, 6, 3], &rng), samples: 40)
    }

    func testLSTMReturnSequences() throws {
        let layer = try makeLayer("LSTM", ["units": 5, "return_sequences": true], input: [4, 2])
        var rng = Rng(seed: 6)
        checkLayerGradients(layer, x: randomTensor([2, 4, 2], &rng), samples: 40)
    }

    func testLSTMWithMask() throws {
        for seq in [false, true] {
            let layer = try makeLayer("LSTM", ["units": 3, "return_sequences": .bool(seq)], input: [5, 2])
            var rng = Rng(seed: 8)
            // post-padded, pre-padded and a gap in the middle
            let mask: [Float] = [1, 1, 1, 0, 0,
                                 0, 0, 1, 1, 1,
                                 1, 0, 1, 1, 0]
            checkLayerGradients(layer, x: randomTensor([3, 5, 2], &rng), mask: mask, samples: 40)
        }
    }

    func testMaskedStepsCarryState() throws {
        let layer = try makeLayer("LSTM", ["units": 3, "return_sequences": true], input: [4, 2])
        var rng = Rng(seed: 9)
        let x = randomTensor([1, 4, 2], &rng)
        let (y, _) = layer.forward(x, mask: [1, 0, 0, 1], training: false, rng: &rng)
        // output at a masked step repeats the previous output
        for j in 0..<3 {
            XCTAssertEqual(y.data[1 * 3 + j], y.data[j])
            XCTAssertEqual(y.data[2 * 3 + j], y.data[j])
        }
        XCTAssertNotEqual(y.data[3 * 3], y.data[0])
    }
}
