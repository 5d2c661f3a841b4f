import XCTest
@testable import LSTMKit

/// Keras options the engine does not implement must be refused when set, and accepted at their
/// Keras defaults, so a ported model never silently trains as something else.
final class KerasOptionTests: XCTestCase {
    private func model(_ layer: JSON) throws -> Model {
        try Model(config: ["layers": [["class_name": "Embedding", "config": ["input_dim": 9, "output_dim": 3]], layer]], seed: 1)
    }

    func testNonDefaultInitializersRegularizersAndUnrollAreRefused() throws {
        let refused: [JSON] = [
            ["class_name": "LSTM", "config": ["units": 2, "kernel_initializer": "he_normal"]],
            ["class_name": "LSTM", "config": ["units": 2, "recurrent_initializer": ["class_name": "GlorotUniform", "config": [:]]]],
            ["class_name": "GRU", "config": ["units": 2, "kernel_regularizer": "l2"]],
            ["class_name": "LSTM", "config": ["units": 2, "unroll": true]],
            ["class_name": "Dense", "config": ["units": 2, "bias_constraint": "non_neg"]],
            ["class_name": "Bidirectional", "config": ["layer": ["class_name": "LSTM", "config": ["units": 2, "bias_initializer": "ones"]]]],
        ]
        for layer in refused {
            XCTAssertThrowsError(try model(layer), layer.serialized()) { error in
                XCTAssertEqual((error as? LSTMKitError)?.status, .badConfig)
                XCTAssertTrue((error as? LSTMKitError)?.message.contains("not supported") ?? false)
            }
        }
    }

    func testKerasDefaultsPass() throws {
        let accepted: [JSON] = [
            ["class_name": "LSTM", "config": ["units": 2, "kernel_initializer": "glorot_uniform",
                                              "recurrent_initializer": ["class_name": "Orthogonal", "config": ["gain": 1]],
                                              "bias_initializer": "zeros", "kernel_regularizer": nil, "unroll": false]],
            ["class_name": "Dense", "config": ["units": 2, "kernel_initializer": "GlorotUniform", "activity_regularizer": nil]],
        ]
        for layer in accepted { XCTAssertNoThrow(try model(layer), layer.serialized()) }
        XCTAssertNoThrow(try Model(config: ["layers": [["class_name": "Embedding", "config": [
            "input_dim": 9, "output_dim": 3, "embeddings_initializer": "uniform"]]]], seed: 1))
    }
}
