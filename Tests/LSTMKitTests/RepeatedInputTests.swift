import XCTest
@testable import LSTMKit

/// A recurrent layer whose rows read the same vector at every step (RepeatVector's output, the
/// translation decoder's input) projects it once per row and takes the kernel's gradient from the
/// steps' summed gate gradients. Outputs and every gradient must equal the per-step computation
/// (EngineSwitches.current.shareRepeatedInput = false) to float rounding.
final class RepeatedInputTests: XCTestCase {
    let b = 5, t = 6, d = 4

    override func tearDown() { EngineSwitches.current = .fromEnvironment() }

    func configs() -> [(String, JSON)] {
        var out: [(String, JSON)] = []
        for (cls, extra) in [("LSTM", [String: JSON]()), ("GRU", [:]), ("GRU", ["reset_after": false]), ("SimpleRNN", [:])] {
            for seq in [false, true] {
                for back in [false, true] {
                    for drop in [0.0, 0.3] {
                        var c: [String: JSON] = ["units": 7, "return_sequences": .bool(seq), "go_backwards": .bool(back),
                                                 "dropout": .number(drop)]
                        for (k, v) in extra { c[k] = v }
                        out.append((cls, .object(c)))
                    }
                }
            }
        }
        return out
    }

    func run(_ layer: RecurrentLayer, _ x: Tensor, shared: Bool) -> (y: [Float], grads: [[Float]], dx: [Float], took: Bool) {
        EngineSwitches.current.shareRepeatedInput = shared
        defer { EngineSwitches.current = .fromEnvironment() }
        var rng = Rng(seed: 1)   // the same dropout masks both times
        let (y, _) = layer.forward(x, mask: nil, training: true, rng: &rng)
        let took = layer.repeatedInput
        var wr = Rng(seed: 2)
        let dy = randomTensor(y.shape, &wr)
        for p in layer.params { p.grad = [Float](repeating: 0, count: p.count) }
        let dx = layer.backward(dy)
        return (y.data, layer.params.map { $0.grad }, dx.data, took)
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String) {
        XCTAssertEqual(a.count, b.count, what)
        var worst: Float = 0
        for (u, v) in zip(a, b) { worst = max(worst, abs(u - v) / max(1, abs(u), abs(v))) }
        XCTAssertLessThanOrEqual(worst, 1e-5, what)
    }

    func testRepeatedInputEqualsPerStepProjection() throws {
        var rng = Rng(seed: 7)
        let row = randomTensor([b, d], &rng)
        var x = Tensor(zeros: [b, t, d])
        for i in 0..<b { for s in 0..<t { for j in 0..<d { x.data[(i * t + s) * d + j] = row.data[i * d + j] } } }
        for (cls, config) in configs() {
            let layer = try XCTUnwrap(try makeLayer(cls, config, input: [t, d], seed: 3) as? RecurrentLayer)
            let shared = run(layer, x, shared: true), plain = run(layer, x, shared: false)
            let what = "\(cls) \(config)"
            XCTAssertTrue(shared.took, "repeated path not taken: " + what)
            XCTAssertFalse(plain.took, what)
            assertClose(shared.y, plain.y, "output " + what)
            for (k, (g, h)) in zip(shared.grads, plain.grads).enumerated() { assertClose(g, h, "grad \(k) " + what) }
            assertClose(shared.dx, plain.dx, "dx " + what)
        }
    }

    /// One step that differs anywhere turns the shortcut off.
    func testVaryingInputIsProjectedPerStep() throws {
        var rng = Rng(seed: 8)
        var x = Tensor(zeros: [b, t, d])
        let row = randomTensor([d], &rng)
        for i in 0..<b { for s in 0..<t { for j in 0..<d { x.data[(i * t + s) * d + j] = row.data[j] } } }
        let last = ((b - 1) * t + t - 1) * d + d - 1
        x.data[last] += 1e-3   // the last row's last step only
        let layer = try XCTUnwrap(try makeLayer("LSTM", .object(["units": 3]), input: [t, d], seed: 3) as? RecurrentLayer)
        _ = run(layer, x, shared: true)
        XCTAssertFalse(layer.repeatedInput)
    }
}
