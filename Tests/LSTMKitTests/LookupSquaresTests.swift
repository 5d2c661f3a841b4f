import XCTest
@testable import LSTMKit

/// Keras 3 (TensorFlow backend) gives optimizers an Embedding's gradient as one slice per lookup
/// and squares the slices before summing them, so a row looked up k times adds the sum of k
/// squares to Adam's second moment, not the square of the sum. These tests pin that down with
/// numbers worked out by hand.
final class LookupSquaresTests: XCTestCase {
    func testEmbeddingSumsTheSquaresOfEachLookup() throws {
        let layer = try makeLayer("Embedding", ["input_dim": 4, "output_dim": 2], input: [3])
        var rng = Rng(seed: 1)
        _ = layer.forward(Tensor(shape: [1, 3], data: [2, 2, 0]), mask: nil, training: true, rng: &rng)
        let p = layer.params[0]
        p.zeroGradient()
        _ = layer.backward(Tensor(shape: [1, 3, 2], data: [1, -2, 3, 4, 5, 6]))
        XCTAssertEqual(Array(p.grad[4..<6]), [4, 2])            // row 2: (1+3, -2+4)
        XCTAssertEqual(Array(p.lookupSquares![4..<6]), [10, 20]) // (1+9, 4+16), not (16, 4)
        XCTAssertEqual(Array(p.lookupSquares![0..<2]), [25, 36])
        XCTAssertEqual(Array(p.lookupSquares![2..<4]), [0, 0])
        p.zeroGradient()
        XCTAssertEqual(p.lookupSquares!, [Float](repeating: 0, count: 8))
    }

    func testAdamUsesTheLookupSquaresForItsSecondMoment() throws {
        let adam = try Adam(config: ["learning_rate": 0.1])
        let p = Param("embeddings", [2], [0, 0], lookups: true)
        p.grad = [2, 2]
        p.lookupSquares = [4, 2]      // row 0 looked up once with 2; row 1 twice with 1 and 1
        adam.step([p])
        // m = 0.1 g, v = 0.001 s, alpha = 0.1 * sqrt(0.001) / 0.1: w = -alpha m / (sqrt(v) + eps)
        let alpha = 0.1 * Double(0.001).squareRoot() / 0.1
        for (i, s) in [4.0, 2.0].enumerated() {
            let expected = -alpha * 0.2 / ((0.001 * s).squareRoot() + 1e-7)
            XCTAssertEqual(Double(p.value[i]), expected, accuracy: 1e-6)
        }
        XCTAssertNotEqual(p.value[0], p.value[1])
    }
}
