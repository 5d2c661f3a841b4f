import Glibc

/// The engine's optional fast paths, each of which can be turned off: tests compare a fast path
/// with the plain computation, and benchmarks measure what a fast path is worth. Every fast path
/// gives the plain path's results (bitwise, except float32OneDNN, whose sums run in another order),
/// so no switch changes what a model computes beyond that.
///
/// Read from the environment once, at the first use; tests assign `current` explicitly (and
/// restore it) instead of setting variables, so a test's setting never leaks into the next.
struct EngineSwitches {
    /// Rows that are all padding share one trajectory (RowPlan). LSTMKIT_PADDING_SKIP=0 turns it off.
    var paddingSkip = true
    /// Forward-only passes copy an Embedding's projected rows from a table (ProjectionTable).
    /// LSTMKIT_PROJECTION_TABLE=0 turns it off.
    var projectionTable = true
    /// Batch-1 forward-only steps split their units over two threads (UnitSplit).
    /// LSTMKIT_UNIT_SPLIT=0 turns it off.
    var unitSplit = true
    /// A repeated input (RepeatVector's output) is projected once per row, not once per step.
    var shareRepeatedInput = true
    /// Forward-only passes compute their products of independent rows with lk_rows_gemm, each
    /// row's bits whatever rows are beside it (Support/RowsExact.swift). LSTMKIT_ROWS_EXACT=0
    /// sends them to BLAS and oneDNN instead, for measuring: predictions then depend in their
    /// last bits on the batch and the call history, and streams lose their bitwise promise.
    var rowsExact = true
    /// Large float32 products go to oneDNN where it is installed (Support/BLAS.swift).
    /// LSTMKIT_FLOAT32_GEMM=openblas keeps them all on OpenBLAS.
    var float32OneDNN = true

    static func fromEnvironment() -> EngineSwitches {
        func value(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        var s = EngineSwitches()
        s.paddingSkip = value("LSTMKIT_PADDING_SKIP") != "0"
        s.projectionTable = value("LSTMKIT_PROJECTION_TABLE") != "0"
        s.unitSplit = value("LSTMKIT_UNIT_SPLIT") != "0"
        s.rowsExact = value("LSTMKIT_ROWS_EXACT") != "0"
        s.float32OneDNN = value("LSTMKIT_FLOAT32_GEMM") != "openblas"
        return s
    }

    /// What the engine uses now. Set only from tests, and never while a model is running.
    static var current = fromEnvironment()
}
