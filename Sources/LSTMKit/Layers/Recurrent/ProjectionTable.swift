import CKernels
import Glibc

/// The input projection of every id of an Embedding that a recurrent layer reads directly: row v
/// is bias + E[v] W, the row the projection GEMM computes for a step whose id is v. Forward-only
/// passes (predict, evaluate) copy rows from it instead of multiplying. That GEMM is a fifth of
/// an IMDB LSTM's multiply-adds (D = 32, H = 100) and half of one whose input is as wide as its
/// state (the Rotten Tomatoes and translation models, D = H = 256), and at batch 1 most of its
/// time went to packing the kernel (bench/NOTES-perf.md, section 6).
///
/// Built once the ids projected since the weights last changed are as many as the vocabulary
/// (so building costs at most what the plain projections already did), and only while it stays
/// under maxBytes. Training changes the weights at every step, so it never builds one there.
final class ProjectionTable {
    static let maxBytes = 64 << 20

    private struct Key: Equatable {
        var embedding, kernel, bias: UInt64   // Param.valuesVersion, unique across all weights
        var bfloat16: Bool                    // products rounded (mixed_bfloat16) or not
        var exact: Bool                       // rows from lk_rows_gemm (RowsExact) or BLAS
    }
    /// One table serves a layer and its inference copies (Model.inferenceStacks), which may
    /// compute at the same time: the lock covers the bookkeeping and the build, and a rebuild
    /// makes a new buffer, so a pass still reading the old one keeps it alive.
    private let lock = Mutex()
    private var table: FloatBuffer? = nil
    private var built: Key? = nil      // what table holds
    private var counting: Key? = nil   // the weights `projected` counts ids for
    private var projected = 0
    /// Tables built so far (for tests).
    private(set) var builds = 0

    /// The table for these weights, or nil when projecting `ids` more ids the plain way is still
    /// the cheaper choice. gh: the projection's width (gate count x units); the bias's first gh
    /// values are the input bias. The caller keeps the buffer for its pass.
    func rows(embedding: Param, kernel: Param, bias: Param, gh: Int, ids: Int) -> FloatBuffer? {
        guard EngineSwitches.current.projectionTable else { return nil }
        let key = Key(embedding: embedding.valuesVersion, kernel: kernel.valuesVersion, bias: bias.valuesVersion,
                      bfloat16: lk_bf16_thread_enabled() != 0, exact: RowsExact.active)
        return lock.withLock { () -> FloatBuffer? in
            if built == key { return table }
            let vocab = embedding.shape[0], d = embedding.shape[1]
            guard vocab.multipliedReportingOverflow(by: gh).partialValue <= ProjectionTable.maxBytes / 4 else { return nil }
            if counting != key { counting = key; projected = 0 }
            projected += ids
            guard projected >= vocab else { return nil }

            let rows = FloatBuffer()
            rows.resize(vocab * gh)
            if key.exact {
                // the bits the plain projection of one id gives (InputProjection.swift, exactRows)
                bias.withValue { b in
                    embedding.withValue { e in
                        kernel.withValue { w in
                            lk_rows_gemm(vocab, gh, d, e.baseAddress!, d, w.baseAddress!, gh, b.baseAddress!, 0, rows.p, gh)
                        }
                    }
                }
            } else {
                bias.withValue { b in
                    for v in 0..<vocab { (rows.p + v * gh).update(from: b.baseAddress!, count: gh) }
                }
                embedding.withValue { e in
                    kernel.withValue { w in
                        sgemm(m: vocab, n: gh, k: d, a: e.baseAddress!, lda: d, b: w.baseAddress!, ldb: gh, beta: 1,
                              c: rows.p, ldc: gh)
                    }
                }
            }
            table = rows
            built = key
            builds += 1
            return rows
        }
    }
}
