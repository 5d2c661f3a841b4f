import CKernels
import XCTest
@testable import LSTMKit

/// float32 products on oneDNN's sgemm (Sources/CKernels/f32_gemm.c) must equal OpenBLAS's to
/// float rounding for every transpose, padded leading dimensions, alpha and beta; and the router
/// (Support/BLAS.swift) must give the same results whichever library it picks.
final class Float32GEMMTests: XCTestCase {
    func reference(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: [Float], _ lda: Int,
                   _ b: [Float], _ ldb: Int, _ beta: Float, _ c: [Float], _ ldc: Int) -> [Double] {
        var out = c.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let x = ta ? a[p * lda + i] : a[i * lda + p], y = tb ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(x) * Double(y)
                }
                out[i * ldc + j] = Double(alpha) * s + Double(beta) * Double(c[i * ldc + j])
            }
        }
        return out
    }

    func testOneDNNProductsMatchADoubleReference() throws {
        try XCTSkipIf(lk_f32_gemm_available() == 0, "oneDNN (libdnnl2) is not installed")
        var rng = Rng(seed: 12)
        for (m, n, k) in [(1, 7, 5), (4, 1024, 130), (33, 200, 100), (40, 160, 150)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.5, -2)] {
                        let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2
                        let a = (0..<((ta ? k : m) * lda)).map { _ in rng.uniform(-1, 1) }
                        let b = (0..<((tb ? n : k) * ldb)).map { _ in rng.uniform(-1, 1) }
                        let c0 = (0..<(m * ldc)).map { _ in rng.uniform(-1, 1) }
                        var c = c0
                        XCTAssertEqual(lk_f32_gemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, &c, ldc), 0)
                        let want = reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc)
                        let what = "m \(m) n \(n) k \(k) ta \(ta) tb \(tb) alpha \(alpha) beta \(beta)"
                        for i in 0..<m {
                            for j in 0..<n {
                                XCTAssertEqual(Double(c[i * ldc + j]), want[i * ldc + j], accuracy: 1e-5 * Double(k), what)
                            }
                            // the padding between rows is left alone
                            for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], what) }
                        }
                    }
                }
            }
        }
    }

    /// The shapes the router sends to oneDNN and the ones it keeps on OpenBLAS give the same
    /// products to rounding (the router runs whichever library this machine has).
    func testRoutedProductsMatchADoubleReference() {
        var rng = Rng(seed: 3)
        for (m, n, k) in [(1, 1024, 256), (3, 1024, 256), (4, 1024, 256), (16, 400, 100), (32, 400, 100), (64, 128, 200)] {
            let a = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }, b = (0..<(k * n)).map { _ in rng.uniform(-1, 1) }
            var c = [Float](repeating: 0.25, count: m * n)
            sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, beta: 1, c: &c, ldc: n)
            let want = reference(false, false, m, n, k, 1, a, k, b, n, 1, [Float](repeating: 0.25, count: m * n), n)
            for (x, y) in zip(c, want) { XCTAssertEqual(Double(x), y, accuracy: 1e-5 * Double(k), "m \(m) n \(n) k \(k)") }
        }
    }
}
