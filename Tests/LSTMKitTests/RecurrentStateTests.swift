import XCTest
@testable import LSTMKit

/// return_state, initial_state and stateful on the shared recurrent driver, checked against
/// finite differences (gradients) and against the plain computation (values).
final class RecurrentStateTests: XCTestCase {
    private let classes: [(String, [String: JSON])] = [("LSTM", [:]), ("GRU", [:]), ("GRU", ["reset_after": false]),
                                                       ("SimpleRNN", [:])]

    private func layer(_ cls: String, _ extra: [String: JSON], _ options: [String: JSON]) throws -> RecurrentLayer {
        var config = extra
        config["units"] = 3
        for (k, v) in options { config[k] = v }
        return try makeLayer(cls, .object(config), input: [5, 2]) as! RecurrentLayer
    }

    /// L = sum(w0 * y) + sum_k sum(wk * state_k), through forward(_:masks:) with initial states;
    /// checks the weights', the input's and the initial states' gradients.
    private func checkStateGradients(_ l: RecurrentLayer, mask: [Float]?, file: StaticString = #filePath, line: UInt = #line) {
        var rng = Rng(seed: 3)
        let x = randomTensor([2, 5, 2], &rng)
        let states = (0..<l.stateCount).map { _ in randomTensor([2, 3], &rng) }
        var r0 = Rng(seed: 0)
        let (outs0, _) = l.forward([x] + states, masks: [mask] + states.map { _ in nil }, training: false, rng: &r0)
        XCTAssertEqual(outs0.count, 1 + l.stateCount, file: file, line: line)
        let ws = outs0.map { randomTensor($0.shape, &rng) }
        func probe(_ x: Tensor, _ states: [Tensor]) -> Double {
            var r = Rng(seed: 0)
            let (outs, _) = l.forward([x] + states, masks: [mask] + states.map { _ in nil }, training: false, rng: &r)
            var s = 0.0
            for (o, w) in zip(outs, ws) { for i in 0..<o.count { s += Double(o.data[i]) * Double(w.data[i]) } }
            return s
        }
        for p in l.params { p.grad = [Float](repeating: 0, count: p.count) }
        _ = probe(x, states)
        let grads = l.backward(ws.map { Optional($0) })
        XCTAssertEqual(grads.count, 1 + l.stateCount, file: file, line: line)
        for p in l.params {
            for i in stride(from: 0, to: p.count, by: max(1, p.count / 12)) {
                let orig = p.value[i]
                p.value[i] = orig + fdStep; let lp = probe(x, states)
                p.value[i] = orig - fdStep; let lm = probe(x, states)
                p.value[i] = orig
                assertClose(p.grad[i], (lp - lm) / Double(2 * fdStep), "\(l.name)/\(p.name)[\(i)]", file: file, line: line)
            }
        }
        for i in 0..<x.count {
            var xp = x, xm = x
            xp.data[i] += fdStep; xm.data[i] -= fdStep
            assertClose(grads[0].data[i], (probe(xp, states) - probe(xm, states)) / Double(2 * fdStep), "\(l.name) dx[\(i)]", file: file, line: line)
        }
        for k in 0..<l.stateCount {
            for i in 0..<states[k].count {
                var sp = states, sm = states
                sp[k].data[i] += fdStep; sm[k].data[i] -= fdStep
                assertClose(grads[1 + k].data[i], (probe(x, sp) - probe(x, sm)) / Double(2 * fdStep),
                            "\(l.name) d(initial state \(k))[\(i)]", file: file, line: line)
            }
        }
    }

    func testReturnStateAndInitialStateGradients() throws {
        // post-padding mask on row 1: the state returned is the last unmasked step's
        let mask: [Float] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
        for (cls, extra) in classes {
            for (seq, back) in [(false, false), (true, false), (true, true)] {
                for m in [nil, mask] {
                    let l = try layer(cls, extra, ["return_state": true, "return_sequences": .bool(seq), "go_backwards": .bool(back)])
                    checkStateGradients(l, mask: m)
                }
            }
        }
    }

    func testReturnedStateIsTheLastUnmaskedStepsState() throws {
        for (cls, extra) in classes {
            let l = try layer(cls, extra, ["return_state": true, "return_sequences": true])
            var rng = Rng(seed: 5)
            let x = randomTensor([2, 5, 2], &rng)
            let mask: [Float] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]   // row 1: three real steps
            var r = Rng(seed: 0)
            let (outs, _) = l.forward([x], masks: [mask], training: false, rng: &r)
            let h = outs[1], seq = outs[0]
            for j in 0..<3 {
                XCTAssertEqual(h.data[j], seq.data[(0 * 5 + 4) * 3 + j], "\(cls) row 0")
                XCTAssertEqual(h.data[3 + j], seq.data[(1 * 5 + 2) * 3 + j], "\(cls) row 1: step 2, the last unmasked")
            }
            // the same three steps without the padding give the same state
            let short = Tensor(shape: [1, 3, 2], data: Array(x.data[10..<16]))
            var r2 = Rng(seed: 0)
            let (alone, _) = l.forward([short], masks: [nil], training: false, rng: &r2)
            for j in 0..<3 { XCTAssertEqual(alone[1].data[j], h.data[3 + j], accuracy: 1e-6) }
        }
    }

    /// Stateful: two batches carried over give the same outputs as the two halves of one long
    /// sequence; reset_states starts from zeros again.
    func testStatefulCarriesTheStateRowByRow() throws {
        for (cls, extra) in classes {
            let l = try layer(cls, extra, ["stateful": true, "return_sequences": true])
            let plain = try layer(cls, extra, ["return_sequences": true])
            var rng = Rng(seed: 9)
            let long = randomTensor([2, 10, 2], &rng)
            func half(_ k: Int) -> Tensor {
                var d: [Float] = []
                for i in 0..<2 {
                    let start: Int = (i * 10 + k * 5) * 2
                    d.append(contentsOf: long.data[start..<(start + 10)])
                }
                return Tensor(shape: [2, 5, 2], data: d)
            }
            var r = Rng(seed: 0)
            let (whole, _) = plain.forward(long, mask: nil, training: false, rng: &r)
            let (a, _) = l.forward(half(0), mask: nil, training: false, rng: &r)
            let (b, _) = l.forward(half(1), mask: nil, training: false, rng: &r)
            for i in 0..<2 {
                for s in 0..<5 {
                    for j in 0..<3 {
                        XCTAssertEqual(a.data[(i * 5 + s) * 3 + j], whole.data[(i * 10 + s) * 3 + j], accuracy: 1e-5)
                        XCTAssertEqual(b.data[(i * 5 + s) * 3 + j], whole.data[(i * 10 + 5 + s) * 3 + j], accuracy: 1e-5, "\(cls)")
                    }
                }
            }
            l.resetStates()
            let (again, _) = l.forward(half(1), mask: nil, training: false, rng: &r)
            let (fresh, _) = plain.forward(half(1), mask: nil, training: false, rng: &r)
            XCTAssertEqual(again.data, fresh.data)
        }
    }

    /// A functional encoder-decoder: the gradient of every weight through the state hand-over
    /// against finite differences of the whole model's loss.
    func testEncoderDecoderGraphGradients() throws {
        let config: JSON = [
            "class_name": "Functional", "name": "seq2seq",
            "layers": [
                ["class_name": "InputLayer", "name": "src", "config": ["batch_shape": [nil, 4]]],
                ["class_name": "Embedding", "name": "emb", "config": ["input_dim": 7, "output_dim": 3], "inbound_nodes": [["src", 0, 0]]],
                ["class_name": "LSTM", "name": "enc", "config": ["units": 3, "return_state": true], "inbound_nodes": [["emb", 0, 0]]],
                ["class_name": "RepeatVector", "name": "rep", "config": ["n": 3], "inbound_nodes": [["enc", 0, 0]]],
                ["class_name": "LSTM", "name": "dec", "config": ["units": 3, "return_sequences": false],
                 "inbound_nodes": [["rep", 0, 0]], "initial_state": [["enc", 0, 1], ["enc", 0, 2]]],
                ["class_name": "Dense", "name": "out", "config": ["units": 1, "activation": "sigmoid"], "inbound_nodes": [["dec", 0, 0]]],
            ],
            "input_layers": [["src", 0, 0]], "output_layers": [["out", 0, 0]]]
        let m = try Model(config: config, seed: 4)
        XCTAssertNotNil(m.graph)
        // Keras's formulas: Embedding 7*3, LSTM 4*(3*(3+3)+3) each, Dense 3+1
        XCTAssertEqual(m.paramCount, 21 + 84 + 84 + 4)
        let x = Tensor(shape: [3, 4], data: [0, 0, 1, 2, 3, 4, 5, 6, 0, 6, 6, 1])
        checkModelGradients(m, x: x, y: [1, 0, 1], samplesPerParam: 10)
        // the configuration describes the graph: a model made from it computes the same
        let twin = try Model(config: m.config, seed: 99)
        for (a, b) in zip(twin.params, m.params) { a.value = b.value }
        var r1 = Rng(seed: 0), r2 = Rng(seed: 0)
        XCTAssertEqual(twin.forward(x, training: false, rng: &r1).data, m.forward(x, training: false, rng: &r2).data)
    }

    func testGraphConfigErrorsAreClear() {
        func refused(_ layers: [JSON], output: JSON = [["d", 0, 0]], _ fragment: String, line: UInt = #line) {
            let config: JSON = ["class_name": "Functional",
                                "layers": .array([["class_name": "InputLayer", "name": "in", "config": ["batch_shape": [nil, 4, 2]]]] + layers),
                                "input_layers": [["in", 0, 0]], "output_layers": output]
            XCTAssertThrowsError(try Model(config: config, seed: 0), line: line) { error in
                XCTAssertEqual((error as? LSTMKitError)?.status, .badConfig, line: line)
                XCTAssertTrue((error as? LSTMKitError)?.message.contains(fragment) ?? false, "\(error)", line: line)
            }
        }
        let dense: JSON = ["class_name": "Dense", "name": "d", "config": ["units": 1], "inbound_nodes": [["l", 0, 0]]]
        refused([["class_name": "LSTM", "name": "l", "config": ["units": 2], "inbound_nodes": [["nope", 0, 0]]], dense], "not a layer defined before")
        refused([["class_name": "LSTM", "name": "l", "config": ["units": 2], "inbound_nodes": [["in", 0, 0]]],
                 ["class_name": "Dense", "name": "d", "config": ["units": 1], "inbound_nodes": [["l", 0, 1]]]], "out of range")
        refused([["class_name": "LSTM", "name": "l", "config": ["units": 2], "inbound_nodes": [["in", 0, 0]],
                  "initial_state": [["in", 0, 0]]], dense], "needs 2 tensors")
        refused([["class_name": "LSTM", "name": "l", "config": ["units": 2], "inbound_nodes": [["in", 0, 0]]],
                 ["class_name": "LSTM", "name": "x", "config": ["units": 2], "inbound_nodes": [["in", 0, 0]]], dense], "does not lead to the model's output")
        XCTAssertThrowsError(try Model(config: ["layers": [["class_name": "LSTM", "config": ["units": 2, "return_state": true]]], "input_shape": [3, 2]], seed: 0)) {
            XCTAssertTrue(($0 as? LSTMKitError)?.message.contains("functional Model") ?? false)
        }
    }
}
