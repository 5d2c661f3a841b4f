import CPlatform
import Glibc
import XCTest
@testable import LSTMKit

final class PlatformTests: XCTestCase {
    func testOpenBLASLoadsWithKernelsForThisCPU() throws {
        guard case .success(let lib) = BLASLibrary.shared else {
            return XCTFail("OpenBLAS did not load")
        }
        // Only meaningful when the engine chose the core type: a user's own setting wins.
        if getenv("OPENBLAS_CORETYPE") == nil, lstmkit_cpu_vector_level() > 0 {
            XCTAssertNotEqual(lib.coreName.lowercased(), "prescott", "OpenBLAS fell back to SSE3 kernels")
        }
        // Variables set only for loading must not stay in the process environment.
        for name in lib.setForLoading { XCTAssertNil(getenv(name), name) }
    }

    func testGEMMAgainstPlainLoops() {
        var rng = Rng(seed: 11)
        let m = 5, n = 7, k = 3
        let a = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }
        let b = (0..<(n * k)).map { _ in rng.uniform(-1, 1) }   // stored (n, k): used transposed
        var c = [Float](repeating: 0.5, count: m * n)
        sgemm(transB: true, m: m, n: n, k: k, alpha: 2, a: a, lda: k, b: b, ldb: k, beta: -1, c: &c, ldc: n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k { s += a[i * k + p] * b[j * k + p] }
                XCTAssertEqual(c[i * n + j], 2 * s - 0.5, accuracy: 1e-5)
            }
        }
    }

    func testComputeModeFlushesDenormalsAndRestoresTheCallersMode() {
        let before = lstmkit_fp_control()
        let mode = ComputeFloatMode.enter()
        let tiny = Float(sign: .plus, exponent: -126, significand: 1)
        let product = opaque(tiny) * opaque(0.25)            // denormal unless flushed
        let seenByCallback = mode.callingOut { lstmkit_fp_control() }
        mode.leave()
        XCTAssertEqual(product, 0)
        XCTAssertEqual(seenByCallback, before)
        XCTAssertEqual(lstmkit_fp_control(), before)
        XCTAssertNotEqual(opaque(tiny) * opaque(0.25), 0)
    }
}

/// Keeps the optimiser from folding the arithmetic at compile time.
@inline(never)
private func opaque(_ x: Float) -> Float { x }
