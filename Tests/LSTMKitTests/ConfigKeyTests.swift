import XCTest
@testable import LSTMKit

/// Issue #15: a key no reader knows (a misspelling) is BAD_CONFIG naming it, in layer configs,
/// wrapped layers, compile settings and optimizer settings; what Keras itself writes still loads.
final class ConfigKeyTests: XCTestCase {
    private func refused(_ make: @autoclosure () throws -> Any, naming key: String, suggesting near: String? = nil,
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try make(), file: file, line: line) { error in
            guard let e = error as? LSTMKitError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.status, .badConfig, e.message, file: file, line: line)
            XCTAssertTrue(e.message.contains("'\(key)'"), e.message, file: file, line: line)
            if let near { XCTAssertTrue(e.message.contains("did you mean '\(near)'"), e.message, file: file, line: line) }
        }
    }

    private func sequential(_ layers: [JSON], input: JSON? = nil) throws -> Model {
        var top: [String: JSON] = ["layers": .array(layers)]
        if let input { top["input_shape"] = input }
        return try Model(config: .object(top), seed: 1)
    }

    private func compiled(_ settings: JSON) throws -> Model {
        let m = try sequential([["class_name": "Dense", "config": ["units": 1, "activation": "sigmoid"]]], input: [3])
        try m.compile(settings)
        return m
    }

    func testMisspeltLayerKeysAreRefused() {
        refused(try sequential([["class_name": "Dense", "config": ["units": 1, "activaton": "sigmoid"]]], input: [3]),
                naming: "activaton", suggesting: "activation")
        refused(try sequential([["class_name": "Embedding", "config": ["input_dim": 9, "output_dim": 3, "mask_zeros": true]],
                                ["class_name": "LSTM", "config": ["units": 2, "return_sequence": true]]]),
                naming: "mask_zeros", suggesting: "mask_zero")
        refused(try sequential([["class_name": "Embedding", "config": ["input_dim": 9, "output_dim": 3]],
                                ["class_name": "LSTM", "config": ["units": 2, "return_sequence": true]]]),
                naming: "return_sequence", suggesting: "return_sequences")
        // far from every known key: named, without a guess
        refused(try sequential([["class_name": "Dense", "config": ["units": 1, "banana": 1]]], input: [3]), naming: "banana")
        // inside the wrappers
        refused(try sequential([["class_name": "Bidirectional", "config": ["layer": ["class_name": "GRU", "config": ["units": 2, "go_backward": false]]]]],
                               input: [4, 3]), naming: "go_backward", suggesting: "go_backwards")
        refused(try sequential([["class_name": "Bidirectional", "config": ["merge_mod": "sum", "layer": ["class_name": "LSTM", "config": ["units": 2]]]]],
                               input: [4, 3]), naming: "merge_mod", suggesting: "merge_mode")
        refused(try sequential([["class_name": "TimeDistributed", "config": ["layer": ["class_name": "Dense", "config": ["unit": 2]]]]],
                               input: [4, 3]), naming: "unit", suggesting: "units")
        refused(try sequential([["class_name": "InputLayer", "config": ["batch_shap": [nil, 3]]],
                                ["class_name": "Dense", "config": ["units": 1]]], input: [3]), naming: "batch_shap", suggesting: "batch_shape")
        // a functional graph's layers go through the same maker
        refused(try Model(config: ["class_name": "Functional", "layers": [
            ["class_name": "InputLayer", "name": "in", "config": ["batch_shape": [nil, 3]]],
            ["class_name": "Dense", "name": "d", "config": ["units": 1, "use_bais": false], "inbound_nodes": [["in", 0, 0]]],
        ], "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]]], seed: 1), naming: "use_bais", suggesting: "use_bias")
    }

    func testKerasOptionsThatChangeResultsAreRefusedAtNonDefaults() {
        refused(try sequential([["class_name": "Dropout", "config": ["rate": 0.5, "noise_shape": [nil, 1]]]], input: [3]), naming: "noise_shape")
        refused(try sequential([["class_name": "LSTM", "config": ["units": 2, "time_major": true]]], input: [4, 3]), naming: "time_major")
        refused(try sequential([["class_name": "Dense", "config": ["units": 2, "lora_rank": 4]]], input: [3]), naming: "lora_rank")
        refused(try sequential([["class_name": "Dense", "config": ["units": 2, "dtype": "float64"]]], input: [3]), naming: "dtype")
        refused(try sequential([["class_name": "LSTM", "config": ["units": 2, "zero_output_for_mask": true]]], input: [4, 3]),
                naming: "zero_output_for_mask")
        refused(try sequential([["class_name": "Bidirectional", "config": [
            "layer": ["class_name": "LSTM", "config": ["units": 2]],
            "backward_layer": ["class_name": "LSTM", "config": ["units": 3, "go_backwards": true]]]]], input: [4, 3]), naming: "units")
        refused(try compiled(["loss": "mse", "optimizer": ["class_name": "adam", "weight_decay": 0.004]]), naming: "weight_decay")
        refused(try compiled(["loss": "mse", "optimizer": ["class_name": "SGD", "config": ["use_ema": true]]]), naming: "use_ema")
        refused(try compiled(["loss": "mse", "optimizer": "sgd", "loss_weights": [1, 2]]), naming: "loss_weights")
        refused(try compiled(["loss": "mse", "optimizer": "sgd", "steps_per_execution": 4]), naming: "steps_per_execution")
    }

    func testMisspeltCompileAndOptimizerKeysAreRefused() {
        refused(try compiled(["loss": "mse", "optimizer": ["class_name": "adam", "learnng_rate": 0.01]]),
                naming: "learnng_rate", suggesting: "learning_rate")
        refused(try compiled(["loss": "mse", "optimizer": ["class_name": "RMSprop", "config": ["learning_rate": 0.01, "rh": 0.8]]]),
                naming: "rh", suggesting: "rho")
        refused(try compiled(["loss": "mse", "optimiser": "sgd"]), naming: "optimiser", suggesting: "optimizer")
        refused(try compiled(["loss": "mse", "metric": ["mae"]]), naming: "metric", suggesting: "metrics")
        refused(try compiled(["loss": "mse", "optimizer": ["class_name": "SGD", "config": ["learning_rate": 0.1], "modul": "keras"]]), naming: "modul")
        refused(try compiled(["loss": "mse", "optimizer": ["class_name": "sgd", "learning_rate": [
            "class_name": "ExponentialDecay", "config": ["initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9, "staircas": true]]]]),
                naming: "staircas", suggesting: "staircase")
    }

    func testEditDistance() {
        XCTAssertEqual(editDistance("return_sequence", "return_sequences"), 1)
        XCTAssertEqual(editDistance("activaton", "activation"), 1)
        XCTAssertEqual(editDistance("", "abc"), 3)
        XCTAssertEqual(editDistance("kitten", "sitting"), 3)
        XCTAssertEqual(nearestKey("learnng_rate", in: ["learning_rate", "beta_1"]), "learning_rate")
        XCTAssertNil(nearestKey("banana", in: ["units", "activation"]))
    }

    /// Configs as Keras 3 (and Keras 2) get_config() writes them, every key present.
    func testKerasWrittenConfigsLoad() throws {
        let dtype: JSON = ["module": "keras", "class_name": "DTypePolicy", "config": ["name": "float32"], "registered_name": nil]
        func initializer(_ cls: String, _ config: JSON = [:]) -> JSON {
            ["module": "keras.initializers", "class_name": .string(cls), "config": config, "registered_name": nil]
        }
        let rnnBase: [String: JSON] = [
            "name": "rnn", "trainable": true, "dtype": dtype, "return_sequences": true, "return_state": false,
            "go_backwards": false, "stateful": false, "unroll": false, "zero_output_for_mask": false, "units": 4,
            "activation": "tanh", "use_bias": true,
            "kernel_initializer": initializer("GlorotUniform", ["seed": nil]),
            "recurrent_initializer": initializer("Orthogonal", ["gain": 1.0, "seed": nil]),
            "bias_initializer": initializer("Zeros"), "kernel_regularizer": nil, "recurrent_regularizer": nil,
            "bias_regularizer": nil, "activity_regularizer": nil, "kernel_constraint": nil, "recurrent_constraint": nil,
            "bias_constraint": nil, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": nil]
        var lstm = rnnBase, gru = rnnBase, simple = rnnBase
        lstm["name"] = "lstm"; lstm["recurrent_activation"] = "sigmoid"; lstm["unit_forget_bias"] = true
        gru["name"] = "gru"; gru["recurrent_activation"] = "sigmoid"; gru["reset_after"] = true
        simple["name"] = "simple_rnn"
        var keras2 = lstm
        keras2["name"] = "lstm_k2"; keras2["dtype"] = "float32"; keras2["implementation"] = 2; keras2["time_major"] = false
        let dense: JSON = ["name": "dense", "trainable": true, "dtype": dtype, "units": 4, "activation": "relu", "use_bias": true,
                           "kernel_initializer": initializer("GlorotUniform", ["seed": nil]), "bias_initializer": initializer("Zeros"),
                           "kernel_regularizer": nil, "bias_regularizer": nil, "kernel_constraint": nil, "bias_constraint": nil,
                           "quantization_config": nil]
        func serialized(_ cls: String, _ config: JSON) -> JSON {
            ["module": "keras.layers", "class_name": .string(cls), "config": config, "registered_name": nil,
             "build_config": ["input_shape": [nil, 5, 4]]]
        }
        var backward = lstm
        backward["name"] = "backward_lstm_b"; backward["go_backwards"] = true
        var forward = lstm
        forward["name"] = "forward_lstm_b"
        let layers: [JSON] = [
            serialized("InputLayer", ["batch_shape": [nil, 5], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_layer"]),
            serialized("Embedding", ["name": "embedding", "trainable": true, "dtype": dtype, "input_dim": 20, "output_dim": 4,
                                     "embeddings_initializer": initializer("RandomUniform", ["minval": -0.05, "maxval": 0.05, "seed": nil]),
                                     "embeddings_regularizer": nil, "activity_regularizer": nil, "embeddings_constraint": nil,
                                     "mask_zero": true, "input_length": nil, "sparse": false]),
            serialized("LSTM", .object(lstm)), serialized("GRU", .object(gru)), serialized("SimpleRNN", .object(simple)),
            serialized("LSTM", .object(keras2)),
            serialized("Bidirectional", ["name": "bidirectional", "trainable": true, "dtype": dtype, "merge_mode": "concat",
                                         "layer": serialized("LSTM", .object(forward)), "backward_layer": serialized("LSTM", .object(backward))]),
            serialized("Dropout", ["name": "dropout", "trainable": true, "dtype": dtype, "rate": 0.1, "seed": nil, "noise_shape": nil]),
            serialized("SpatialDropout1D", ["name": "spatial_dropout1d", "trainable": true, "dtype": dtype, "rate": 0.1, "seed": nil, "noise_shape": nil]),
            serialized("Conv1D", ["name": "conv1d", "trainable": true, "dtype": dtype, "filters": 4, "kernel_size": [3], "strides": [1],
                                  "padding": "same", "data_format": "channels_last", "dilation_rate": [1], "groups": 1,
                                  "activation": "linear", "use_bias": true, "kernel_initializer": initializer("GlorotUniform", ["seed": nil]),
                                  "bias_initializer": initializer("Zeros"), "kernel_regularizer": nil, "bias_regularizer": nil,
                                  "activity_regularizer": nil, "kernel_constraint": nil, "bias_constraint": nil]),
            serialized("MaxPooling1D", ["name": "max_pooling1d", "trainable": true, "dtype": dtype, "pool_size": [1], "padding": "valid",
                                        "strides": [1], "data_format": "channels_last"]),
            serialized("TimeDistributed", ["name": "time_distributed", "trainable": true, "dtype": dtype, "layer": serialized("Dense", dense)]),
            serialized("GlobalAveragePooling1D", ["name": "global_average_pooling1d", "trainable": true, "dtype": dtype,
                                                  "data_format": "channels_last", "keepdims": false]),
            serialized("RepeatVector", ["name": "repeat_vector", "trainable": true, "dtype": dtype, "n": 2]),
            serialized("Masking", ["name": "masking", "trainable": true, "dtype": dtype, "mask_value": 0.0]),
            serialized("Flatten", ["name": "flatten", "trainable": true, "dtype": dtype, "data_format": "channels_last"]),
            serialized("Dense", dense),
        ]
        let m = try Model(config: ["name": "sequential", "trainable": true, "dtype": dtype, "layers": .array(layers)], seed: 1)
        XCTAssertEqual(m.layers.count, layers.count - 1)
        XCTAssertTrue(m.isBuilt)
        // Keras 2's Sequential form: batch_input_shape on the first layer
        XCTAssertNoThrow(try sequential([["class_name": "LSTM", "config": .object(keras2.merging(["batch_input_shape": [nil, 5, 3]]))]]))
        // and the model's own config reads back
        XCTAssertNoThrow(try Model(config: m.config, seed: 2))

        // Keras 3's get_compile_config() and Keras 2's optimizer config
        let keras3Adam: JSON = ["module": "keras.optimizers", "class_name": "Adam", "registered_name": nil, "config": [
            "name": "adam", "learning_rate": 0.001, "weight_decay": nil, "clipnorm": nil, "global_clipnorm": nil, "clipvalue": nil,
            "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": nil, "loss_scale_factor": nil,
            "gradient_accumulation_steps": nil, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false]]
        XCTAssertNoThrow(try compiled(["optimizer": keras3Adam, "loss": "binary_crossentropy", "loss_weights": nil, "metrics": ["accuracy"],
                                       "weighted_metrics": nil, "run_eagerly": false, "steps_per_execution": 1, "jit_compile": false]))
        XCTAssertNoThrow(try compiled(["loss": "mse", "optimizer": ["class_name": "RMSprop", "config": [
            "name": "RMSprop", "weight_decay": nil, "clipnorm": nil, "global_clipnorm": nil, "clipvalue": nil, "use_ema": false,
            "ema_momentum": 0.99, "ema_overwrite_frequency": 100, "jit_compile": true, "is_legacy_optimizer": false,
            "learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-07, "centered": false]]]))
        XCTAssertNoThrow(try compiled(["loss": "mse", "optimizer": ["class_name": "SGD", "config": ["learning_rate": [
            "module": "keras.optimizers.schedules", "class_name": "ExponentialDecay", "registered_name": nil,
            "config": ["initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9, "staircase": false, "name": "ExponentialDecay"]],
            "momentum": 0.9, "nesterov": true]]]))
    }

    /// Every layer's own config (what the model file keeps) reads back: a key a layer writes
    /// must be one it reads.
    func testEveryLayersOwnConfigReadsBack() throws {
        let layers: [JSON] = [
            ["class_name": "Embedding", "config": ["input_dim": 9, "output_dim": 4, "mask_zero": true, "trainable": false]],
            ["class_name": "Bidirectional", "config": ["layer": ["class_name": "LSTM", "config": ["units": 3, "return_sequences": true]], "trainable": false]],
            ["class_name": "GRU", "config": ["units": 3, "return_sequences": true, "reset_after": false]],
            ["class_name": "SimpleRNN", "config": ["units": 3, "return_sequences": true, "zero_output_for_mask": true]],
            ["class_name": "Conv1D", "config": ["filters": 2, "kernel_size": 2, "padding": "causal"]],
            ["class_name": "MaxPooling1D", "config": ["pool_size": 1]],
            ["class_name": "SpatialDropout1D", "config": ["rate": 0.1]],
            ["class_name": "TimeDistributed", "config": ["layer": ["class_name": "Dense", "config": ["units": 2, "trainable": false]]]],
            ["class_name": "GlobalMaxPooling1D", "config": [:]],
            ["class_name": "RepeatVector", "config": ["n": 2]],
            ["class_name": "Masking", "config": [:]],
            ["class_name": "Flatten", "config": [:]],
            ["class_name": "Dropout", "config": ["rate": 0.1]],
            ["class_name": "Dense", "config": ["units": 1]],
        ]
        let m = try sequential(layers, input: [5])
        let again = try Model(config: m.config, seed: 3)
        XCTAssertEqual(again.config.serialized(), m.config.serialized())
        XCTAssertEqual(again.layers.map(\.trainable), [false, false, true, true, true, true, true, true, true, true, true, true, true, true])
        XCTAssertEqual((again.layers[7] as! TimeDistributed).layer.trainable, false)
        XCTAssertTrue((again.layers[3] as! RecurrentLayer).zeroOutputForMask)
    }
}

private extension Dictionary where Key == String, Value == JSON {
    func merging(_ other: [String: JSON]) -> [String: JSON] { merging(other) { $1 } }
}
