import CKernels

/// Forward-only passes (predict, evaluate, a stream's steps) compute their products of
/// independent rows, the recurrent layers' input projections, Dense, and recurrent steps of up
/// to RecurrentLayer.exactRecurrentRows rows, with lk_rows_gemm,
/// whose every row has the same bits whatever rows it is computed with (lk_rows.h says why BLAS
/// cannot promise that). A flag of the calling thread, like mixed_bfloat16's, set by
/// Model.forward (backwardFollows false) on the thread that runs the pass; under
/// mixed_bfloat16 the products stay bfloat16's (no such promise there). This is the one place
/// the engine multiplies matrices itself rather than through BLAS or oneDNN: neither promises
/// a row's bits; training's products all stay theirs. EngineSwitches.rowsExact turns it off.
enum RowsExact {
    static var active: Bool { requested && lk_bf16_thread_enabled() == 0 && EngineSwitches.current.rowsExact }
    static var requested: Bool { lk_rows_exact_thread() != 0 }
    static func set(_ on: Bool) { lk_rows_exact_set_thread(on ? 1 : 0) }
}
