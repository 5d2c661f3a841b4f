import XCTest
@testable import LSTMKit

/// The padding skip of the recurrent driver (Layers/Recurrent.swift) against the plain
/// computation (EngineSwitches.current.paddingSkip = false): outputs and every gradient agree to float
/// rounding, for pre- and post-padding, with and without a mask, every cell, return_sequences on
/// and off, go_backwards and Bidirectional.
final class PaddingSkipTests: XCTestCase {
    var b = 7, t = 9
    let d = 3

    /// Runs body for more steps than rows and for fewer (the driver then groups its GEMMs by step
    /// instead of by row).
    func eachShape(_ body: () throws -> Void) rethrows {
        for (rows, steps) in [(7, 9), (12, 4)] {
            b = rows; t = steps
            try body()
        }
    }

    override func tearDown() { EngineSwitches.current = .fromEnvironment() }

    /// The cells and directions tried; Bidirectional merges with concat.
    func layers(_ seq: Bool) -> [(String, JSON)] {
        let cells: [(String, [String: JSON])] = [("LSTM", [:]), ("GRU", [:]), ("GRU", ["reset_after": false]), ("SimpleRNN", [:])]
        var out: [(String, JSON)] = []
        for (cls, extra) in cells {
            var c: [String: JSON] = ["units": 5, "return_sequences": .bool(seq)]
            for (k, v) in extra { c[k] = v }
            out.append((cls, .object(c)))
            var back = c
            back["go_backwards"] = true
            out.append((cls, .object(back)))
            out.append(("Bidirectional", .object(["layer": .object(["class_name": .string(cls), "config": .object(c)])])))
        }
        return out
    }

    func make(_ cls: String, _ config: JSON, fromEmbedding: Bool) throws -> Layer {
        let layer = try makeLayer(cls, config, input: [t, d], seed: 3)
        var rng = Rng(seed: 99)
        for p in layer.params { p.value = (0..<p.count).map { _ in rng.uniform(-0.6, 0.6) } }
        for r in [layer as? RecurrentLayer, (layer as? Bidirectional)?.forwardLayer, (layer as? Bidirectional)?.backwardLayer] {
            r?.inputFromEmbedding = fromEmbedding
        }
        return layer
    }

    /// Forward and backward with the skip on or off: output, parameter gradients, input gradient.
    func run(_ layer: Layer, _ x: Tensor, _ mask: [Float]?, skip: Bool) -> (y: [Float], grads: [[Float]], dx: [Float]) {
        EngineSwitches.current.paddingSkip = skip
        defer { EngineSwitches.current = .fromEnvironment() }
        var rng = Rng(seed: 1)
        let (y, _) = layer.forward(x, mask: mask, training: false, rng: &rng)
        var wr = Rng(seed: 2)
        let dy = randomTensor(y.shape, &wr)
        for p in layer.params { p.grad = [Float](repeating: 0, count: p.count) }
        let dx = layer.backward(dy)
        return (y.data, layer.params.map { $0.grad }, dx.data)
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var worst: Float = 0
        for (u, v) in zip(a, b) { worst = max(worst, abs(u - v) / max(1, abs(u), abs(v))) }
        XCTAssertLessThanOrEqual(worst, 1e-5, what, file: file, line: line)
    }

    /// Random padding lengths, including none and all-padding rows.
    func lengths(_ rng: inout Rng) -> [Int] {
        var n = (0..<b).map { _ in rng.below(t + 1) }
        n[0] = 0; n[1] = t
        return n
    }

    /// Padding processed first (pre-padding forwards, post-padding under go_backwards) is shared.
    func testUnmaskedPaddingSharesOneTrajectory() throws {
        try eachShape {
            for seq in [false, true] {
                for (cls, config) in layers(seq) { for pre in [true, false] {
                    var rng = Rng(seed: 5)
                    let pad = lengths(&rng)
                    var x = randomTensor([b, t, d], &rng)
                    let padVector = (0..<d).map { _ in rng.uniform(-1, 1) }
                    func isPad(_ i: Int, _ s: Int) -> Bool { pre ? s < pad[i] : s >= t - pad[i] }
                    for i in 0..<b { for s in 0..<t where isPad(i, s) { for j in 0..<d { x.data[(i * t + s) * d + j] = padVector[j] } } }
                    let what = "\(cls) \(config.serialized()) \(pre ? "pre" : "post")"
                    let layer = try make(cls, config, fromEmbedding: true)
                    let plain = run(layer, x, nil, skip: false)
                    let skipped = run(layer, x, nil, skip: true)
                    let shared = [layer as? RecurrentLayer, (layer as? Bidirectional)?.forwardLayer,
                                  (layer as? Bidirectional)?.backwardLayer].compactMap { $0 }
                        .filter { $0.goBackwards != pre }
                    for r in shared { XCTAssertNotNil(r.sharedRow, "\(what): the skip did not engage") }
                    assertClose(skipped.y, plain.y, "\(what) output")
                    for (k, (g1, g0)) in zip(skipped.grads, plain.grads).enumerated() { assertClose(g1, g0, "\(what) grad \(k)") }
                    // every padding position too: Adam squares each lookup's own gradient
                    assertClose(skipped.dx, plain.dx, "\(what) dx")
                } }
            }
        }
    }

    /// Backward stops stepping a padding row once its gradient is exactly zero. With no recurrent
    /// kernel and the gate that carries the state closed (LSTM's forget gate; GRU's update gate z,
    /// whose z * h_prev term then vanishes) that happens one step into the padding; SimpleRNN
    /// needs only U = 0.
    func testPaddingRowsWithZeroGradientAreSkippedExactly() throws {
        let h = 5
        // (class, extra config, gate columns to close: bias -200, kernel 0, and where the bias is)
        let cells: [(String, [String: JSON], Range<Int>?)] = [
            ("LSTM", [:], h..<(2 * h)), ("GRU", [:], 0..<h), ("GRU", ["reset_after": false], 0..<h),
            ("SimpleRNN", [:], nil)]
        try eachShape {
            for (cls, extra, closed) in cells {
                var config: [String: JSON] = ["units": .number(Double(h))]
                for (k, v) in extra { config[k] = v }
                var rng = Rng(seed: 6)
                let pad = lengths(&rng)
                var x = randomTensor([b, t, d], &rng)
                for i in 0..<b { for s in 0..<pad[i] { for j in 0..<d { x.data[(i * t + s) * d + j] = 0.25 } } }
                let layer = try make(cls, .object(config), fromEmbedding: true)
                let width = layer.params[0].shape[1]
                layer.params[1].value = [Float](repeating: 0, count: layer.params[1].count)
                if let closed {
                    for r in 0..<d { for j in closed { layer.params[0].value[r * width + j] = 0 } }
                    for j in closed { layer.params[2].value[j] = -200 }
                }
                let what = "\(cls) \(config) \(b)x\(t)"
                let plain = run(layer, x, nil, skip: false)
                let skipped = run(layer, x, nil, skip: true)
                XCTAssertGreaterThan((layer as! RecurrentLayer).deadPaddingSteps, 0, "\(what): no padding step was skipped")
                assertClose(skipped.y, plain.y, "\(what) output")
                for (k, (g1, g0)) in zip(skipped.grads, plain.grads).enumerated() { assertClose(g1, g0, "\(what) grad \(k)") }
                assertClose(skipped.dx, plain.dx, "\(what) dx")
            }
        }
    }

    func testMaskedPreAndPostPaddingComputeOnlyActiveRows() throws {
        try eachShape {
            for seq in [false, true] {
                for (cls, config) in layers(seq) {
                    for pre in [true, false] {
                        var rng = Rng(seed: pre ? 8 : 9)
                        let pad = lengths(&rng)
                        let x = randomTensor([b, t, d], &rng)
                        var mask = [Float](repeating: 1, count: b * t)
                        for i in 0..<b { for k in 0..<pad[i] { mask[i * t + (pre ? k : t - 1 - k)] = 0 } }
                        let what = "\(cls) \(config.serialized()) \(pre ? "pre" : "post")"
                        let layer = try make(cls, config, fromEmbedding: true)
                        let plain = run(layer, x, mask, skip: false)
                        let skipped = run(layer, x, mask, skip: true)
                        assertClose(skipped.y, plain.y, "\(what) output")
                        for (k, (g1, g0)) in zip(skipped.grads, plain.grads).enumerated() { assertClose(g1, g0, "\(what) grad \(k)") }
                        assertClose(skipped.dx, plain.dx, "\(what) dx")
                    }
                }
            }
        }
    }

    /// A model from ids: Embedding -> LSTM -> Dense, pre-padded with id 0, the IMDB shape in small.
    /// The embedding's lookup squares must match too, padding row included.
    func testEmbeddingModelGradientsMatch() throws {
        try eachShape {
            for maskZero in [false, true] {
                let config: JSON = ["layers": [
                    ["class_name": "Embedding", "config": ["input_dim": 20, "output_dim": 4, "mask_zero": .bool(maskZero)]],
                    ["class_name": "LSTM", "config": ["units": 6]],
                    ["class_name": "Dense", "config": ["units": 1, "activation": "sigmoid"]],
                ]]
                var rng = Rng(seed: 21)
                var ids = [Float](repeating: 0, count: b * t)
                let pad = lengths(&rng)
                for i in 0..<b { for s in pad[i]..<t { ids[i * t + s] = Float(1 + rng.below(19)) } }
                let x = Tensor(shape: [b, t], data: ids)
                var results: [[[Float]]] = []
                for skip in [false, true] {
                    EngineSwitches.current.paddingSkip = skip
                    let m = try Model(config: config, seed: 4)
                    try m.build(input: [t])
                    var r = Rng(seed: 0)
                    let y = m.forward(x, training: false, rng: &r)
                    for p in m.params { p.grad = [Float](repeating: 0, count: p.count) }
                    m.backward(y.data.map { $0 - 0.5 }, fused: false, outputShape: y.shape)
                    // and the per-lookup squares Adam adds to the embeddings' second moment
                    results.append([y.data] + m.params.map { $0.grad } + m.params.compactMap { $0.lookupSquares })
                }
                for (k, (a, b)) in zip(results[1], results[0]).enumerated() { assertClose(a, b, "mask_zero \(maskZero) tensor \(k)") }
            }
        }
    }
}
