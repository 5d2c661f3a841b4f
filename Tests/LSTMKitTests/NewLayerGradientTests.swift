import XCTest
@testable import LSTMKit

/// Finite-difference checks of the layers beyond Embedding/LSTM/Dense, plus forward values that
/// are easy to state by hand.
final class NewLayerGradientTests: XCTestCase {
    /// Distinct values at least 0.05 apart in random order, so a finite-difference step of 1e-2
    /// never changes which element a max pooling picks.
    private func spacedTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = Rng(seed: seed)
        let n = shape.reduce(1, *)
        var order = Array(0..<n)
        rng.shuffle(&order)
        return Tensor(shape: shape, data: order.map { Float($0) * 0.05 - Float(n) * 0.025 })
    }

    func testTimeDistributedDense() throws {
        for act in ["linear", "tanh", "softmax"] {
            let layer = try makeLayer("TimeDistributed",
                                      ["layer": ["class_name": "Dense", "config": ["units": 3, "activation": .string(act)]]],
                                      input: [4, 5])
            var rng = Rng(seed: 11)
            checkLayerGradients(layer, x: randomTensor([2, 4, 5], &rng))
            XCTAssertEqual(try layer.outputShape(for: [4, 5]), [4, 3])
            XCTAssertEqual(layer.params.map(\.shape), [[5, 3], [3]])
            XCTAssertEqual(layer.weightPaths, ["test_timedistributed/dense/kernel", "test_timedistributed/dense/bias"])
        }
    }

    func testTimeDistributedEqualsDenseOnEachStep() throws {
        let td = try makeLayer("TimeDistributed", ["layer": ["class_name": "Dense", "config": ["units": 2]]], input: [3, 4], seed: 5)
        let dense = try makeLayer("Dense", ["units": 2], input: [4], seed: 5)
        var rng = Rng(seed: 12)
        let x = randomTensor([2, 3, 4], &rng)
        let mask: [Float] = [1, 1, 0, 1, 0, 0]
        let (y, outMask) = td.forward(x, mask: mask, training: false, rng: &rng)
        XCTAssertEqual(outMask, mask, "TimeDistributed passes the mask through")
        for r in 0..<6 {
            let row = Tensor(shape: [1, 4], data: Array(x.data[(r * 4)..<(r * 4 + 4)]))
            let (yr, _) = dense.forward(row, mask: nil, training: false, rng: &rng)
            for j in 0..<2 { XCTAssertEqual(y.data[r * 2 + j], yr.data[j], accuracy: 1e-6) }
        }
    }

    func testConv1DEveryPadding() throws {
        for padding in ["valid", "same", "causal"] {
            for (strides, dilation) in [(1, 1), (2, 1), (1, 2)] {
                let layer = try makeLayer("Conv1D", ["filters": 3, "kernel_size": 3, "padding": .string(padding),
                                                     "strides": .number(Double(strides)),
                                                     "dilation_rate": .number(Double(dilation)), "activation": "tanh"],
                                          input: [7, 2])
                // give the bias non-zero values so its gradient path is exercised through tanh
                for i in 0..<3 { layer.params[1].value[i] = Float(i) * 0.1 - 0.1 }
                var rng = Rng(seed: 13)
                checkLayerGradients(layer, x: randomTensor([2, 7, 2], &rng), samples: 30)
            }
        }
    }

    func testConv1DOutputLengthsAndValues() throws {
        // Keras: valid floor((T - span)/s) + 1, same ceil(T/s), causal like valid on T + span - 1.
        let cases: [(String, Int, Int, Int)] = [("valid", 1, 1, 5), ("valid", 2, 1, 3), ("valid", 1, 2, 3),
                                               ("same", 1, 1, 7), ("same", 2, 1, 4), ("causal", 1, 2, 7), ("causal", 2, 1, 4)]
        for (padding, strides, dilation, expected) in cases {
            let layer = try makeLayer("Conv1D", ["filters": 1, "kernel_size": 3, "padding": .string(padding),
                                                 "strides": .number(Double(strides)), "dilation_rate": .number(Double(dilation))],
                                      input: [7, 1])
            XCTAssertEqual(try layer.outputShape(for: [7, 1]), [expected, 1], "\(padding) s\(strides) d\(dilation)")
        }
        // kernel taps 1, 10, 100 on x = 1..5: causal y_t = x_{t-2} + 10 x_{t-1} + 100 x_t
        let layer = try makeLayer("Conv1D", ["filters": 1, "kernel_size": 3, "padding": "causal"], input: [5, 1])
        layer.params[0].value = [1, 10, 100]
        var rng = Rng(seed: 0)
        let (y, mask) = layer.forward(Tensor(shape: [1, 5, 1], data: [1, 2, 3, 4, 5]), mask: [1, 1, 1, 1, 0], training: false, rng: &rng)
        XCTAssertEqual(y.data, [100, 210, 321, 432, 543])
        XCTAssertNil(mask, "Conv1D drops the mask")
        XCTAssertEqual(layer.params.map(\.shape), [[3, 1, 1], [1]])
    }

    func testMaxPooling1D() throws {
        for (padding, pool, strides) in [("valid", 2, 2), ("valid", 3, 1), ("same", 2, 2), ("same", 3, 2)] {
            let layer = try makeLayer("MaxPooling1D", ["pool_size": .number(Double(pool)), "strides": .number(Double(strides)),
                                                       "padding": .string(padding)], input: [7, 3])
            checkLayerGradients(layer, x: spacedTensor([2, 7, 3], seed: 14))
        }
        let layer = try makeLayer("MaxPooling1D", ["padding": "same"], input: [5, 1])
        var rng = Rng(seed: 0)
        let (y, _) = layer.forward(Tensor(shape: [1, 5, 1], data: [1, 3, 2, -1, -5]), mask: nil, training: false, rng: &rng)
        XCTAssertEqual(y.data, [3, 2, -5], "same padding: the padded position never wins")
        XCTAssertEqual(try layer.outputShape(for: [5, 1]), [3, 1])
        XCTAssertEqual(try makeLayer("MaxPooling1D", [:], input: [5, 1]).outputShape(for: [5, 1]), [2, 1])
    }

    func testGlobalPooling() throws {
        let maxLayer = try makeLayer("GlobalMaxPooling1D", [:], input: [5, 3])
        checkLayerGradients(maxLayer, x: spacedTensor([2, 5, 3], seed: 15))
        let avg = try makeLayer("GlobalAveragePooling1D", [:], input: [5, 3])
        var rng = Rng(seed: 16)
        checkLayerGradients(avg, x: randomTensor([2, 5, 3], &rng))
        let kept = try makeLayer("GlobalAveragePooling1D", ["keepdims": true], input: [5, 3])
        XCTAssertEqual(try kept.outputShape(for: [5, 3]), [1, 3])
    }

    func testMaskedGlobalAveragePooling() throws {
        let layer = try makeLayer("GlobalAveragePooling1D", [:], input: [4, 2])
        let mask: [Float] = [1, 1, 0, 0,
                             0, 1, 1, 1,
                             1, 0, 1, 0]
        var rng = Rng(seed: 17)
        let x = randomTensor([3, 4, 2], &rng)
        checkLayerGradients(layer, x: x, mask: mask)
        let (y, outMask) = layer.forward(x, mask: mask, training: false, rng: &rng)
        XCTAssertNil(outMask, "the pooling consumes the mask")
        for i in 0..<3 {
            for j in 0..<2 {
                var s: Float = 0, n: Float = 0
                for t in 0..<4 where mask[i * 4 + t] == 1 { s += x.data[(i * 4 + t) * 2 + j]; n += 1 }
                XCTAssertEqual(y.data[i * 2 + j], s / n, accuracy: 1e-6)
            }
        }
    }

    func testRepeatVectorAndFlatten() throws {
        let repeatLayer = try makeLayer("RepeatVector", ["n": 3], input: [4])
        var rng = Rng(seed: 18)
        let x = randomTensor([2, 4], &rng)
        checkLayerGradients(repeatLayer, x: x)
        let (y, mask) = repeatLayer.forward(x, mask: [1, 0], training: false, rng: &rng)
        XCTAssertEqual(y.shape, [2, 3, 4])
        XCTAssertEqual(Array(y.data[4..<8]), Array(x.data[0..<4]))
        XCTAssertNil(mask)

        let flatten = try makeLayer("Flatten", [:], input: [3, 4])
        checkLayerGradients(flatten, x: randomTensor([2, 3, 4], &rng))
        XCTAssertEqual(try flatten.outputShape(for: [3, 4]), [12])
        XCTAssertEqual(try flatten.outputShape(for: [nil, 4]), [nil])
        let (_, fmask) = flatten.forward(randomTensor([2, 3, 4], &rng), mask: [1, 1, 0, 1, 0, 0], training: false, rng: &rng)
        XCTAssertNil(fmask)
    }

    func testSpatialDropoutInTraining() throws {
        let layer = try makeLayer("SpatialDropout1D", ["rate": 0.5], input: [6, 8])
        var rng = Rng(seed: 19)
        let x = randomTensor([3, 6, 8], &rng)
        // The same seed gives the same channel mask, so the layer is a fixed linear map to check.
        let w = randomTensor([3, 6, 8], &rng)
        func probe(_ input: Tensor) -> Double {
            var r = Rng(seed: 42)
            let (y, _) = layer.forward(input, mask: nil, training: true, rng: &r)
            return zip(y.data, w.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        _ = probe(x)
        let dx = layer.backward(w)
        for i in stride(from: 0, to: x.count, by: 7) {
            var xp = x, xm = x
            xp.data[i] += fdStep
            xm.data[i] -= fdStep
            assertClose(dx.data[i], (probe(xp) - probe(xm)) / Double(2 * fdStep), "spatial dropout dx[\(i)]")
        }
        // whole channels: within a sample and channel, every step is kept or every step dropped
        var r = Rng(seed: 42)
        let (y, _) = layer.forward(x, mask: nil, training: true, rng: &r)
        var dropped = 0
        for b in 0..<3 {
            for c in 0..<8 {
                let scales = (0..<6).map { t in y.data[(b * 6 + t) * 8 + c] / x.data[(b * 6 + t) * 8 + c] }
                XCTAssertTrue(scales.allSatisfy { abs($0 - scales[0]) < 1e-5 }, "channel \(c) of sample \(b)")
                XCTAssertTrue(abs(scales[0]) < 1e-6 || abs(scales[0] - 2) < 1e-5)
                if abs(scales[0]) < 1e-6 { dropped += 1 }
            }
        }
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertLessThan(dropped, 24)
        let (yi, _) = layer.forward(x, mask: nil, training: false, rng: &r)
        XCTAssertEqual(yi.data, x.data, "identity at inference")
    }
}
