import XCTest
@testable import LSTMKit

/// Keras's trainable=False (issue #15): a frozen layer's weights stay as they are through fit,
/// gradients still reach the layers before it, summary splits the counts as Keras does, and the
/// flag survives the config and a model file.
final class TrainableTests: XCTestCase {
    private func config(frozen: String?) -> JSON {
        func cfg(_ name: String, _ c: [String: JSON]) -> JSON {
            var c = c
            c["name"] = .string(name)
            if name == frozen { c["trainable"] = false }
            return .object(c)
        }
        return ["input_shape": [6], "layers": [
            ["class_name": "Embedding", "config": cfg("embedding", ["input_dim": 12, "output_dim": 4])],
            ["class_name": "LSTM", "config": cfg("lstm", ["units": 3])],
            ["class_name": "Dense", "config": cfg("dense", ["units": 1, "activation": "sigmoid"])],
        ]]
    }

    private let n = 40, t = 6
    private func data() -> ([Int32], [Float]) {
        var rng = Rng(seed: 5)
        var x = [Int32](repeating: 0, count: n * t), y = [Float](repeating: 0, count: n)
        for i in 0..<n {
            for s in 0..<t { x[i * t + s] = Int32(1 + rng.below(11)) }
            y[i] = x[i * t + 2] > 6 ? 1 : 0
        }
        return (x, y)
    }

    /// Trains `m` (SGD, one batch per epoch, no shuffle) and returns the loss of each epoch.
    @discardableResult
    private func train(_ m: Model, epochs: Int = 1) throws -> [Double] {
        let (x, y) = data()
        var losses: [Double] = []
        try withIds(x, [n, t]) { xv in
            try withView(y, [n, 1]) { yv in
                var opts = FitOptions()
                opts.epochs = epochs
                opts.batchSize = n
                opts.shuffle = false
                try m.fit(x: xv, y: yv, options: opts) { p in
                    if p.event == .epochEnd { losses.append(p.values[0]) }
                    return false
                }
            }
        }
        return losses
    }

    private func values(_ m: Model) -> [[Float]] { m.params.map(\.value) }

    func testFrozenMiddleLayerStaysAndEarlierLayersGetTheSameGradient() throws {
        let frozen = try Model(config: config(frozen: "lstm"), seed: 3)
        let reference = try Model(config: config(frozen: nil), seed: 3)
        for (a, b) in zip(frozen.params, reference.params) { b.value = a.value }
        let sgd: JSON = ["loss": "binary_crossentropy", "optimizer": ["class_name": "sgd", "learning_rate": 0.5]]
        try frozen.compile(sgd)
        try reference.compile(sgd)
        let before = values(frozen)
        try train(frozen)
        try train(reference)
        let after = values(frozen), ref = values(reference)
        // weights: embedding, lstm/kernel, lstm/recurrent_kernel, lstm/bias, dense/kernel, dense/bias
        for i in 1...3 {
            XCTAssertEqual(after[i], before[i], "frozen \(frozen.weightNames[i]) changed")
            XCTAssertNotEqual(ref[i], before[i], "the reference's \(reference.weightNames[i]) did not train")
        }
        // One SGD step from the same weights: the embedding's gradient went through the frozen
        // LSTM's backward exactly as through the trainable one, so the updates are the same.
        for i in [0, 4, 5] {
            XCTAssertNotEqual(after[i], before[i], "\(frozen.weightNames[i]) did not train")
            XCTAssertEqual(after[i], ref[i], "\(frozen.weightNames[i]) differs from the all-trainable model's")
        }
        XCTAssertEqual(frozen.trainableParams.count, 3)
    }

    func testFiniteDifferencesThroughAFrozenLayer() throws {
        let m = try Model(config: config(frozen: "lstm"), seed: 4)
        var rng = Rng(seed: 9)
        let x = Tensor(shape: [5, t], data: (0..<(5 * t)).map { _ in Float(1 + rng.below(11)) })
        checkModelGradients(m, x: x, y: [1, 0, 1, 1, 0], samplesPerParam: 6)
        // a frozen first layer: its scatter is skipped, the others' gradients are unchanged
        let first = try Model(config: config(frozen: "embedding"), seed: 4)
        checkModelGradients(first, x: x, y: [1, 0, 1, 1, 0], samplesPerParam: 6, only: first.trainableParams)
    }

    func testFrozenEmbeddingStaysWhileTheLossFalls() throws {
        let m = try Model(config: config(frozen: "embedding"), seed: 6)
        try m.compile(["loss": "binary_crossentropy", "optimizer": ["class_name": "adam", "learning_rate": 0.05]])
        let before = values(m)
        let losses = try train(m, epochs: 15)
        let after = values(m)
        XCTAssertEqual(after[0], before[0], "the frozen embeddings changed")
        for i in 1..<after.count { XCTAssertNotEqual(after[i], before[i], m.weightNames[i]) }
        XCTAssertLessThan(losses.last!, losses.first! - 0.02, "\(losses)")
    }

    func testSummarySplitsTrainableAndNonTrainableLikeKeras() throws {
        let m = try Model(config: ["input_shape": [10], "layers": [
            ["class_name": "Embedding", "config": ["input_dim": 1000, "output_dim": 16, "trainable": false]],
            ["class_name": "LSTM", "config": ["units": 8]],
            ["class_name": "Dense", "config": ["units": 1]],
        ]], seed: 1)
        // Keras: Embedding 1000*16, LSTM 4*(8*(16+8)+8), Dense 8+1
        XCTAssertEqual(m.paramCount, 16_000 + 800 + 9)
        XCTAssertEqual(m.trainableParamCount, 809)
        let s = m.summary
        XCTAssertTrue(s.contains(" Total params: 16,809 (65.66 KB)\n"), s)
        XCTAssertTrue(s.contains(" Trainable params: 809 (3.16 KB)\n"), s)
        XCTAssertTrue(s.contains(" Non-trainable params: 16,000 (62.50 KB)\n"), s)
    }

    func testWrapperFreezesItsInnerLayers() throws {
        let m = try Model(config: ["input_shape": [4, 3], "layers": [
            ["class_name": "Bidirectional", "config": ["trainable": false, "layer": ["class_name": "GRU", "config": ["units": 2, "return_sequences": true]]]],
            ["class_name": "TimeDistributed", "config": ["layer": ["class_name": "Dense", "config": ["units": 2, "trainable": false]]]],
            ["class_name": "TimeDistributed", "config": ["trainable": false, "layer": ["class_name": "Dense", "config": ["units": 2]]]],
            ["class_name": "Dense", "config": ["units": 1]],
        ]], seed: 1)
        XCTAssertEqual(m.trainableParams.map { ObjectIdentifier($0) }, m.layers[3].params.map { ObjectIdentifier($0) })
    }

    func testSetTrainableSaveAndLoad() throws {
        let m = try Model(config: config(frozen: nil), seed: 7)
        try m.compile(["loss": "binary_crossentropy", "optimizer": "adam"])
        try train(m)
        XCTAssertEqual(m.compiled?.optimizer.iterations, 1)
        // Changing what trains restarts the optimizer (its slots were for the old list)
        try m.setTrainable(layer: "embedding", false)
        XCTAssertEqual(m.compiled?.optimizer.iterations, 0)
        XCTAssertThrowsError(try m.setTrainable(layer: "nope", false)) { XCTAssertEqual(($0 as? LSTMKitError)?.status, .invalidArgument) }
        let frozenValue = m.params[0].value
        try train(m, epochs: 2)
        XCTAssertEqual(m.params[0].value, frozenValue)
        let path = NSTemporaryDirectory() + "lstmkit-trainable-\(getpid()).lstmkit"
        defer { unlink(path) }
        try m.save(path: path)
        let loaded = try Model.load(path: path)
        XCTAssertEqual(loaded.layers.map(\.trainable), [false, true, true])
        XCTAssertEqual(loaded.compiled?.optimizer.iterations, 2)
        // the saved optimizer state covers the trainable weights only, as in Keras
        let (_, tensors) = try Safetensors.read(path: path)
        let slots = tensors.map(\.name).filter { $0.hasPrefix("optimizer/") }
        XCTAssertEqual(Set(slots.map { $0.split(separator: "/")[1] }), ["lstm", "dense"])
        XCTAssertEqual(slots.count, 2 * 5)   // m and v for 5 weights
        // and training resumes on the loaded model exactly as on the original
        try train(m)
        try train(loaded)
        XCTAssertEqual(values(loaded), values(m))
        try m.setTrainable(layer: "embedding", true)
        XCTAssertEqual(m.trainableParams.count, 6)
    }
}
