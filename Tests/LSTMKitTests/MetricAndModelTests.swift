import XCTest
@testable import LSTMKit

final class MetricAndModelTests: XCTestCase {
    func testMetricNamesFollowKeras() throws {
        let m = try Metric.parse(["acc", "accuracy", "mae", "mae", "top_k_categorical_accuracy"])
        XCTAssertEqual(m.map(\.name), ["acc", "accuracy", "mae", "mae_1", "top_k_categorical_accuracy"])
        XCTAssertThrowsError(try Metric.parse(["f1"]))
    }

    func testMetricValues() throws {
        func value(_ id: String, _ p: [Float], _ y: [Float], rows: Int, width: Int) throws -> Double {
            try Metric.parse([id])[0].sum(p: p, y: y, rows: rows, width: width) / Double(rows)
        }
        // binary: threshold 0.5, mean over the last axis
        XCTAssertEqual(try value("binary_accuracy", [0.2, 0.7, 0.6, 0.4], [0, 1, 0, 0], rows: 2, width: 2), 0.75)
        XCTAssertEqual(try value("accuracy", [0.2, 0.7, 0.6], [0, 1, 0], rows: 3, width: 1), 2.0 / 3)
        // categorical / sparse; "accuracy" picks sparse from one target per row
        let p: [Float] = [0.1, 0.6, 0.3,  0.5, 0.2, 0.3]
        XCTAssertEqual(try value("categorical_accuracy", p, [0, 1, 0, 0, 0, 1], rows: 2, width: 3), 0.5)
        XCTAssertEqual(try value("sparse_categorical_accuracy", p, [1, 2], rows: 2, width: 3), 0.5)
        XCTAssertEqual(try value("accuracy", p, [1, 2], rows: 2, width: 3), 0.5)
        XCTAssertEqual(try value("accuracy", p, [0, 1, 0, 0, 0, 1], rows: 2, width: 3), 0.5)
        // top-k with k = 5 over 7 classes: the target is in when fewer than 5 scores beat it
        let q: [Float] = [0.01, 0.3, 0.2, 0.15, 0.14, 0.1, 0.1,   0.3, 0.2, 0.15, 0.14, 0.1, 0.05, 0.06]
        XCTAssertEqual(try value("sparse_top_k_categorical_accuracy", q, [0, 4], rows: 2, width: 7), 0.5)
        XCTAssertEqual(try value("sparse_top_k_categorical_accuracy", q, [6, 4], rows: 2, width: 7), 1.0, "ties at the boundary count as in")
        var onehot = [Float](repeating: 0, count: 14)
        onehot[0] = 1; onehot[7 + 4] = 1
        XCTAssertEqual(try value("top_k_categorical_accuracy", q, onehot, rows: 2, width: 7), 0.5)
        // mae / mse: mean over the last axis, then over rows
        XCTAssertEqual(try value("mae", [1, 2, 3, 4], [0, 0, 0, 8], rows: 2, width: 2), (1.5 + 3.5) / 2)
        XCTAssertEqual(try value("mse", [1, 2, 3, 4], [0, 0, 0, 8], rows: 2, width: 2), (2.5 + 12.5) / 2)
    }

    func testLossAliases() throws {
        XCTAssertEqual(try LossKind.parse("mse"), .meanSquaredError)
        XCTAssertEqual(try LossKind.parse("MSE"), .meanSquaredError)
        XCTAssertEqual(try LossKind.parse("mean_absolute_error"), .meanAbsoluteError)
        XCTAssertEqual(try LossKind.parse("mae"), .meanAbsoluteError)
        XCTAssertEqual(try LossKind.parse("bce"), .binaryCrossentropy)
        XCTAssertThrowsError(try LossKind.parse("hinge"))
        // Keras's values: mean over the last axis, then over the batch
        let mae = LossFunction(kind: .meanAbsoluteError).lossAndGrad(p: [1, 2, 3, 4], y: [0, 0, 0, 8], rows: 2, width: 2).0
        XCTAssertEqual(mae, 2.5, accuracy: 1e-9)
    }

    func testKerasDefaultNamesAndWeightPaths() throws {
        let layers: [JSON] = [
            ["class_name": "Conv1D", "config": ["filters": 4, "kernel_size": 3]],
            ["class_name": "MaxPooling1D", "config": [:]],
            ["class_name": "SpatialDropout1D", "config": ["rate": 0.1]],
            ["class_name": "TimeDistributed", "config": ["layer": ["class_name": "Dense", "config": ["units": 3]]]],
            ["class_name": "GlobalAveragePooling1D", "config": [:]],
            ["class_name": "RepeatVector", "config": ["n": 2]],
            ["class_name": "Flatten", "config": [:]],
            ["class_name": "Dense", "config": ["units": 1]],
        ]
        let m = try Model(config: ["input_shape": [12, 2], "layers": .array(layers)], seed: 1)
        let alias = try Model(config: ["layers": [["class_name": "GlobalMaxPool1D", "config": [:]]]], seed: 1)
        XCTAssertEqual(alias.layers[0].className, "GlobalMaxPooling1D")
        XCTAssertEqual(m.layers.map(\.name), ["conv1d", "max_pooling1d", "spatial_dropout1d", "time_distributed",
                                               "global_average_pooling1d", "repeat_vector", "flatten", "dense_1"])
        XCTAssertEqual(m.weightNames, ["conv1d/kernel", "conv1d/bias", "time_distributed/dense/kernel",
                                       "time_distributed/dense/bias", "dense_1/kernel", "dense_1/bias"])
        // Keras: Conv1D k*D*F + F; TimeDistributed = its layer; Dense D*U + U
        XCTAssertEqual(m.paramCount, 3 * 2 * 4 + 4 + (4 * 3 + 3) + (6 * 1 + 1))
        XCTAssertEqual(try m.outputShape(for: [12, 2]), [1])
        let summary = m.summary
        for text in ["(None, 10, 4)", "(None, 5, 4)", "(None, 5, 3)", "(None, 3)", "(None, 2, 3)", "(None, 6)",
                     "time_distributed (TimeDistributed)", "conv1d (Conv1D)"] {
            XCTAssertTrue(summary.contains(text), text)
        }
        XCTAssertEqual(LayerRegistry.snakeCase("LSTM"), "lstm")
        XCTAssertEqual(LayerRegistry.snakeCase("SimpleRNN"), "simple_rnn")
    }

    func testSaveLoadWithNewLayersAndOptimizer() throws {
        let config: JSON = ["input_shape": [6, 1], "layers": [
            ["class_name": "Conv1D", "config": ["filters": 2, "kernel_size": 2, "padding": "causal", "activation": "relu"]],
            ["class_name": "TimeDistributed", "config": ["layer": ["class_name": "Dense", "config": ["units": 2, "name": "inner"]]]],
            ["class_name": "GlobalMaxPooling1D", "config": [:]],
            ["class_name": "Dense", "config": ["units": 1]],
        ]]
        let m = try Model(config: config, seed: 3)
        try m.compile(["loss": "mse", "metrics": ["mae"],
                       "optimizer": ["class_name": "SGD", "config": ["learning_rate": 0.05, "momentum": 0.9, "clipnorm": 1.0]]])
        let path = NSTemporaryDirectory() + "lstmkit-newlayers-\(getpid()).lstmkit"
        defer { unlink(path) }
        try m.save(path: path)
        let back = try Model.load(path: path)
        XCTAssertEqual(back.weightNames, m.weightNames)
        XCTAssertEqual(back.weightNames[2], "time_distributed/inner/kernel")
        XCTAssertEqual(back.params.map(\.value), m.params.map(\.value))
        XCTAssertEqual(back.compiled?.json, m.compiled?.json)
        XCTAssertEqual(back.compiled?.metrics.map(\.name), ["mae"])
    }

    func testFloatSequenceRegressionTrainsWithEveryOptimizer() throws {
        // y = mean of the window: a linear target a small Conv1D + pooling model can fit
        var rng = Rng(seed: 4)
        let n = 64, t = 8
        let x = (0..<(n * t)).map { _ in rng.uniform(-1, 1) }
        let y = (0..<n).map { i in x[(i * t)..<((i + 1) * t)].reduce(0, +) / Float(t) }
        for optimizer: JSON in [["class_name": "sgd", "learning_rate": 0.1, "momentum": 0.9], "rmsprop",
                                ["class_name": "adagrad", "learning_rate": 0.1], ["class_name": "adam", "learning_rate": 0.01]] {
            let m = try Model(config: ["input_shape": [8, 1], "layers": [
                ["class_name": "Conv1D", "config": ["filters": 4, "kernel_size": 3, "padding": "same"]],
                ["class_name": "GlobalAveragePooling1D", "config": [:]],
                ["class_name": "Dense", "config": ["units": 1]],
            ]], seed: 5)
            try m.compile(["loss": "mse", "metrics": ["mae"], "optimizer": optimizer])
            let before = try withView(x, [n, t, 1]) { xv in try withView(y, [n]) { yv in try m.evaluate(x: xv, y: yv, batchSize: 16) } }
            var opts = FitOptions()
            opts.epochs = 40   // Adagrad's steps shrink: 15 epochs left it near the threshold
            opts.batchSize = 16
            var names: [String] = []
            try withView(x, [n, t, 1]) { xv in try withView(y, [n]) { yv in
                try m.fit(x: xv, y: yv, options: opts) { p in
                    if p.event == .epochEnd { names = p.names }
                    return false
                }
            } }
            let after = try withView(x, [n, t, 1]) { xv in try withView(y, [n]) { yv in try m.evaluate(x: xv, y: yv, batchSize: 16) } }
            XCTAssertEqual(names, ["loss", "mae"])
            XCTAssertEqual(before.count, 2)
            XCTAssertLessThan(after[0], before[0] * 0.5, "\(optimizer.serialized())")
        }
    }
}
