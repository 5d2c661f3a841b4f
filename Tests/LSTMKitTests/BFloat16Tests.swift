import CKernels
import XCTest
@testable import LSTMKit

/// The mixed_bfloat16 products (Sources/CKernels/bf16_gemm.c) against OpenBLAS's float32 GEMM
/// of the same operands rounded to bfloat16 first: both accumulate in float32, so they agree to
/// float32 rounding. Skipped where oneDNN or the CPU's bfloat16 instructions are missing.
final class BFloat16Tests: XCTestCase {
    func testRoundingIsToNearestEven() {
        let src: [Float] = [1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20, -2.5, .infinity, 0x1p-130]
        var dst = [Float](repeating: 0, count: src.count)
        lk_bf16_round(src, &dst, src.count)
        XCTAssertEqual(Array(dst.prefix(6)), [1, 1, 1 + 0x1p-6, 1 + 0x1p-7, -2.5, .infinity])
        var nan: Float = .nan
        var out: Float = 0
        lk_bf16_round(&nan, &out, 1)
        XCTAssertTrue(out.isNaN)
    }

    private func requireBF16() throws {
        if lk_bf16_open() != 0 { throw XCTSkip(String(cString: lk_bf16_error())) }
    }

    private func rounded(_ a: [Float]) -> [Float] {
        var out = a
        lk_bf16_round(a, &out, a.count)
        return out
    }

    /// Every transpose combination, padded leading dimensions, beta 0 and 1, and the variant whose
    /// B is converted beforehand and addressed at a column offset (a gate block of a kernel).
    func testProductsMatchFloat32OnRoundedOperands() throws {
        try requireBF16()
        var rng = Rng(seed: 5)
        for (m, n, k) in [(2, 3, 5), (17, 40, 33), (64, 400, 100), (130, 96, 257)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    for beta: Float in [0, 1] {
                        let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2
                        let a = (0..<((ta ? k : m) * lda)).map { _ in rng.uniform() * 2 - 1 }
                        let b = (0..<((tb ? n : k) * ldb)).map { _ in rng.uniform() * 2 - 1 }
                        let c0 = (0..<(m * ldc)).map { _ in rng.uniform() }
                        var want = c0
                        let ra = rounded(a), rb = rounded(b)
                        sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: ra, lda: lda, b: rb, ldb: ldb, beta: beta, c: &want, ldc: ldc)
                        var got = c0
                        XCTAssertEqual(lk_bf16_gemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, a, lda, b, ldb, beta, &got, ldc), 0,
                                       String(cString: lk_bf16_error()))
                        let what = "m \(m) n \(n) k \(k) ta \(ta) tb \(tb) beta \(beta)"
                        XCTAssertTrue(String(cString: lk_bf16_last_impl()).count > 0, what)
                        assertClose(got, want, n: n, ldc: ldc, scale: Float(k), what)

                        // B converted once, read from column 3 on (n - 3 columns)
                        guard n > 3, !tb else { continue }
                        var b16 = [UInt16](repeating: 0, count: k * ldb)
                        lk_bf16_convert(b, ldb, &b16, k, ldb)
                        var want2 = c0, got2 = c0
                        rb.withUnsafeBufferPointer { p in
                            sgemm(transA: ta, m: m, n: n - 3, k: k, a: ra, lda: lda, b: p.baseAddress! + 3, ldb: ldb, beta: beta,
                                  c: &want2, ldc: ldc)
                        }
                        b16.withUnsafeBufferPointer { p in
                            XCTAssertEqual(lk_bf16_gemm_b16(ta ? 1 : 0, 0, m, n - 3, k, a, lda, p.baseAddress! + 3, ldb, beta,
                                                            &got2, ldc), 0)
                        }
                        assertClose(got2, want2, n: n - 3, ldc: ldc, scale: Float(k), what + " (b16)")
                    }
                }
            }
        }
    }

    /// The engine's sgemm under the policy: small products go to OpenBLAS on rounded operands,
    /// large ones to oneDNN, and both give the product of the rounded operands; a rounded B
    /// given beforehand (BFloat16Copy) is used as is.
    func testRoutedProductsAreTheRoundedProduct() throws {
        try requireBF16()
        var rng = Rng(seed: 9)
        let failures = BFloat16Failures()
        for (m, n, k) in [(1, 40, 30), (5, 64, 48), (300, 128, 64), (37, 512, 100), (1, 1024, 512)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let lda = ta ? m : k, ldb = tb ? k : n
                    let a = (0..<(m * k)).map { _ in rng.uniform() * 2 - 1 }
                    let b = (0..<(k * n)).map { _ in rng.uniform() * 2 - 1 }
                    var want = [Float](repeating: 0.5, count: m * n)
                    sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: rounded(a), lda: lda, b: rounded(b), ldb: ldb,
                          beta: 1, c: &want, ldc: n)
                    var got = [Float](repeating: 0.5, count: m * n), gotCopy = got
                    let copy = BFloat16Copy()
                    BFloat16Products.with(.mixedBFloat16, failures: failures) {
                        sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: &got, ldc: n)
                        let rows = tb ? n : k, cols = tb ? k : n
                        let op = copy.refresh(Param("b", [rows, cols], b), rows: rows, cols: cols)
                        XCTAssertNotNil(op)
                        sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, b16: op, ldb: ldb,
                              beta: 1, c: &gotCopy, ldc: n)
                    }
                    let what = "m \(m) n \(n) k \(k) ta \(ta) tb \(tb)"
                    assertClose(got, want, n: n, ldc: n, scale: Float(k), what)
                    assertClose(gotCopy, want, n: n, ldc: n, scale: Float(k), what + " (copy)")
                }
            }
        }
        XCTAssertNoThrow(try failures.throwIfAny())
    }

    /// A failed product is reported by the call it belongs to, not by another one running at
    /// the same time on the same model.
    func testAFailureIsReportedByItsOwnCallOnly() {
        let a = BFloat16Failures(), b = BFloat16Failures()
        BFloat16Products.with(.float32, failures: a) { BFloat16Products.recordFailure("a's product") }
        BFloat16Products.with(.float32, failures: b) {}
        XCTAssertThrowsError(try a.throwIfAny()) { XCTAssertTrue(($0 as? LSTMKitError)?.message.contains("a's product") == true) }
        XCTAssertNoThrow(try b.throwIfAny())
        // nested: the inner record ends with its body, and the outer one is in force again
        BFloat16Products.with(.float32, failures: b) {
            BFloat16Products.with(.float32, failures: BFloat16Failures()) {}
            BFloat16Products.recordFailure("b's product")
        }
        XCTAssertThrowsError(try b.throwIfAny()) { XCTAssertTrue(($0 as? LSTMKitError)?.message.contains("b's product") == true) }
    }

    /// The copy is converted again when, and only when, its weight has changed.
    func testCopyFollowsItsWeight() throws {
        try requireBF16()
        let w = Param("w", [2, 3], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        let copy = BFloat16Copy()
        func values() -> [Float] {
            BFloat16Products.with(.mixedBFloat16, failures: BFloat16Failures()) {
                let op = copy.refresh(w, rows: 2, cols: 3)!
                return Array(UnsafeBufferPointer(start: op.values, count: 6))
            }
        }
        XCTAssertEqual(values(), rounded(w.value))
        w.value = [1.01, -2.02, 3.03, -4.04, 5.05, -6.06]
        XCTAssertEqual(values(), rounded(w.value))
        w.withMutableValue { $0[0] = 7.07 }
        XCTAssertEqual(values(), rounded(w.value))
        XCTAssertNotEqual(values(), w.value)   // the values really are rounded
    }

    func testOtherBetasAreRefused() throws {
        try requireBF16()
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [1, 0, 0, 1]
        var c: [Float] = [7, 7, 7, 7]
        XCTAssertNotEqual(lk_bf16_gemm(0, 0, 2, 2, 2, a, 2, b, 2, 0.5, &c, 2), 0)
        XCTAssertEqual(c, [7, 7, 7, 7])
        XCTAssertTrue(String(cString: lk_bf16_error()).contains("beta"))
    }

    /// The policy reaches the products of every worker thread and goes away afterwards.
    func testPolicyIsPerThreadAndScoped() throws {
        try requireBF16()
        XCTAssertEqual(lk_bf16_thread_enabled(), 0)
        BFloat16Products.with(.mixedBFloat16, failures: BFloat16Failures()) { XCTAssertEqual(lk_bf16_thread_enabled(), 1) }
        XCTAssertEqual(lk_bf16_thread_enabled(), 0)
    }

    private func assertClose(_ got: [Float], _ want: [Float], n: Int, ldc: Int, scale: Float, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        var worst: Float = 0
        for i in 0..<(got.count / ldc) {
            for j in 0..<ldc {
                let e = abs(got[i * ldc + j] - want[i * ldc + j])
                // columns past n (the padding of ldc) must be untouched
                if j >= n { XCTAssertEqual(got[i * ldc + j], want[i * ldc + j], what, file: file, line: line) }
                worst = max(worst, e)
            }
        }
        XCTAssertLessThan(worst, 4e-7 * scale + 1e-6, what, file: file, line: line)
    }
}
