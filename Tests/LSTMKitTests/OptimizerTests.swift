import XCTest
@testable import LSTMKit

/// Each optimizer against Keras 3's update rule written out independently in Double, step by step.
final class OptimizerTests: XCTestCase {
    private let w0: [Double] = [0.5, -1.0, 2.0]
    // one gradient per step (the same parameter every step)
    private let grads: [[Double]] = [[0.1, -0.4, 1.5], [-0.2, 0.3, 0.8], [0.05, 0.05, -2.0]]

    /// Runs the optimizer over the steps and compares with `reference(step, w, g) -> w'`.
    private func check(_ optimizerJSON: JSON, file: StaticString = #filePath, line: UInt = #line,
                       reference: (Int, inout [Double], [Double]) -> Void) throws {
        let opt = try makeOptimizer(optimizerJSON)
        let p = Param("kernel", [3], w0.map { Float($0) })
        var w = w0
        for (t, g) in grads.enumerated() {
            p.grad = g.map { Float($0) }
            opt.step([p])
            reference(t, &w, g)
            for i in 0..<3 {
                XCTAssertEqual(Double(p.value[i]), w[i], accuracy: 1e-5 * max(1, abs(w[i])),
                               "\(optimizerJSON.serialized()) step \(t + 1) w[\(i)]", file: file, line: line)
            }
        }
        XCTAssertEqual(opt.iterations, grads.count, file: file, line: line)
    }

    func testSGDPlain() throws {
        try check("sgd") { _, w, g in for i in 0..<3 { w[i] -= 0.01 * g[i] } }
        try check(["class_name": "SGD", "config": ["learning_rate": 0.1]]) { _, w, g in for i in 0..<3 { w[i] -= 0.1 * g[i] } }
    }

    func testSGDMomentumAndNesterov() throws {
        for nesterov in [false, true] {
            var m = [0.0, 0, 0]
            try check(["class_name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": .bool(nesterov)]) { _, w, g in
                for i in 0..<3 {
                    m[i] = 0.9 * m[i] - 0.1 * g[i]
                    w[i] += nesterov ? 0.9 * m[i] - 0.1 * g[i] : m[i]
                }
            }
        }
    }

    func testRMSprop() throws {
        var v = [0.0, 0, 0]
        try check("rmsprop") { _, w, g in
            for i in 0..<3 {
                v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i]
                w[i] -= 0.001 * g[i] / (v[i] + 1e-7).squareRoot()
            }
        }
        var v2 = [0.0, 0, 0], a = [0.0, 0, 0], m = [0.0, 0, 0]
        try check(["class_name": "RMSprop", "learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "centered": true]) { _, w, g in
            for i in 0..<3 {
                v2[i] = 0.8 * v2[i] + 0.2 * g[i] * g[i]
                a[i] = 0.8 * a[i] + 0.2 * g[i]
                let step = 0.01 * g[i] / (v2[i] - a[i] * a[i] + 1e-7).squareRoot()
                m[i] = 0.5 * m[i] + step
                w[i] -= m[i]
            }
        }
    }

    func testAdagrad() throws {
        var acc = [0.1, 0.1, 0.1]
        try check(["class_name": "adagrad", "learning_rate": 0.05]) { _, w, g in
            for i in 0..<3 {
                acc[i] += g[i] * g[i]
                w[i] -= 0.05 * g[i] / (acc[i] + 1e-7).squareRoot()
            }
        }
    }

    func testAdam() throws {
        var m = [0.0, 0, 0], v = [0.0, 0, 0]
        try check(["class_name": "adam", "learning_rate": 0.01]) { t, w, g in
            let step = Double(t + 1)
            let alpha = 0.01 * (1 - pow(0.999, step)).squareRoot() / (1 - pow(0.9, step))
            for i in 0..<3 {
                m[i] += (g[i] - m[i]) * 0.1
                v[i] += (g[i] * g[i] - v[i]) * 0.001
                w[i] -= alpha * m[i] / (v[i].squareRoot() + 1e-7)
            }
        }
    }

    func testClipnormIsPerVariable() throws {
        // |g| per step: 1.558, 0.877, 2.001 -> scaled to 1 when above
        try check(["class_name": "sgd", "learning_rate": 0.1, "clipnorm": 1.0]) { _, w, g in
            let n = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let s = 1.0 / max(n, 1.0)
            for i in 0..<3 { w[i] -= 0.1 * g[i] * s }
        }
        // per variable: two parameters, one over the norm and one under it
        let opt = try makeOptimizer(["class_name": "sgd", "learning_rate": 1.0, "clipnorm": 1.0])
        let a = Param("a", [2], [0, 0]), b = Param("b", [2], [0, 0])
        a.grad = [3, 4]          // norm 5 -> (0.6, 0.8)
        b.grad = [0.3, 0.4]      // norm 0.5 -> unchanged
        opt.step([a, b])
        XCTAssertEqual(a.value[0], -0.6, accuracy: 1e-6)
        XCTAssertEqual(a.value[1], -0.8, accuracy: 1e-6)
        XCTAssertEqual(b.value[0], -0.3, accuracy: 1e-6)
        XCTAssertEqual(b.value[1], -0.4, accuracy: 1e-6)
    }

    func testGlobalClipnormAndClipvalue() throws {
        let opt = try makeOptimizer(["class_name": "sgd", "learning_rate": 1.0, "global_clipnorm": 1.0])
        let a = Param("a", [2], [0, 0]), b = Param("b", [1], [0])
        a.grad = [3, 0]
        b.grad = [4]             // global norm 5 -> everything scaled by 1/5
        opt.step([a, b])
        XCTAssertEqual(a.value[0], -0.6, accuracy: 1e-6)
        XCTAssertEqual(b.value[0], -0.8, accuracy: 1e-6)

        try check(["class_name": "sgd", "learning_rate": 0.1, "clipvalue": 0.5]) { _, w, g in
            for i in 0..<3 { w[i] -= 0.1 * min(max(g[i], -0.5), 0.5) }
        }
        XCTAssertThrowsError(try makeOptimizer(["class_name": "sgd", "clipnorm": 1.0, "clipvalue": 1.0]))
    }

    func testExponentialDecaySchedule() throws {
        // the learning rate of step t (0-based iterations before the update) is 0.1 * 0.5^(t/2)
        let schedule: JSON = ["class_name": "ExponentialDecay",
                              "config": ["initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5]]
        try check(["class_name": "sgd", "learning_rate": schedule]) { t, w, g in
            let lr = 0.1 * pow(0.5, Double(t) / 2)
            for i in 0..<3 { w[i] -= lr * g[i] }
        }
        let stairs: JSON = ["class_name": "ExponentialDecay",
                            "config": ["initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5, "staircase": true]]
        var m = [0.0, 0, 0]
        try check(["class_name": "sgd", "learning_rate": stairs, "momentum": 0.5, "clipvalue": 1.0]) { t, w, g in
            let lr = 0.1 * pow(0.5, (Double(t) / 2).rounded(.down))
            for i in 0..<3 {
                let gc = min(max(g[i], -1), 1)
                m[i] = 0.5 * m[i] - lr * gc
                w[i] += m[i]
            }
        }
        // the schedule survives the config round trip
        let opt = try makeOptimizer(["class_name": "adam", "learning_rate": stairs])
        let again = try makeOptimizer(opt.config)
        XCTAssertEqual(again.config, opt.config)
        XCTAssertEqual(opt.config["learning_rate"]?["config"]?["staircase"], true)
    }

    func testNamesAndErrors() throws {
        for name in ["adam", "Adam", "sgd", "SGD", "rmsprop", "RMSprop", "adagrad", "Adagrad"] {
            XCTAssertNoThrow(try makeOptimizer(.string(name)), name)
        }
        XCTAssertEqual(try makeOptimizer("SGD").config["learning_rate"], 0.01)
        XCTAssertEqual(try makeOptimizer("rmsprop").config["rho"]?.doubleValue ?? 0, 0.9, accuracy: 1e-7)
        XCTAssertThrowsError(try makeOptimizer("adadelta"))
        XCTAssertThrowsError(try makeOptimizer(["class_name": "sgd", "learning_rate": ["class_name": "CosineDecay", "config": [:]]]))
    }

    /// A state taken after some steps and restored into a new optimizer continues exactly as the
    /// original does (what a model file's optimizer/... tensors rely on).
    func testRestoredStateContinuesBitwise() throws {
        let configs: [JSON] = ["adam", ["class_name": "sgd", "momentum": 0.9, "nesterov": true],
                               ["class_name": "rmsprop", "momentum": 0.5, "centered": true], "adagrad",
                               ["class_name": "adam", "learning_rate": ["class_name": "ExponentialDecay",
                                "config": ["initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.5]]]]
        for config in configs {
            let original = try makeOptimizer(config)
            let p = Param("kernel", [3], w0.map { Float($0) })
            for g in grads.prefix(2) { p.grad = g.map { Float($0) }; original.step([p]) }
            let restored = try makeOptimizer(config)
            var slots: [String: [[Float]]] = [:]
            for name in original.slotNames { slots[name] = original.slotValues(name) }
            let q = Param("kernel", [3], p.value)
            restored.restore(iterations: original.iterations, slots: slots, params: [q])
            p.grad = grads[2].map { Float($0) }
            q.grad = p.grad
            original.step([p])
            restored.step([q])
            XCTAssertEqual(p.value, q.value, config.serialized())
            XCTAssertEqual(restored.iterations, 3)
            for name in original.slotNames { XCTAssertEqual(original.slotValues(name), restored.slotValues(name)) }
        }
    }
}
