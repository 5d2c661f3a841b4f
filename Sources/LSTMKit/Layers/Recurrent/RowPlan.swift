import Glibc

/// Which rows a recurrent pass computes at each step, planned once per batch from the input and
/// its mask. B = the input's rows, B' = internal rows (B, plus the shared padding row if there
/// is one), T = steps in processing order (with go_backwards step 0 is the last timestep).
///
/// Padding costs little, in two exact ways, both by permuting the rows so that the rows each step
/// computes are a prefix:
/// - masked input whose real steps are one run per row, all runs starting at step 0 (post-padding)
///   or all ending at the last step (pre-padding): a step computes only the rows still active;
///   the others carry their state, as masked steps do anyway.
/// - unmasked input read straight from an Embedding whose rows start, in processing order, with a
///   run of identical vectors (pre-padding with id 0; post-padding under go_backwards): from the
///   zero state, all those rows follow one trajectory through the padding, so an extra internal
///   row (`sharedRow`) computes it once and each row starts computing at its own padding length.
///   Backward still takes every row back through its own padding on the shared row's saved values
///   (`savedRow`), because the optimizers need each padding lookup's own input gradient: Keras's
///   Adam adds the square of every lookup's gradient to the Embedding's second moment, and the
///   square of a sum is not the sum of squares. Since those rows all see the same gates, a cell
///   may do them as one linear map per step (`backwardSharedPadding`, LSTM's does half the
///   multiply-adds of stepping them one by one). The weight gradients are linear in the rows'
///   gate gradients, so those are summed into the shared row and its one run feeds the weight
///   GEMMs. Padding processed last (pre-padding under go_backwards, as in Bidirectional's backward
///   copy; post-padding forwards) comes after the rows' states have diverged: nothing is shared
///   there, every step is computed.
/// Neither applies while dropout masks are drawn (training with dropout: every row differs then)
/// nor from an initial state (both plans assume the zero state); the plain plan is the identity
/// with every row at every step.
struct RowPlan {
    /// (B) internal row -> row of x
    private(set) var perm: [Int] = []
    /// (T) step s computes internal rows 0..<active[s]
    private(set) var active: [Int] = []
    /// (B') the steps each internal row computes, one run each; nil = every row every step. The
    /// input projection and the weight-gradient GEMMs then skip the padding too (forEachRun).
    private(set) var runs: [Range<Int>]? = nil
    /// The internal row of the shared padding trajectory, B (the last), when there is one.
    private(set) var sharedRow: Int? = nil
    /// Steps the shared row computes: the longest padding.
    private(set) var sharedSteps = 0
    /// (D) the padding input vector, and a row of x whose first vector (processing order) it is.
    private(set) var padInput: [Float] = []
    private(set) var padRow = 0
    /// B': the input's rows, plus the shared padding row if there is one.
    private(set) var batch = 0
    /// T
    private(set) var steps = 0

    init() {}

    /// The plain plan: every row at every step, in x's order.
    init(rows b: Int, steps t: Int) {
        perm = Array(0..<b)
        active = [Int](repeating: b, count: t)
        batch = b
        steps = t
    }

    /// The plan for x (B, T, D) with its mask (B, T) or nil; `skip` false (or nothing to skip)
    /// gives the plain plan. `fromEmbedding`: x is an Embedding's output, the shared-row plan's
    /// condition.
    init(_ x: Tensor, features d: Int, mask: [Float]?, goBackwards: Bool, fromEmbedding: Bool, skip: Bool) {
        let b = x.shape[0], t = x.shape[1]
        self.init(rows: b, steps: t)
        guard skip && t > 0 else { return }
        if let m = mask {
            // each row's real steps, in processing order, must be one run [first, end)
            var first = [Int](repeating: t, count: b), end = [Int](repeating: 0, count: b)
            for i in 0..<b {
                var n = 0
                for s in 0..<t where m[i * t + (goBackwards ? t - 1 - s : s)] != 0 {
                    first[i] = min(first[i], s); end[i] = s + 1; n += 1
                }
                if n == 0 { first[i] = t; end[i] = 0 }
                else if n != end[i] - first[i] { return }
            }
            if (0..<b).allSatisfy({ end[$0] == 0 || first[$0] == 0 }) {          // post-padding
                perm.sort { end[$0] > end[$1] || (end[$0] == end[$1] && $0 < $1) }
                runs = perm.map { 0..<end[$0] }
                for s in 0..<t { active[s] = perm.firstIndex { end[$0] <= s } ?? b }
            } else if (0..<b).allSatisfy({ end[$0] == 0 || end[$0] == t }) {      // pre-padding
                perm.sort { first[$0] < first[$1] || (first[$0] == first[$1] && $0 < $1) }
                runs = perm.map { first[$0]..<t }
                for s in 0..<t { active[s] = perm.firstIndex { first[$0] > s } ?? b }
            }
            return
        }
        guard fromEmbedding else { return }
        // leading run (in processing order) of each row's first vector; the longest run's vector
        // is the padding
        var padInput: [Float] = [], padRow = 0
        let pad = x.data.withUnsafeBufferPointer { xp -> [Int] in
            let base = xp.baseAddress!
            func at(_ i: Int, _ s: Int) -> UnsafePointer<Float> { base + (i * t + (goBackwards ? t - 1 - s : s)) * d }
            func same(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>) -> Bool { memcmp(p, q, d * 4) == 0 }
            var run = [Int](repeating: 0, count: b)
            for i in 0..<b {
                var n = 1
                while n < t && same(at(i, n), at(i, 0)) { n += 1 }
                run[i] = n
            }
            let r = run.indices.max { run[$0] < run[$1] }!
            padInput = Array(UnsafeBufferPointer(start: at(r, 0), count: d))
            padRow = r
            return (0..<b).map { same(at($0, 0), at(r, 0)) ? run[$0] : 0 }
        }
        self.padInput = padInput
        self.padRow = padRow
        let longest = pad.max()!
        guard longest >= 2 else { return }
        sharedSteps = longest
        perm.sort { pad[$0] < pad[$1] || (pad[$0] == pad[$1] && $0 < $1) }
        runs = perm.map { pad[$0]..<t } + [0..<sharedSteps]
        for s in 0..<t { active[s] = perm.firstIndex { pad[$0] > s } ?? b }
        sharedRow = b
        batch = b + 1
    }

    /// The internal row whose forward values (gates, states) row i used at step s: the shared row
    /// while i is still in its padding, else i itself.
    @inline(__always)
    func savedRow(_ s: Int, _ i: Int) -> Int {
        if let sh = sharedRow, i >= active[s], i < sh { return sh }
        return i
    }

    /// Calls body(first, count, stride) over the (step, row) entries that were computed: one call
    /// for the whole (T*B') buffers (stride 1), or, with a skipping plan, whichever takes fewer
    /// calls: one per step over its computed rows, which are a prefix (stride 1), or one per
    /// internal row over its run (first = its first entry, entries `stride` = B' rows apart). The
    /// shared padding row always gets its own call. GEMMs over the time-major buffers take
    /// lda = stride * width; few large GEMMs beat many small ones (a translation batch has many
    /// more rows than steps, an IMDB batch many more steps than rows).
    func forEachRun(_ body: (_ first: Int, _ count: Int, _ stride: Int) -> Void) {
        guard let runs else { body(0, steps * batch, 1); return }
        let realRows = perm.count
        if steps < realRows {
            for s in 0..<steps where active[s] > 0 { body(s * batch, active[s], 1) }
            if let sh = sharedRow, !runs[sh].isEmpty { body(runs[sh].lowerBound * batch + sh, runs[sh].count, batch) }
        } else {
            for (i, run) in runs.enumerated() where !run.isEmpty { body(run.lowerBound * batch + i, run.count, batch) }
        }
    }
}
