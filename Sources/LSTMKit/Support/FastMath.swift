import CKernels

/// Vectorised sigmoid, tanh and softmax over contiguous Float runs. libm's expf/tanhf cost tens of
/// nanoseconds per call, which would dominate an LSTM step; these use the Cephes polynomial for
/// exp (about 2 ulp) and a rational minimax tanh, and stay within a few 1e-7 of the exact
/// functions (KernelMathTests), well inside what the finite-difference and NumPy reference tests
/// tolerate.
///
/// The kernels live in Sources/CKernels, which is compiled for AVX-512, AVX2+FMA and baseline
/// x86-64 and picks one when the library loads: Swift's SIMD types would only get baseline SSE,
/// since the library must not require a newer CPU than it runs on. The fused cell kernels (LSTM,
/// GRU) are called from the cells directly.
func sigmoidInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) { lk_sigmoid(p, n) }
func tanhInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) { lk_tanh(p, n) }
/// Each of `rows` rows of `width` floats replaced by its softmax.
func softmaxRowsInPlace(_ p: UnsafeMutablePointer<Float>, rows: Int, width: Int) { lk_softmax_rows(p, rows, width) }
