import XCTest
@testable import LSTMKit

func withView<T>(_ data: [Float], _ shape: [Int], _ body: (DataView) throws -> T) rethrows -> T {
    try data.withUnsafeBytes { try body(DataView(dtype: .float32, shape: shape, base: $0.baseAddress!)) }
}

func withIds<T>(_ data: [Int32], _ shape: [Int], _ body: (DataView) throws -> T) rethrows -> T {
    try data.withUnsafeBytes { try body(DataView(dtype: .int32, shape: shape, base: $0.baseAddress!)) }
}

let imdbConfig: JSON = ["layers": [
    ["class_name": "Embedding", "config": ["input_dim": 5001, "output_dim": 32]],
    ["class_name": "LSTM", "config": ["units": 100]],
    ["class_name": "Dense", "config": ["units": 1, "activation": "sigmoid"]],
]]

final class ModelTests: XCTestCase {
    func testParameterCountsFollowKerasFormulas() throws {
        let m = try Model(config: imdbConfig, seed: 1)
        let embedding = 5001 * 32
        let lstm = 4 * (100 * (32 + 100) + 100)
        let dense = 100 * 1 + 1
        XCTAssertEqual(m.paramCount, embedding + lstm + dense)
        XCTAssertEqual(m.paramCount, 213_333)
        XCTAssertEqual(m.weightNames, ["embedding/embeddings", "lstm/kernel", "lstm/recurrent_kernel", "lstm/bias",
                                       "dense/kernel", "dense/bias"])
        XCTAssertEqual(m.params.map(\.shape), [[5001, 32], [32, 400], [100, 400], [400], [100, 1], [1]])
    }

    func testKerasInitializers() throws {
        let m = try Model(config: imdbConfig, seed: 2)
        let p = m.params
        XCTAssertTrue(p[0].value.allSatisfy { abs($0) <= 0.05 })                    // uniform(-0.05, 0.05)
        let limit = (6.0 / Float(32 + 400)).squareRoot()                          // glorot_uniform
        XCTAssertTrue(p[1].value.allSatisfy { abs($0) <= limit })
        XCTAssertGreaterThan(p[1].value.map { abs($0) }.max()!, limit * 0.9)
        // orthogonal (100, 400): rows are orthonormal
        let u = p[2].value
        for (a, b) in [(0, 0), (0, 1), (5, 7), (99, 99)] {
            var dot: Float = 0
            for j in 0..<400 { dot += u[a * 400 + j] * u[b * 400 + j] }
            XCTAssertEqual(dot, a == b ? 1 : 0, accuracy: 1e-4)
        }
        // unit_forget_bias: forget gate bias 1, the rest 0
        XCTAssertEqual(p[3].value[0..<100].reduce(0, +), 0)
        XCTAssertEqual(p[3].value[100..<200].reduce(0, +), 100)
        XCTAssertEqual(p[3].value[200..<400].reduce(0, +), 0)
    }

    func testLayerNamesLikeKeras() throws {
        let m = try Model(config: ["layers": [
            ["class_name": "Dense", "config": ["units": 2, "input_shape": [3]]],
            ["class_name": "Dropout", "config": ["rate": 0.2]],
            ["class_name": "Dense", "config": ["units": 2]],
        ]], seed: 1)
        XCTAssertEqual(m.layers.map(\.name), ["dense", "dropout", "dense_1"])
    }

    func testBadConfigurationsAreRefused() {
        let bad: [JSON] = [
            [:], ["layers": []], ["layers": [["class_name": "Conv9D"]]],
            ["layers": [["class_name": "Dense", "config": ["units": -1]]]],
            ["layers": [["class_name": "Dense", "config": ["units": "ten"]]]],
            ["layers": [["class_name": "Dense", "config": ["units": 2, "activation": "swish9"]]]],
            ["layers": [["class_name": "Embedding", "config": ["input_dim": 100_000_000, "output_dim": 60_000]]]],
            ["layers": [["class_name": "Dense", "config": ["units": 2, "name": "a"]],
                        ["class_name": "Dense", "config": ["units": 2, "name": "a"]]]],
        ]
        for config in bad {
            XCTAssertThrowsError(try Model(config: config, seed: 0), config.serialized()) { error in
                XCTAssertNotEqual((error as? LSTMKitError)?.status, .internal)
            }
        }
    }

    func testSummaryTable() throws {
        let m = try Model(config: imdbConfig, seed: 1)
        try m.build(input: [600])
        let s = m.summary
        XCTAssertTrue(s.contains("│ embedding (Embedding)"), s)
        XCTAssertTrue(s.contains("(None, 600, 32)"), s)
        XCTAssertTrue(s.contains("(None, 100)"), s)
        XCTAssertTrue(s.contains("160,032"), s)
        XCTAssertTrue(s.contains("53,200"), s)
        XCTAssertTrue(s.contains(" Total params: 213,333 (833.33 KB)"), s)
    }

    /// End-to-end gradient of the training loss (fused sigmoid + binary crossentropy) through
    /// Dense, a masked LSTM and Embedding, against finite differences of the same loss.
    func testWholeModelGradient() throws {
        let m = try Model(config: ["layers": [
            ["class_name": "Embedding", "config": ["input_dim": 9, "output_dim": 3, "mask_zero": true]],
            ["class_name": "LSTM", "config": ["units": 4]],
            ["class_name": "Dense", "config": ["units": 1, "activation": "sigmoid"]],
        ]], seed: 3)
        try m.build(input: [5])
        let x = Tensor(shape: [3, 5], data: [0, 0, 3, 4, 5, 1, 2, 8, 7, 6, 0, 3, 3, 0, 0])
        checkModelGradients(m, x: x, y: [1, 0, 1], samplesPerParam: 12)
    }

    /// A task only a recurrent model solves: is token 1 somewhere in the sequence?
    func testTrainingLearnsAndValidationUsesLastRows() throws {
        let m = try Model(config: ["layers": [
            ["class_name": "Embedding", "config": ["input_dim": 6, "output_dim": 8]],
            ["class_name": "LSTM", "config": ["units": 16]],
            ["class_name": "Dense", "config": ["units": 1, "activation": "sigmoid"]],
        ]], seed: 5)
        try m.compile(["optimizer": ["class_name": "adam", "learning_rate": 0.01],
                       "loss": "binary_crossentropy", "metrics": ["accuracy"]])
        var rng = Rng(seed: 9)
        let n = 600, t = 10
        var x = [Int32](repeating: 0, count: n * t)
        var y = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let positive = i % 2 == 0
            for s in 0..<t { x[i * t + s] = Int32(2 + rng.below(4)) }
            if positive { x[i * t + rng.below(t)] = 1 }
            y[i] = positive ? 1 : 0
        }
        var epochEnds: [[String: Double]] = []
        try withIds(x, [n, t]) { xv in
            try withView(y, [n, 1]) { yv in
                var opts = FitOptions()
                opts.epochs = 8
                opts.batchSize = 32
                opts.validationSplit = 0.25
                opts.seed = 1
                try m.fit(x: xv, y: yv, options: opts) { p in
                    if p.event == .epochEnd { epochEnds.append(Dictionary(uniqueKeysWithValues: zip(p.names, p.values))) }
                    return false
                }
                let last = epochEnds.last!
                XCTAssertGreaterThan(last["val_accuracy"]!, 0.9, "\(epochEnds)")
                XCTAssertLessThan(last["loss"]!, epochEnds.first!["loss"]!)
                // validation_split holds out the LAST 25% of rows: evaluating them alone gives val_loss
                let valX = Array(x[(450 * t)...]), valY = Array(y[450...])
                let r = try withIds(valX, [150, t]) { vx in try withView(valY, [150, 1]) { vy in try m.evaluate(x: vx, y: vy, batchSize: 32) } }
                XCTAssertEqual(r[0], last["val_loss"]!, accuracy: 1e-5)
                XCTAssertEqual(r[1], last["val_accuracy"]!, accuracy: 1e-9)
            }
        }
        XCTAssertEqual(epochEnds.count, 8)
    }

    /// Keras splits at floor(n * (1.0 - split)) in double precision: 0.1 of 1,000 leaves 900.
    func testValidationSplitBoundary() throws {
        let m = try Model(config: ["layers": [["class_name": "Dense", "config": ["units": 1, "input_shape": [2]]]]], seed: 1)
        try m.compile(["loss": "mse"])
        let x = [Float](repeating: 0.5, count: 2000), y = [Float](repeating: 1, count: 1000)
        var steps = 0
        try withView(x, [1000, 2]) { xv in
            try withView(y, [1000, 1]) { yv in
                var opts = FitOptions()
                opts.batchSize = 100
                opts.validationSplit = 0.1
                try m.fit(x: xv, y: yv, options: opts) { p in steps = p.steps; return false }
                XCTAssertEqual(steps, 9)
                opts.batchSize = 1
                opts.validationSplit = 0.999
                try m.fit(x: xv, y: yv, options: opts) { p in steps = p.steps; return false }
                XCTAssertEqual(steps, 1)
            }
        }
    }

    func testSaveLoadRoundTrip() throws {
        let m = try Model(config: imdbConfig, seed: 4)
        try m.compile(["loss": "binary_crossentropy", "metrics": ["accuracy"]])
        try m.build(input: [7])
        let tok = Tokenizer()
        try tok.fit(strings: ["a film worth seeing", "not worth it"])
        m.tokenizer = tok
        let path = "/tmp/lstmkit-modeltest-\(getpid()).lstmkit"
        defer { unlink(path) }
        try m.save(path: path)
        let loaded = try Model.load(path: path)
        XCTAssertEqual(loaded.paramCount, m.paramCount)
        XCTAssertEqual(try loaded.tokenizer?.sequence(string: "worth a film"), try tok.sequence(string: "worth a film"))
        XCTAssertEqual(try tok.sequence(string: "worth a film"), [1, 2, 3])   // by count, ties first-seen
        XCTAssertNotNil(loaded.compiled)
        let ids: [Int32] = [1, 5, 9, 4000, 0, 0, 2, 3, 3, 3, 3, 3, 3, 3]
        var a = [Float](repeating: 0, count: 2), b = a
        try withIds(ids, [2, 7]) { xv in
            try a.withUnsafeMutableBufferPointer { try m.predict(x: xv, batchSize: 1, into: $0.baseAddress!) }
            try b.withUnsafeMutableBufferPointer { try loaded.predict(x: xv, batchSize: 2, into: $0.baseAddress!) }
        }
        XCTAssertEqual(a, b)
    }

    func testInvalidDataIsRefusedBeforeTraining() throws {
        let m = try Model(config: imdbConfig, seed: 1)
        XCTAssertThrowsError(try withIds([1, 2], [1, 2]) { xv in try withView([1], [1, 1]) { yv in
            try m.fit(x: xv, y: yv, options: FitOptions(), progress: nil) } }) {
            XCTAssertEqual(($0 as? LSTMKitError)?.status, .wrongState)
        }
        try m.compile(["loss": "binary_crossentropy"])
        let before = m.params.map(\.value)
        let cases: [([Int32], [Int], [Float], [Int], String)] = [
            ([1, 5001], [1, 2], [1], [1, 1], "token id"),
            ([1, -3], [1, 2], [1], [1, 1], "token id"),
            ([1, 2, 3, 4], [2, 2], [1], [1, 1], "samples"),
            ([1, 2], [1, 2], [Float.nan], [1, 1], "finite"),
            ([1, 2], [1, 2], [1, 0], [1, 2], "shape"),
        ]
        for (x, xs, y, ys, expected) in cases {
            XCTAssertThrowsError(try withIds(x, xs) { xv in try withView(y, ys) { yv in
                try m.fit(x: xv, y: yv, options: FitOptions(), progress: nil) } }) { error in
                let e = error as! LSTMKitError
                XCTAssertEqual(e.status, .invalidArgument)
                XCTAssertTrue(e.message.contains(expected), e.message)
            }
        }
        XCTAssertEqual(m.params.map(\.value), before)
    }
}

/// The engine's Tokenizer takes UTF-8 buffers, as the C API hands them over.
private extension Tokenizer {
    func fit(strings: [String]) throws {
        let texts = strings.map { Array($0.utf8) }
        let flat = texts.flatMap { $0 }
        try flat.withUnsafeBufferPointer { all in
            var start = 0
            let buffers = texts.map { text -> UnsafeBufferPointer<UInt8> in
                defer { start += text.count }
                return UnsafeBufferPointer(rebasing: all[start..<(start + text.count)])
            }
            try fit(texts: buffers)
        }
    }

    func sequence(string: String) throws -> [Int32] {
        try Array(string.utf8).withUnsafeBufferPointer { try sequence(for: $0) }
    }
}
