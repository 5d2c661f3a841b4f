import CKernels
import CPlatform
import Glibc

/// OpenBLAS, opened at first use rather than linked, for two reasons measured on this project's
/// machines: Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to its SSE3
/// "Prescott" kernels (GEMMs several times slower), and its own thread pool starts at load time. OpenBLAS
/// reads OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS only while it loads, so the engine sets them
/// (unless the user already did) just around dlopen: the kernels the CPU really supports, and one
/// BLAS thread, since the engine runs its own threads. If the host process has already loaded
/// OpenBLAS, that copy is used as the host configured it.
struct BLASLibrary {
    typealias SgemmFn = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                        UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
                                        Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias CorenameFn = @convention(c) () -> UnsafeMutablePointer<CChar>?

    let sgemm: SgemmFn
    /// The kernel family OpenBLAS chose, e.g. "SkylakeX"; for diagnostics and benchmarks.
    let coreName: String
    let path: String
    /// Environment variables set for the load and removed again.
    let setForLoading: [String]

    static let candidates = ["libopenblas.so.0", "libopenblas.so"]

    /// The library, or the reason it could not be opened.
    static let shared: Result<BLASLibrary, LSTMKitError> = load()

    private static func load() -> Result<BLASLibrary, LSTMKitError> {
        var paths = candidates
        if let custom = getenv("LSTMKIT_BLAS") { paths.insert(String(cString: custom), at: 0) }
        for path in paths {
            let alreadyLoaded = dlopen(path, RTLD_NOW | RTLD_NOLOAD) != nil
            var temporarilySet: [String] = []
            if !alreadyLoaded {
                func setDefault(_ name: String, _ value: String) {
                    if getenv(name) == nil, setenv(name, value, 0) == 0 { temporarilySet.append(name) }
                }
                switch lstmkit_cpu_vector_level() {
                case 2: setDefault("OPENBLAS_CORETYPE", "SkylakeX")
                case 1: setDefault("OPENBLAS_CORETYPE", "Haswell")
                default: break
                }
                setDefault("OPENBLAS_NUM_THREADS", "1")
            }
            let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)
            for name in temporarilySet { unsetenv(name) }
            guard let handle else { continue }
            guard let sgemmSym = dlsym(handle, "cblas_sgemm") else { continue }
            var core = "unknown"
            if let sym = dlsym(handle, "openblas_get_corename"),
               let name = unsafeBitCast(sym, to: CorenameFn.self)() {
                core = String(cString: name)
            }
            return .success(BLASLibrary(sgemm: unsafeBitCast(sgemmSym, to: SgemmFn.self),
                                        coreName: core, path: path,
                                        setForLoading: temporarilySet))
        }
        return .failure(LSTMKitError(.internal, "OpenBLAS could not be loaded (tried \(paths.joined(separator: ", "))); install Debian's libopenblas0 or set LSTMKIT_BLAS to its path"))
    }

    /// Throws the load failure as a readable error; API entry points that compute call this first.
    static func require() throws {
        if case .failure(let error) = shared { throw error }
    }
}

private let blasSgemm: BLASLibrary.SgemmFn = {
    switch BLASLibrary.shared {
    case .success(let lib): return lib.sgemm
    case .failure(let error): fatalError(error.message)   // unreachable past require()
    }
}()

private let cblasRowMajor: Int32 = 101, cblasNoTrans: Int32 = 111, cblasTrans: Int32 = 112

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, with op(A) (m, k),
/// op(B) (k, n), C (m, n). Leading dimensions are the row strides of the matrices as stored, which
/// lets callers address one timestep's rows inside a (T, B, N) buffer without copying.
/// Under mixed_bfloat16 (Support/BFloat16.swift) the operands are rounded to bfloat16 first; b16,
/// when given, is B already rounded (a recurrent kernel read at every step).
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
           b: UnsafePointer<Float>, b16: BFloat16Operand? = nil, ldb: Int,
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
    if lk_bf16_thread_enabled() != 0 && alpha == 1 && (beta == 0 || beta == 1),
       bfloat16Product(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, b16: b16, ldb: ldb,
                       beta: beta, c: c, ldc: ldc) {
        return
    }
    blasProduct(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
}

@inline(__always)
private func blasProduct(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                         lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>,
                         ldc: Int) {
    if float32ViaOneDNN(m: m, n: n, k: k),
       lk_f32_gemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0 {
        return
    }
    // One row (batch-1 inference, the shared padding row) too: on weights aligned to a cache line
    // (Param) OpenBLAS's small-matrix GEMM beats its sgemv (bench/NOTES-perf.md, section 6).
    blasSgemm(cblasRowMajor, transA ? cblasTrans : cblasNoTrans, transB ? cblasTrans : cblasNoTrans,
              Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// float32 products go to oneDNN's sgemm (Sources/CKernels/f32_gemm.c) where it was faster than
/// OpenBLAS's, one thread (bench/NOTES-perf.md, section 6): from about a million multiply-adds (the
/// recurrent steps of the IMDB and Rotten Tomatoes batches), and from 4 rows when B is large
/// (OpenBLAS packs B at every call, oneDNN does not). Smaller ones, and single rows, stay on
/// OpenBLAS's small-matrix kernels, which win there. Without
/// oneDNN, or with LSTMKIT_FLOAT32_GEMM=openblas, everything runs on OpenBLAS.
@inline(__always)
private func float32ViaOneDNN(m: Int, n: Int, k: Int) -> Bool {
    oneDNNFloat32Available && EngineSwitches.current.float32OneDNN
        && (m * n * k >= 1 << 20 || (m >= 4 && n * k >= 1 << 17))
}

private let oneDNNFloat32Available = lk_f32_gemm_available() != 0

/// Products of at least this many multiply-adds go to oneDNN; smaller ones are cheaper as
/// OpenBLAS's float32 product of the rounded operands, which is the same arithmetic (bfloat16
/// values, float32 sums): oneDNN's fixed cost per call is as much as a whole small step's
/// product (bench/NOTES-perf.md, section 5).
let bfloat16MinMultiplyAdds = 1 << 18

/// The product on bfloat16-rounded operands. oneDNN compiles a kernel for every shape, so its
/// products take the rows in blocks of 16 times a power of two (a few shapes, whatever m is; the
/// rows of a step or of a sequence vary from batch to batch), the rows left over going to
/// OpenBLAS; so does a whole product too small to pay for oneDNN's call. False when a
/// rounded copy could not be allocated (recorded for the caller to report; the product is then
/// left to float32).
private func bfloat16Product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, b16: BFloat16Operand?, ldb: Int, beta: Float,
                             c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
    // op(A)'s rows first..<first+count: A's rows, or its columns when transposed
    func rows(_ first: Int) -> UnsafePointer<Float> { transA ? a + first : a + first * lda }
    var done = 0
    if m * n * k >= bfloat16MinMultiplyAdds {
        var blocks = m / 16, size = 1
        while size * 2 <= blocks { size *= 2 }
        while blocks > 0 {
            if blocks >= size {
                let count = 16 * size
                let ta: Int32 = transA ? 1 : 0, tb: Int32 = transB ? 1 : 0
                let status = b16.map { lk_bf16_gemm_b16(ta, tb, count, n, k, rows(done), lda, $0.bits, ldb, beta, c + done * ldc, ldc) }
                    ?? lk_bf16_gemm(ta, tb, count, n, k, rows(done), lda, b, ldb, beta, c + done * ldc, ldc)
                if status != 0 {
                    // recorded and reported after the batch; the rows are done on OpenBLAS below
                    BFloat16Products.recordFailure()
                    break
                }
                done += count
                blocks -= size
            }
            size /= 2
        }
    }
    if done == m { return true }
    // the rest on OpenBLAS, from rounded copies: stored shapes A (rows, k) or (k, rows)
    // transposed, B (k, n) or (n, k) transposed
    let left = m - done
    let (aRows, aCols) = transA ? (k, left) : (left, k)
    guard let ra = lk_bf16_rounded_copy(rows(done), lda, aRows, aCols, 0) else { BFloat16Products.recordFailure("out of memory for a rounded operand"); return false }
    var rb = b16.map { UnsafePointer($0.values) }, rldb = ldb
    if rb == nil {
        let (bRows, bCols) = transB ? (n, k) : (k, n)
        guard let copy = lk_bf16_rounded_copy(b, ldb, bRows, bCols, 1) else { BFloat16Products.recordFailure("out of memory for a rounded operand"); return false }
        rb = UnsafePointer(copy)
        rldb = bCols
    }
    blasProduct(transA: transA, transB: transB, m: left, n: n, k: k, alpha: 1, a: ra, lda: aCols, b: rb!, ldb: rldb,
                beta: beta, c: c + done * ldc, ldc: ldc)
    return true
}

/// Denormal floats are flushed to zero while the engine computes, as TensorFlow does for its ops:
/// gradients that fade through hundreds of LSTM steps become denormal, and every GEMM touching
/// them then runs many times slower (bench/NOTES-perf.md); results differ only below
/// 1.2e-38. The caller's mode is restored on leaving, and around callbacks into user code.
struct ComputeFloatMode {
    private let caller: UInt32

    /// Call at the start of a computing entry point, and leave() when it returns.
    static func enter() -> ComputeFloatMode { ComputeFloatMode(caller: lstmkit_flush_denormals()) }
    func leave() { lstmkit_restore_fp_control(caller) }

    /// Runs user code (a progress callback) in the caller's own floating-point mode.
    func callingOut<T>(_ body: () throws -> T) rethrows -> T {
        let ours = lstmkit_fp_control()
        lstmkit_restore_fp_control(caller)
        defer { lstmkit_restore_fp_control(ours) }
        return try body()
    }
}
