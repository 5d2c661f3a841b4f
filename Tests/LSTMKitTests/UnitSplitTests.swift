import CKernels
import XCTest
@testable import LSTMKit

/// A one-row forward-only pass of a wide LSTM splits every step's units over two threads
/// (UnitSplit); its outputs and final states must equal one thread's bit for bit (whether the
/// pool is free decides which runs, so anything else would let timing change results), with
/// and without masks, in both directions, and after the weights change.
final class UnitSplitTests: XCTestCase {
    let t = 7, d = 3

    override func tearDown() { EngineSwitches.current = .fromEnvironment() }

    func testSplitGivesOneThreadsResults() throws {
        try XCTSkipIf(WorkerPool.shared.threads < 2, "needs two engine threads")
        var rng = Rng(seed: 21)
        let x = randomTensor([1, t, d], &rng)
        let masks: [[Float]?] = [nil,
                                 [1, 1, 1, 1, 0, 0, 0],   // post-padding: the row's run ends early
                                 [0, 0, 1, 1, 1, 1, 1],   // pre-padding: it starts late
                                 [1, 0, 1, 1, 0, 1, 1]]   // holes: masked steps inside
        // an odd width, so the halves differ (96 and 73 units); and the narrowest that splits
        for (units, seq, back) in [(169, false, false), (169, true, false), (169, false, true), (169, true, true),
                                   (UnitSplit.minUnits, true, false)] {
            do {
                do {
                    for mask in masks {
                        let config: JSON = .object(["units": .number(Double(units)), "return_sequences": .bool(seq),
                                                    "go_backwards": .bool(back), "return_state": true])
                        let layer = try XCTUnwrap(try makeLayer("LSTM", config, input: [t, d], weightsFollow: true) as? RecurrentLayer)
                        var w = Rng(seed: 6)
                        for p in layer.params { p.value = (0..<p.count).map { _ in w.uniform(-0.3, 0.3) } }
                        layer.forwardOnly = true
                        let what = "units=\(units) seq=\(seq) back=\(back) mask=\(mask.map { "\($0)" } ?? "none")"
                        for round in 0..<2 {
                            if round == 1 { layer.params[1].value = layer.params[1].value.map { -$0 } }  // repacked?
                            var r1 = Rng(seed: 1), r2 = Rng(seed: 1)
                            EngineSwitches.current.unitSplit = false
                            let (one, _) = layer.forward(x, mask: mask, training: false, rng: &r1)
                            let oneStates = layer.finalStates
                            EngineSwitches.current.unitSplit = true
                            let passes = layer.unitSplit?.passes ?? 0
                            let (two, _) = layer.forward(x, mask: mask, training: false, rng: &r2)
                            XCTAssertEqual(layer.unitSplit?.passes, passes + 1, what)
                            XCTAssertEqual(two.shape, one.shape, what)
                            for (u, v) in zip(two.data, one.data) { XCTAssertEqual(u, v, what) }
                            for (s1, s2) in zip(layer.finalStates, oneStates) {
                                for (u, v) in zip(s1.data, s2.data) { XCTAssertEqual(u, v, what) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Under mixed_bfloat16 both halves multiply bfloat16-rounded operands, as the one-thread
    /// one-row product does, and the calling thread's policy is back afterwards.
    func testSplitUnderBFloat16GivesOneThreadsResults() throws {
        try XCTSkipIf(WorkerPool.shared.threads < 2, "needs two engine threads")
        if lk_bf16_open() != 0 { throw XCTSkip(String(cString: lk_bf16_error())) }
        var rng = Rng(seed: 4)
        let x = randomTensor([1, t, d], &rng)
        let layer = try XCTUnwrap(try makeLayer("LSTM", .object(["units": 176, "return_sequences": true]), input: [t, d],
                                                weightsFollow: true) as? RecurrentLayer)
        var w = Rng(seed: 6)
        for p in layer.params { p.value = (0..<p.count).map { _ in w.uniform(-0.3, 0.3) } }
        layer.forwardOnly = true
        func run(split: Bool) -> [Float] {
            EngineSwitches.current.unitSplit = split
            var r = Rng(seed: 1)
            return BFloat16Products.with(.mixedBFloat16, failures: BFloat16Failures()) {
                let y = layer.forward(x, mask: nil, training: false, rng: &r).0.data
                XCTAssertEqual(lk_bf16_thread_enabled(), 1)
                return y
            }
        }
        let one = run(split: false), two = run(split: true)
        XCTAssertEqual(layer.unitSplit?.passes, 1)
        for (u, v) in zip(two, one) { XCTAssertEqual(u, v) }
        EngineSwitches.current.unitSplit = false
        var r = Rng(seed: 1)
        let float32 = layer.forward(x, mask: nil, training: false, rng: &r).0.data
        XCTAssertGreaterThan(zip(two, float32).map { abs($0 - $1) }.max()!, 1e-4)   // rounding did happen
    }

    func testNarrowOrBatchedPassesStayOnOneThread() throws {
        var rng = Rng(seed: 2)
        for (units, rows) in [(UnitSplit.minUnits - 16, 1), (UnitSplit.minUnits, 2)] {
            let layer = try XCTUnwrap(try makeLayer("LSTM", .object(["units": .number(Double(units))]), input: [t, d],
                                                    weightsFollow: true) as? RecurrentLayer)
            layer.forwardOnly = true
            let x = randomTensor([rows, t, d], &rng)
            var r = Rng(seed: 1)
            _ = layer.forward(x, mask: nil, training: false, rng: &r)
            XCTAssertEqual(layer.unitSplit?.passes ?? 0, 0, "units=\(units) rows=\(rows)")
        }
    }
}
