import XCTest
@testable import LSTMKit

final class LossGradientTests: XCTestCase {
    private func checkProbabilityGradient(_ kind: LossKind, p: [Float], y: [Float], rows: Int, width: Int) {
        let loss = LossFunction(kind: kind)
        let (_, grad) = loss.lossAndGrad(p: p, y: y, rows: rows, width: width)
        let h: Float = 1e-3
        for i in 0..<p.count {
            var pp = p, pm = p
            pp[i] += h
            pm[i] -= h
            let numeric = (loss.lossAndGrad(p: pp, y: y, rows: rows, width: width).0
                           - loss.lossAndGrad(p: pm, y: y, rows: rows, width: width).0) / Double(2 * h)
            assertClose(grad[i], numeric, "\(kind) dL/dp[\(i)]")
        }
    }

    private func checkLogitGradient(_ kind: LossKind, z: [Float], y: [Float], rows: Int, width: Int) {
        let loss = LossFunction(kind: kind)
        func probs(_ z: [Float]) -> [Float] {
            if kind == .binaryCrossentropy { return z.map { 1 / (1 + expf(-$0)) } }
            var p = z
            for r in 0..<rows {
                let row = Array(z[(r * width)..<((r + 1) * width)])
                let m = row.max()!
                let e = row.map { expf($0 - m) }
                let s = e.reduce(0, +)
                for j in 0..<width { p[r * width + j] = e[j] / s }
            }
            return p
        }
        let (value, grad) = loss.lossAndGrad(logits: z, probabilities: probs(z), y: y, rows: rows, width: width)
        // the fused loss equals the plain loss of the probabilities
        XCTAssertEqual(value, loss.lossAndGrad(p: probs(z), y: y, rows: rows, width: width).0, accuracy: 1e-4)
        let h: Float = 1e-2
        for i in 0..<z.count {
            var zp = z, zm = z
            zp[i] += h
            zm[i] -= h
            let numeric = (loss.lossAndGrad(logits: zp, probabilities: probs(zp), y: y, rows: rows, width: width).0
                           - loss.lossAndGrad(logits: zm, probabilities: probs(zm), y: y, rows: rows, width: width).0) / Double(2 * h)
            assertClose(grad[i], numeric, "\(kind) dL/dz[\(i)]")
        }
    }

    func testBinaryCrossentropy() {
        checkProbabilityGradient(.binaryCrossentropy, p: [0.2, 0.7, 0.55, 0.9], y: [0, 1, 1, 0], rows: 4, width: 1)
        checkLogitGradient(.binaryCrossentropy, z: [-1.5, 0.3, 2.0, 0.1], y: [0, 1, 1, 0], rows: 4, width: 1)
    }

    func testCategoricalCrossentropy() {
        checkProbabilityGradient(.categoricalCrossentropy, p: [0.2, 0.5, 0.3, 0.1, 0.1, 0.8], y: [0, 1, 0, 0, 0, 1], rows: 2, width: 3)
        checkLogitGradient(.categoricalCrossentropy, z: [0.5, -1, 2, 0.3, 0.2, -0.4], y: [0, 1, 0, 1, 0, 0], rows: 2, width: 3)
    }

    func testSparseCategoricalCrossentropy() {
        checkProbabilityGradient(.sparseCategoricalCrossentropy, p: [0.2, 0.5, 0.3, 0.1, 0.1, 0.8], y: [1, 2], rows: 2, width: 3)
        checkLogitGradient(.sparseCategoricalCrossentropy, z: [0.5, -1, 2, 0.3, 0.2, -0.4], y: [2, 0], rows: 2, width: 3)
    }

    func testRegressionLosses() {
        checkProbabilityGradient(.meanSquaredError, p: [0.3, -1.2, 2.5, 0.05], y: [0.1, -1, 2, 0.5], rows: 2, width: 2)
        checkProbabilityGradient(.meanAbsoluteError, p: [0.3, -1.2, 2.5, 0.05], y: [0.1, -1, 2, 0.5], rows: 2, width: 2)
    }

    func testKnownValues() {
        // -(log 0.8 + log 0.6) / 2, written out by hand
        let bce = LossFunction(kind: .binaryCrossentropy).lossAndGrad(p: [0.2, 0.6], y: [0, 1], rows: 2, width: 1).0
        XCTAssertEqual(bce, -(log(0.8) + log(0.6)) / 2, accuracy: 1e-6)
        let mse = LossFunction(kind: .meanSquaredError).lossAndGrad(p: [1, 2, 3, 4], y: [0, 0, 0, 0], rows: 2, width: 2).0
        XCTAssertEqual(mse, 7.5, accuracy: 1e-9)
    }
}
