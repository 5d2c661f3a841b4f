import CKernels
import Glibc
import XCTest
@testable import LSTMKit

/// The elementwise kernels' approximations (Sources/CKernels/kernels.c) against libm in double:
/// their error bounds, exact saturation, and the forward-only LSTM step against the full one.
final class KernelMathTests: XCTestCase {
    /// -20...20 in steps of 1e-3, plus both sides of tanh's saturation bound.
    let grid: [Float] = (-20_000...20_000).map { Float($0) / 1000 } + [7.9053, 7.9054, -7.9053, -7.9054, 0]

    func testTanhIsWithinItsBoundAndSaturatesExactly() {
        var y = grid
        tanhInPlace(&y, y.count)
        var worst = 0.0
        for (x, v) in zip(grid, y) {
            worst = max(worst, abs(Double(v) - tanh(Double(x))))
            if abs(x) >= 7.9054 { XCTAssertEqual(v, x > 0 ? 1 : -1, "tanh(\(x))") }
            XCTAssertLessThanOrEqual(abs(v), 1, "tanh(\(x))")
        }
        XCTAssertLessThanOrEqual(worst, 4e-7)
        var odd: [Float] = [0.3, -0.3, 2.5, -2.5, 0]
        tanhInPlace(&odd, odd.count)
        XCTAssertEqual(odd[0], -odd[1]); XCTAssertEqual(odd[2], -odd[3]); XCTAssertEqual(odd[4], 0)
        var nan: [Float] = [.nan]
        tanhInPlace(&nan, 1)
        XCTAssertTrue(nan[0].isNaN)
    }

    /// The activation (Dense's sigmoid) keeps its relative precision in the tails, where a loss
    /// takes its log.
    func testSigmoidActivationKeepsItsTails() {
        let xs: [Float] = (-8_000...2_000).map { Float($0) / 100 }
        var y = xs
        sigmoidInPlace(&y, y.count)
        for (x, v) in zip(xs, y) {
            let ref = 1 / (1 + exp(-Double(x)))
            XCTAssertLessThanOrEqual(abs(Double(v) - ref), 1e-6 * ref, "sigmoid(\(x))")
        }
    }

    func testSoftmaxRowsOfEveryWidth() {
        var rng = Rng(seed: 4)
        for width in Array(1...40) + [351] {
            let rows = 3
            let x = (0..<(rows * width)).map { _ in rng.uniform(-30, 30) }
            var y = x
            softmaxRowsInPlace(&y, rows: rows, width: width)
            for r in 0..<rows {
                let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
                let m = row.max()!
                let sum = row.reduce(0) { $0 + exp($1 - m) }
                for j in 0..<width {
                    XCTAssertEqual(Double(y[r * width + j]), exp(row[j] - m) / sum, accuracy: 1e-6, "width \(width)")
                }
            }
        }
    }

    /// One row of an LSTM step through lk_lstm_forward: gates within 3e-7 of the exact sigmoid
    /// and tanh, a gate closed by a large negative preactivation exactly 0; the step with a row
    /// added (the bias) and the forward-only step bit for bit the step on the summed
    /// preactivations.
    func testLSTMStepGatesAndTheForwardOnlyStep() {
        var rng = Rng(seed: 9)
        let h = 37   // not a multiple of a vector's lanes
        for trial in 0..<20 {
            let spread: Float = trial == 0 ? 40 : 6
            let z = (0..<(4 * h)).map { _ in rng.uniform(-spread, spread) }
            let cPrev = (0..<h).map { _ in rng.uniform(-3, 3) }
            var gates = z, c = [Float](repeating: 0, count: h), tc = c, hNext = c
            lk_lstm_forward(&gates, nil, cPrev, &c, &tc, &hNext, h)
            for k in 0..<(4 * h) {
                let exact = k / h == 2 ? tanh(Double(z[k])) : 1 / (1 + exp(-Double(z[k])))
                XCTAssertEqual(Double(gates[k]), exact, accuracy: 3e-7, "gate \(k) of z = \(z[k])")
                if k / h != 2 && z[k] <= -16 { XCTAssertEqual(gates[k], 0) }
            }
            let part = (0..<(4 * h)).map { _ in rng.uniform(-1, 1) }
            let rest = zip(z, part).map { $0 - $1 }
            let summed = zip(rest, part).map { $0 + $1 }   // what the full step would see
            var full = summed, cFull = c, tcFull = tc, hFull = hNext
            lk_lstm_forward(&full, nil, cPrev, &cFull, &tcFull, &hFull, h)
            // the bias added by the step itself
            var added = rest, cAdded = c, tcAdded = tc, hAdded = hNext
            lk_lstm_forward(&added, part, cPrev, &cAdded, &tcAdded, &hAdded, h)
            XCTAssertEqual(added, full); XCTAssertEqual(cAdded, cFull); XCTAssertEqual(tcAdded, tcFull); XCTAssertEqual(hAdded, hFull)
            var cOnly = c, hOnly = hNext
            lk_lstm_forward_only(rest, part, cPrev, &cOnly, &hOnly, h)
            XCTAssertEqual(cOnly, cFull); XCTAssertEqual(hOnly, hFull)
            lk_lstm_forward_only(summed, nil, cPrev, &cOnly, &hOnly, h)
            XCTAssertEqual(cOnly, cFull); XCTAssertEqual(hOnly, hFull)
        }
    }

    /// The unit split's step over units u0..<u0+n of an H-unit layer: the layer's rows (gate k at
    /// k * H) added to the slice's products in order, bit for bit the forward-only step on the sums.
    func testUnitSliceStepAddsTheLayersRowsInOrder() {
        var rng = Rng(seed: 4)
        let layerUnits = 53, u0 = 21, n = 19
        for withSecond in [false, true] {
            let z = (0..<(4 * n)).map { _ in rng.uniform(-4, 4) }
            let add = (0..<(4 * layerUnits)).map { _ in rng.uniform(-2, 2) }
            let add2 = (0..<(4 * layerUnits)).map { _ in rng.uniform(-2, 2) }
            let cPrev = (0..<layerUnits).map { _ in rng.uniform(-3, 3) }
            var summed = z
            for g in 0..<4 {
                for j in 0..<n {
                    summed[g * n + j] += add[g * layerUnits + u0 + j]
                    if withSecond { summed[g * n + j] += add2[g * layerUnits + u0 + j] }
                }
            }
            var cWant = [Float](repeating: 0, count: n), hWant = cWant
            lk_lstm_forward_only(summed, nil, Array(cPrev[u0..<(u0 + n)]), &cWant, &hWant, n)
            var cGot = [Float](repeating: 0, count: layerUnits), hGot = cGot
            add.withUnsafeBufferPointer { a in
                add2.withUnsafeBufferPointer { a2 in
                    cPrev.withUnsafeBufferPointer { cp in
                        cGot.withUnsafeMutableBufferPointer { cg in
                            hGot.withUnsafeMutableBufferPointer { hg in
                                lk_lstm_forward_only_units(z, a.baseAddress! + u0, withSecond ? a2.baseAddress! + u0 : nil, layerUnits,
                                                           cp.baseAddress! + u0, cg.baseAddress! + u0, hg.baseAddress! + u0, n)
                            }
                        }
                    }
                }
            }
            XCTAssertEqual(Array(cGot[u0..<(u0 + n)]), cWant)
            XCTAssertEqual(Array(hGot[u0..<(u0 + n)]), hWant)
            XCTAssertEqual(cGot[u0 - 1], 0); XCTAssertEqual(cGot[u0 + n], 0)   // nothing outside the slice
        }
    }
}
