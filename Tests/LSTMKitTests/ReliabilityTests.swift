import XCTest
@testable import LSTMKit

/// The engine-side pieces of the reliability work; the C ABI itself is exercised from Python
/// (bindings/python/tests/test_bad_input.py and friends).
final class ReliabilityTests: XCTestCase {
    func testFreedHandlesStayInvalidAndTypesAreChecked() throws {
        let a = HandleRegistry.register(Tokenizer(options: try Tokenizer.options(fromJSON: .object([:]))))
        XCTAssertFalse(HandleRegistry.release(a, as: Model.self))            // wrong type: kept
        XCTAssertNoThrow(try HandleRegistry.with(a, as: Tokenizer.self, "t") { _ in })
        XCTAssertTrue(HandleRegistry.release(a, as: Tokenizer.self))
        XCTAssertFalse(HandleRegistry.release(a, as: Tokenizer.self))        // double free
        let b = HandleRegistry.register(Tokenizer(options: try Tokenizer.options(fromJSON: .object([:]))))
        XCTAssertNotEqual(a, b)                                              // never reused
        XCTAssertThrowsError(try HandleRegistry.with(a, as: Tokenizer.self, "t") { _ in }) {
            XCTAssertEqual(($0 as? LSTMKitError)?.status, .invalidArgument)
        }
        HandleRegistry.release(b, as: Tokenizer.self)
    }

    func testWeightsBeyondMemoryAreRefusedBeforeAllocating() {
        let config: JSON = ["input_shape": [3], "layers": [
            ["class_name": "Embedding", "config": ["input_dim": 16_777_216, "output_dim": 65536]]]]
        XCTAssertThrowsError(try Model(config: config, seed: 0)) {
            XCTAssertEqual(($0 as? LSTMKitError)?.status, .noMemory)
        }
    }

    func testAllFinite() {
        XCTAssertTrue(allFinite([]))
        XCTAssertTrue(allFinite([0, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]))
        XCTAssertFalse(allFinite([1, .nan, 2]))
        XCTAssertFalse(allFinite([1, 2, -.infinity]))
    }

    func testUnknownFitOptionIsRefused() {
        XCTAssertThrowsError(try FitOptions(json: ["epoch": 3])) {
            XCTAssertEqual(($0 as? LSTMKitError)?.status, .badConfig)
        }
    }

    func testNonFiniteLossStopsFitWithTheWeightsOfTheLastGoodBatch() throws {
        let config: JSON = ["input_shape": [2], "layers": [["class_name": "Dense", "config": ["units": 1]]]]
        let m = try Model(config: config, seed: 1)
        try m.compile(["loss": "mse"])
        var x = [Float](repeating: 1, count: 8 * 2)
        x[4 * 2] = 1e30                                   // row 4: batch 3 with batch_size 2
        let y = [Float](repeating: 1, count: 8)
        var options = FitOptions()
        options.batchSize = 2
        options.shuffle = false
        XCTAssertThrowsError(try withView(x, [8, 2]) { xv in try withView(y, [8]) { yv in
            try m.fit(x: xv, y: yv, options: options, progress: nil) } }) {
            let e = $0 as? LSTMKitError
            XCTAssertEqual(e?.status, .numeric)
            XCTAssertTrue(e?.message.contains("epoch 1, batch 3") ?? false, e?.message ?? "")
        }
        XCTAssertTrue(m.params.allSatisfy { allFinite($0.value) })
    }
}
