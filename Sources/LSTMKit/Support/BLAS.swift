import COpenBLAS

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, with op(A) (m, k),
/// op(B) (k, n), C (m, n). Leading dimensions are the row strides of the matrices as stored, which
/// lets callers address one timestep's rows inside a (T, B, N) buffer without copying.
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
           b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS would skip the update entirely; honour beta so the caller's contract holds.
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] = beta == 0 ? 0 : row[j] * beta }
        }
        return
    }
    cblas_sgemm(CblasRowMajor,
                transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k),
                alpha, a, blasint(lda), b, blasint(ldb),
                beta, c, blasint(ldc))
}
