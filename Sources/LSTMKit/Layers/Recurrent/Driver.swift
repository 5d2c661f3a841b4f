import CKernels
import Glibc

/// The sequence plumbing that Keras's RNN layer gives LSTM, GRU and SimpleRNN, written once:
/// time-major layout, the input projection of all steps as one GEMM, the recurrent GEMM per step,
/// masking, go_backwards, return_sequences, dropout and recurrent_dropout, and the weight
/// gradients as GEMMs over all steps. A subclass supplies the weights and one step's cell.
///
/// Conventions shared with the cells (B = batch, T = steps, D = input, H = units, G = gates):
/// step s is the processing order, so with go_backwards s = 0 is the last timestep; Keras returns
/// the output sequence in that order too. A masked step keeps the previous state and repeats the
/// previous output; its rows of dZ stay zero, so no gradient reaches its gates, and the gradient
/// of its output flows on unchanged to the previous step.
///
/// Padding costs little (`skipPadding`, on by default; tests turn it off to compare), in
/// two exact ways, both by permuting the rows so that the rows each step computes are a prefix:
/// - masked input whose real steps are one run per row, all runs starting at step 0 (post-padding)
///   or all ending at the last step (pre-padding): a step computes only the rows still active;
///   the others carry their state, as masked steps do anyway.
/// - unmasked input read straight from an Embedding whose rows start, in processing order, with a
///   run of identical vectors (pre-padding with id 0; post-padding under go_backwards): from the
///   zero state, all those rows
///   follow one trajectory through the padding, so an extra internal row (`sharedRow`) computes
///   it once and each row starts computing at its own padding length. Backward still takes
///   every row back through its own padding on the shared row's saved values (`savedRow`),
///   because the optimizers need each padding lookup's own input gradient: Keras's Adam adds the
///   square of every lookup's gradient to the Embedding's second moment, and the square of a sum
///   is not the sum of squares. Since those rows all see the same gates, a cell may do them as one
///   linear map per step (`backwardSharedPadding`, LSTM's costs half of stepping them one by one).
///   The weight gradients are linear in the rows' gate gradients, so those are summed into the
///   shared row and its one run feeds the weight GEMMs. Padding processed last (pre-padding
///   under go_backwards, as in Bidirectional's backward copy; post-padding forwards) comes after
///   the rows' states have diverged: nothing is shared there, every step is computed.
/// Neither applies while dropout masks are drawn (training with dropout): every row differs then.
/// An input that repeats one vector at every step (RepeatVector's) is projected once per row.
///
/// Dropout follows Keras 3: one mask per sequence, fixed over all steps. With recurrent_dropout
/// the cells run Keras's implementation 1, which draws one input mask and one recurrent mask per
/// gate (`dropoutMaskCount`); with dropout alone one input mask is shared by all gates.
///
/// States (Keras's return_state, initial_state, stateful): a layer has `stateCount` states of
/// (B, H) each (h, and LSTM's c). `initialState` set before forward starts every row from the
/// given state instead of zeros (the padding plans are off then: they assume the zero state);
/// forward leaves the state each row ended with (a masked step keeps the state, so it is the
/// last unmasked step's) in `finalStates`. Backward takes `finalStateGrads` (dL/d of those
/// states, nil = 0) besides dy, and leaves dL/d(initial state) in `initialStateGrads`.
/// A stateful layer uses its last batch's final states as the next batch's initial states.
class RecurrentLayer: Layer, MultiIOLayer {
    let name: String
    var className: String { fatalError("RecurrentLayer is abstract") }
    let units: Int
    let returnSequences: Bool
    let goBackwards: Bool
    let dropout: Float
    let recurrentDropout: Float
    let gateCount: Int
    let returnState: Bool
    let stateful: Bool
    var params: [Param] = []
    /// (stateCount) tensors of (B, H) to start from, in x's row order; nil = zeros. Set before forward.
    var initialState: [Tensor]? = nil
    /// After forward: the states each row ended with, (stateCount) tensors of (B, H).
    private(set) var finalStates: [Tensor] = []
    /// Set before backward: dL/d(finalStates[k]); nil or empty = no gradient reaches the states.
    var finalStateGrads: [Tensor?] = []
    /// After a backward with an initial state: dL/d(initialState[k]).
    private(set) var initialStateGrads: [Tensor] = []
    /// A stateful layer's state carried over to the next batch; nil until the first batch or
    /// after resetStates().
    private(set) var carriedState: [Tensor]? = nil
    /// The states initialState's rows of the current forward came from (nil: zeros).
    private var startState: [Tensor]? = nil
    /// Put before each weight's name; Bidirectional sets "forward_lstm/" and "backward_lstm/".
    var weightPrefix = ""
    /// Keras's zero_output_for_mask: masked steps output zeros instead of repeating the previous
    /// output (the state still carries). Bidirectional turns it on when returning sequences.
    var zeroOutputForMask = false
    private(set) var inputDim = 0
    /// batch counts the internal rows: the input's rows, plus the shared padding row if there is one.
    private(set) var batch = 0, steps = 0
    /// Set by the model when this layer reads an Embedding directly (see the padding notes above).
    var inputFromEmbedding = false
    /// Set with inputFromEmbedding by the model: that Embedding, whose ids of the current pass let
    /// a forward-only pass look its input projection up (ProjectionTable).
    weak var embedding: Embedding?
    let projectionTable = ProjectionTable()
    private var tableRows: UnsafePointer<Float>? = nil  // during a forward that projects by table
    private var entryIds: [Int32] = []  // (T, B') then: the id behind each entry of xT
    /// During a forward-only pass whose input projection is a table lookup or one repeated row:
    /// the cell adds projectionRow(s, i) itself, and z holds one step's recurrent product only.
    /// Copying those rows into z and reading them back cost M1's batch-256 predict 14 %.
    private(set) var cellAddsProjection = false
    /// Otherwise, for a cell that adds rows itself: z's input projection leaves the bias out and
    /// the cell adds it (biasRow), so that the projection is one GEMM writing z instead of a copy
    /// of the bias into every (T*B) row and a GEMM reading them back (5 % of an M1 training step).
    private(set) var cellAddsBias = false
    private(set) var biasRow: UnsafePointer<Float>? = nil  // the bias then, during the step loop
    private let repeatedProjection = FloatBuffer()  // (B, G*H) a repeated input's projection then
    private(set) var unitSplit: UnitSplit? = nil  // for one-row forward-only passes, made on first use
    /// Off: every step computes every row (the plain computation, for tests; LSTMKIT_PADDING_SKIP=0
    /// turns it off for benchmarks).
    static var skipPadding = getenv("LSTMKIT_PADDING_SKIP").map { String(cString: $0) != "0" } ?? true
    // The row plan of the current batch (B' = internal rows):
    private var perm: [Int] = []        // (B) internal row -> row of x
    private(set) var active: [Int] = [] // (T) step s computes internal rows 0..<active[s]
    /// (B') the steps each internal row computes, one run each; nil = every row every step. The
    /// input projection and the weight-gradient GEMMs then skip the padding too (forEachRun).
    private var runs: [Range<Int>]? = nil
    private(set) var sharedRow: Int? = nil  // internal row of the shared padding trajectory
    private var sharedSteps = 0         // steps the shared row computes: the longest padding
    private var padInput: [Float] = []  // (D) the padding input vector
    private var padRow = 0              // a row of x whose first vector (processing order) it is
    /// (row, step) pairs the last backward skipped because their gradient had become zero.
    private(set) var deadPaddingSteps = 0

    // Saved by forward for backward and for the cells:
    let xT = FloatBuffer()        // (T, B, D) input; times the input dropout mask when one mask is shared
    let z = FloatBuffer()         // (T, B, G*H) preactivations, which the cell turns into its gates
    let hs = FloatBuffer()        // (T+1, B, H) hidden states, hs[0] = 0; (2, B, H) as a ring, see stateTimes
    private(set) var stepMask: [Float]? = nil  // (T, B) 1 = real step, 0 = masked
    let inMasks = FloatBuffer()   // (K, B, D) input dropout masks, K = maskGroups; empty = no dropout
    let recMasks = FloatBuffer()  // (K, B, H) recurrent dropout masks; empty = none
    private(set) var maskGroups = 1
    // Backward:
    private let dZStore = FloatBuffer()
    /// (T, B, G*H) dL/d(input-side preactivation): z itself when the cell overwrites its saved
    /// gates with their gradients (gateGradsOverwriteZ), else a buffer of its own.
    final var dZ: FloatBuffer { gateGradsOverwriteZ ? z : dZStore }
    private let dRSeparate = FloatBuffer()  // (T, B, G*H) dL/d(recurrent-side), when the cell says it differs
    private let hm = FloatBuffer()          // (B, H) a state times a recurrent mask, per step
    private let kernelT = FloatBuffer()     // (G*H, H) the recurrent kernel transposed, made by backward
    private var recurrentKernelT: UnsafePointer<Float>? = nil  // kernelT where dh U^T reads it
    /// U^T, (G*H, H) row by row, from this batch's weights: valid from prepareBackward on.
    final var transposedRecurrentKernel: UnsafePointer<Float> { UnsafePointer(kernelT.p) }
    private let wide = FloatBuffer()        // (T*B, max(D, H)) masked copies for the gradient GEMMs
    private let dhBuf = FloatBuffer()       // (B, H) dL/dh_s of the step being processed
    private let dhPrevBuf = FloatBuffer()   // (B, H) what flows into step s-1
    private let dxT = FloatBuffer()         // (T, B, D) input gradient, time-major
    private let kernel16 = BFloat16Copy()   // under mixed_bfloat16: the recurrent kernel, converted when it changes
    private var recurrentKernel16: BFloat16Operand? = nil
    private let dZSum = FloatBuffer()       // (B, G*H) dZ summed over the steps, for a repeated input
    /// (G*H) the bias gradient, summed step by step while each step's dZ is in cache: summed after
    /// the loop it read the whole (T, B, G*H) from memory again (3.6 % of an M1 training step).
    private let dBias = FloatBuffer()
    /// Every row reads the same vector at every step (a RepeatVector's output): the input
    /// projection and the kernel's gradient are computed once per row instead of once per step.
    private(set) var repeatedInput = false
    /// Off: a repeated input is projected at every step like any other (for tests).
    static var shareRepeatedInput = true
    // chunks of computed entries made contiguous for the weight GEMMs (gatheredWeightGradients)
    private let gatherX = FloatBuffer(), gatherH = FloatBuffer(), gatherZ = FloatBuffer(), gatherR = FloatBuffer()

    init(name: String, config: LayerConfig, gates: Int) throws {
        self.name = name
        gateCount = gates
        units = try config.int("units", max: 1 << 14)
        returnSequences = try config.bool("return_sequences", default: false)
        goBackwards = try config.bool("go_backwards", default: false)
        dropout = try config.float("dropout", default: 0, min: 0, max: 1, maxInclusive: false)
        recurrentDropout = try config.float("recurrent_dropout", default: 0, min: 0, max: 1, maxInclusive: false)
        guard try config.bool("use_bias", default: true) else {
            throw LSTMKitError(.badConfig, "\(name): use_bias=false is not supported")
        }
        returnState = try config.bool("return_state", default: false)
        stateful = try config.bool("stateful", default: false)
    }

    /// States per row: h, plus LSTM's c.
    var stateCount: Int { 1 }

    /// Forgets the carried state: the next batch starts from zeros (Keras's reset_states).
    func resetStates() { carriedState = nil }
    /// Rows of the carried state, nil when nothing is carried.
    var carriedBatch: Int? { carriedState?.first?.shape[0] }

    // ---- what a cell supplies ----

    /// kernel, recurrent_kernel, bias in Keras's order; the input bias is the first G*H of bias.
    func makeWeights(inputDim d: Int, rng: inout Rng) -> [(String, [Int], [Float])] { fatalError("abstract") }
    /// Config keys beyond the shared ones.
    var cellConfig: [String: JSON] { [:] }
    /// Masks per sequence under implementation 1 (recurrent_dropout > 0): one per gate in Keras.
    var dropoutMaskCount: Int { gateCount }
    /// True when dL/d(h U) differs from dL/d(x W) (GRU with reset_after); backward then keeps both.
    var recurrentGradIsSeparate: Bool { false }
    /// Columns of recurrent_kernel whose gradient the driver computes from hs; the cell does the rest.
    var genericRecurrentColumns: Int { gateCount * units }
    /// Sizes the cell's own buffers for (batch, steps) and sets its initial state.
    func prepareForward() {}
    /// Step s on the given rows: add the recurrent term to z[s] (via addRecurrent), activate, write
    /// hs[s+1]. Rows outside the range are the driver's.
    func forwardStep(_ s: Int, rows: Range<Int>, _ U: UnsafePointer<Float>) { fatalError("abstract") }
    /// Whether forwardStep adds a row to z's preactivations itself: projectionRow when
    /// cellAddsProjection is set, biasRow when cellAddsBias is (the LSTM does both).
    var addsProjectionItself: Bool { false }
    /// forwardStep for row i and the units `slice` only (UnitSplit): the recurrent product with
    /// `kernel`, those units' columns of U packed gate by gate (H, G*n), into `gates` (G*n); with
    /// roundedState (H floats), of the previous state rounded to bfloat16 there first.
    /// Cells that implement it say so with supportsUnitSplit.
    func forwardStepUnits(_ s: Int, row i: Int, slice: Range<Int>, kernel: UnsafePointer<Float>,
                          gates: UnsafeMutablePointer<Float>, roundedState: UnsafeMutablePointer<Float>?) {
        fatalError("no unit split for \(className)")
    }
    var supportsUnitSplit: Bool { false }
    func prepareBackward() {}
    /// Step s on the given rows: from dh (B, H), fill dZ[s] (and dR[s]) and add the non-GEMM paths
    /// to dhPrev (B, H). Masked rows are left alone: the driver passes their gradient on.
    func backwardStep(_ s: Int, rows: Range<Int>, dh: UnsafePointer<Float>, dhPrev: UnsafeMutablePointer<Float>,
                      _ U: UnsafePointer<Float>) {
        fatalError("abstract")
    }
    /// True when backwardStep writes each row's gate gradients over its saved gates in z (a
    /// row's gates are not needed once its step is done): dZ is then z, which saves a (T, B, G*H)
    /// buffer per layer and thread (61 MB training the IMDB model on two threads). The driver
    /// zeroes the masked rows, which the cell leaves alone.
    var gateGradsOverwriteZ: Bool { false }
    /// True when the cell implements backwardSharedPadding.
    var hasSharedPaddingBackward: Bool { false }
    /// Backward of the padding rows `rows` at step s, which all read the shared row `sh`'s saved
    /// values, in a form cheaper than stepping them one by one: add their dL/dh_{s-1} to dhPrev,
    /// write their input gradients to dx (the step's (B, D) rows), put the sum of
    /// their gate gradients in dZ[s][sh] (the weight GEMMs read only that), and carry their cell
    /// state gradients.
    func backwardSharedPadding(_ s: Int, rows: Range<Int>, shared sh: Int, dh: UnsafePointer<Float>,
                               dhPrev: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        fatalError("no shared padding backward")
    }
    /// State k >= 1 (LSTM's c) of internal row `row` at state index `time`: (H) floats.
    func cellState(_ k: Int, time: Int, row: Int) -> UnsafeMutablePointer<Float> { fatalError("no cell state") }
    /// The carried gradient of state k >= 1 (LSTM's dc) of internal row `row`, during backward.
    func cellStateGrad(_ k: Int, row: Int) -> UnsafeMutablePointer<Float> { fatalError("no cell state") }
    /// Gradients the driver does not cover: the columns past genericRecurrentColumns, a recurrent bias.
    func finishBackward() {}

    // ---- helpers for the cells ----

    @inline(__always)
    final func isMasked(_ s: Int, _ i: Int) -> Bool {
        if let m = stepMask { return m[s * batch + i] == 0 }
        return false
    }

    /// The internal row whose forward values (gates, states) row i used at step s: the shared row
    /// while i is still in its padding, else i itself.
    @inline(__always)
    final func savedRow(_ s: Int, _ i: Int) -> Int {
        if let sh = sharedRow, i >= active[s], i < sh { return sh }
        return i
    }

    /// dR: the gradient that multiplies the recurrent kernel.
    final var dR: FloatBuffer { recurrentGradIsSeparate ? dRSeparate : dZ }

    /// The recurrent dropout mask (B, H) of the gate owning column `col`, or nil.
    final func recurrentMask(column col: Int) -> UnsafeMutablePointer<Float>? {
        if recMasks.count == 0 { return nil }
        return recMasks.p + (maskGroups == 1 ? 0 : col / units) * batch * units
    }

    /// Whether every row's state before step s is the zero state: step 0 of a layer given no
    /// initial state. Its recurrent products are zero, so they are skipped, forward and backward
    /// (1/15 of the translation encoder's recurrent multiply-adds, 1/24 of its decoder's).
    @inline(__always)
    final func stateIsZero(before s: Int) -> Bool { s == 0 && startState == nil }

    /// dst[rows, cols] = beta dst + (hPrev times the gate's recurrent mask) U[:, cols]; hPrev, the state
    /// before step s, and dst point at row 0 of the step, dst at column cols.lowerBound.
    final func addRecurrent(_ hPrev: UnsafePointer<Float>, step s: Int, rows: Range<Int>, cols: Range<Int>,
                            into dst: UnsafeMutablePointer<Float>, ldc: Int, _ U: UnsafePointer<Float>, beta: Float = 1) {
        let m = rows.count, h = units, gh = gateCount * h
        let hPrev = hPrev + rows.lowerBound * h, dst = dst + rows.lowerBound * ldc
        if stateIsZero(before: s) {
            if beta == 0 { for r in 0..<m { (dst + r * ldc).update(repeating: 0, count: cols.count) } }
            return
        }
        let u16 = recurrentKernel16
        guard recMasks.count > 0 else {
            sgemm(m: m, n: cols.count, k: h, a: hPrev, lda: h, b: U + cols.lowerBound, b16: u16?.advanced(by: cols.lowerBound),
                  ldb: gh, beta: beta, c: dst, ldc: ldc)
            return
        }
        var c = cols.lowerBound
        while c < cols.upperBound {
            let end = maskGroups == 1 ? cols.upperBound : min(cols.upperBound, (c / h + 1) * h)
            multiplyRows(hPrev, by: recurrentMask(column: c)! + rows.lowerBound * h, into: hm.p, steps: 1, batch: m, width: h)
            sgemm(m: m, n: end - c, k: h, a: hm.p, lda: h, b: U + c, b16: u16?.advanced(by: c), ldb: gh, beta: beta,
                  c: dst + (c - cols.lowerBound), ldc: ldc)
            c = end
        }
    }

    /// dhPrev[rows] += dR[rows, cols] U[:, cols]^T, each gate's part times its recurrent mask; dRs and
    /// dhPrev point at row 0 of the step.
    final func addRecurrentGrad(_ dRs: UnsafePointer<Float>, rows: Range<Int>, cols: Range<Int>,
                                into dhPrev: UnsafeMutablePointer<Float>, _ U: UnsafePointer<Float>) {
        let b = rows.count, h = units, gh = gateCount * h
        let dRs = dRs + rows.lowerBound * gh, dhPrev = dhPrev + rows.lowerBound * h
        if cols.isEmpty { return }
        let u16 = recurrentKernel16, uT = recurrentKernelT
        // dst = beta dst + dRs[:, c0..<c0+n] U[:, c0..<c0+n]^T, from the row-major copy of U^T where
        // backward made one (see backward), else reading U transposed (the bfloat16 copy's layout)
        func product(_ c0: Int, _ n: Int, beta: Float, into dst: UnsafeMutablePointer<Float>) {
            if let uT {
                sgemm(m: b, n: h, k: n, a: dRs + c0, lda: gh, b: uT + c0 * h, ldb: h, beta: beta, c: dst, ldc: h)
            } else {
                sgemm(transB: true, m: b, n: h, k: n, a: dRs + c0, lda: gh, b: U + c0, b16: u16?.advanced(by: c0), ldb: gh,
                      beta: beta, c: dst, ldc: h)
            }
        }
        guard recMasks.count > 0 else {
            product(cols.lowerBound, cols.count, beta: 1, into: dhPrev)
            return
        }
        var c = cols.lowerBound
        while c < cols.upperBound {
            let end = maskGroups == 1 ? cols.upperBound : min(cols.upperBound, (c / h + 1) * h)
            product(c, end - c, beta: 0, into: hm.p)
            let m = recurrentMask(column: c)! + rows.lowerBound * h
            for i in 0..<(b * h) { dhPrev[i] += hm.p[i] * m[i] }
            c = end
        }
    }

    /// Calls body(first, count, stride) over the (step, row) entries that were computed: one call
    /// for the whole (T*B) buffers (stride 1), or, with a skipping plan, whichever takes fewer
    /// calls: one per step over its computed rows, which are a prefix (stride 1), or one per
    /// internal row over its run (first = its first entry, entries `stride` = B rows apart). The
    /// shared padding row always gets its own call. GEMMs over the time-major buffers take
    /// lda = stride * width; few large GEMMs beat many small ones (a translation batch has 1,024
    /// rows of 15 steps, an IMDB batch 32 rows of 600).
    final func forEachRun(_ body: (_ first: Int, _ count: Int, _ stride: Int) -> Void) {
        guard let runs else { body(0, steps * batch, 1); return }
        let realRows = perm.count
        if steps < realRows {
            for s in 0..<steps where active[s] > 0 { body(s * batch, active[s], 1) }
            if let sh = sharedRow, !runs[sh].isEmpty { body(runs[sh].lowerBound * batch + sh, runs[sh].count, batch) }
        } else {
            for (i, run) in runs.enumerated() where !run.isEmpty { body(run.lowerBound * batch + i, run.count, batch) }
        }
    }

    // ---- Layer ----

    var config: JSON {
        var c: [String: JSON] = ["name": .string(name), "units": .number(Double(units)),
                                 "return_sequences": .bool(returnSequences), "go_backwards": .bool(goBackwards),
                                 "dropout": .number(Double(dropout)),
                                 "recurrent_dropout": .number(Double(recurrentDropout)), "use_bias": true]
        for (k, v) in cellConfig { c[k] = v }
        if returnState { c["return_state"] = true }
        if stateful { c["stateful"] = true }
        return .object(c)
    }

    var isBuilt: Bool { !params.isEmpty }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard input.count == 2, let d = input[1] else {
            throw LSTMKitError(.invalidArgument, "\(name): expects input of shape (batch, timesteps, features), got rank \(input.count + 1)")
        }
        if isBuilt && d != inputDim {
            throw LSTMKitError(.invalidArgument, "\(name): built for \(inputDim) features, got \(d)")
        }
        return returnSequences ? [input[0], units] : [units]
    }

    // ---- several inputs and outputs (the functional graph): [x, states...] -> [y, states...] ----

    func outputShapes(for inputs: [FeatureShape]) throws -> [FeatureShape] {
        let y = try outputShape(for: inputs[0])
        if inputs.count > 1 {
            guard inputs.count == 1 + stateCount else {
                throw LSTMKitError(.invalidArgument, "\(name): initial_state needs \(stateCount) tensor\(stateCount == 1 ? "" : "s") of shape (batch, \(units)), got \(inputs.count - 1)")
            }
            for s in inputs.dropFirst() where s != [units] {
                throw LSTMKitError(.invalidArgument, "\(name): an initial state must have shape (batch, \(units)), got (batch, \(s.map { $0.map(String.init) ?? "None" }.joined(separator: ", ")))")
            }
            if stateful {
                throw LSTMKitError(.invalidArgument, "\(name): a stateful layer takes its initial state from the previous batch, not from initial_state")
            }
        }
        return [y] + (returnState ? Array(repeating: [units], count: stateCount) : [])
    }

    func build(inputs: [FeatureShape], rng: inout Rng) throws {
        _ = try outputShapes(for: inputs)
        try build(input: inputs[0], rng: &rng)
    }

    func forward(_ xs: [Tensor], masks: [[Float]?], training: Bool, rng: inout Rng) -> ([Tensor], [[Float]?]) {
        initialState = xs.count > 1 ? Array(xs.dropFirst()) : nil
        stateInputs = xs.count - 1
        defer { initialState = nil }
        let (y, mask) = forward(xs[0], mask: masks[0], training: training, rng: &rng)
        guard returnState else { return ([y], [mask]) }
        return ([y] + finalStates, [mask] + Array(repeating: nil, count: stateCount))
    }

    func backward(_ dys: [Tensor?]) -> [Tensor] {
        let dy = dys[0] ?? Tensor(zeros: lastOutputShape)
        finalStateGrads = Array(dys.dropFirst())
        defer { finalStateGrads = [] }
        let dx = backward(dy)
        return [dx] + (stateInputs > 0 ? initialStateGrads : [])
    }
    private var stateInputs = 0

    func build(input: FeatureShape, rng: inout Rng) throws {
        if isBuilt { return }
        _ = try outputShape(for: input)
        inputDim = input[1]!
        params = makeWeights(inputDim: inputDim, rng: &rng).map { Param(weightPrefix + $0.0, $0.1, $0.2) }
    }

    private var lastOutputShape: [Int] = []

    // x: (B, T, D)  mask: (B, T) or nil  ->  (B, T, H) in processing order if returnSequences, else (B, H)
    // initialState, carriedState: (stateCount) x (B, H) or nil  ->  finalStates: (stateCount) x (B, H)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let b = x.shape[0], t = x.shape[1], d = inputDim, h = units, gh = gateCount * h
        steps = t
        // The model checks that a stateful layer sees the same batch size every time.
        startState = initialState ?? (stateful && carriedBatch == b ? carriedState : nil)
        planRows(x, mask: mask, dropoutDrawn: training && (dropout > 0 || recurrentDropout > 0))
        let bi = batch   // internal rows
        if forwardOnly && !training, let e = embedding, e.ids.count == b * t, e.isBuilt {
            tableRows = projectionTable.rows(embedding: e.params[0], kernel: params[0], bias: params[2], gh: gh, ids: b * t)
        }
        defer { tableRows = nil; cellAddsProjection = false; cellAddsBias = false }
        if tableRows != nil {
            // the ids stand in for the vectors (project reads the table)
            entryIds = [Int32](repeating: 0, count: t * bi)
            let ids = embedding!.ids
            for s in 0..<t {
                let src = goBackwards ? t - 1 - s : s
                for i in 0..<b { entryIds[s * bi + i] = ids[perm[i] * t + src] }
                if let sh = sharedRow { entryIds[s * bi + sh] = ids[padRow * t + (goBackwards ? t - 1 : 0)] }
            }
        } else {
            xT.resize(t * bi * d)
            x.data.withUnsafeBufferPointer { xp in
                for s in 0..<t {
                    let src = goBackwards ? t - 1 - s : s
                    for i in 0..<b { copyRow(xT.p + (s * bi + i) * d, xp.baseAddress! + (perm[i] * t + src) * d, d) }
                    if let sh = sharedRow { (xT.p + (s * bi + sh) * d).update(from: padInput, count: d) }
                }
            }
        }
        stepMask = mask.map { m in
            var out = [Float](repeating: 0, count: t * bi)
            for s in 0..<t { for i in 0..<b { out[s * bi + i] = m[perm[i] * t + (goBackwards ? t - 1 - s : s)] } }
            return out
        }
        drawDropoutMasks(training: training, rng: &rng)
        repeatedInput = runs == nil && t > 1 && (inMasks.count == 0 || maskGroups == 1)
            && RecurrentLayer.shareRepeatedInput && stepsRepeat(x)

        // A forward-only pass over a plain plan projects the input a few steps at a time, just
        // before the steps read it, into a ring of zRingSteps steps (see forwardOnly).
        let splitUnits = splitsUnits()
        cellAddsProjection = forwardOnly && addsProjectionItself && !splitUnits && inMasks.count == 0
            && (tableRows != nil || repeatedInput)
        cellAddsBias = addsProjectionItself && !cellAddsProjection && tableRows == nil  // table rows hold it
        zRingSteps = forwardOnly && runs == nil && inMasks.count == 0 && !repeatedInput && !splitUnits
            && !cellAddsProjection && t > 2 * RecurrentLayer.zChunk ? RecurrentLayer.zChunk : 0
        // Input projection of all steps: bias rows (unless the cell adds the bias), then x W, one GEMM per input mask.
        z.resize((cellAddsProjection ? 1 : zRingSteps > 0 ? zRingSteps : t) * bi * gh)
        if cellAddsProjection {
            if tableRows == nil {
                repeatedProjection.resize(bi * gh)
                project(first: 0, count: bi, stride: 1, into: repeatedProjection.p)
            }
        } else if zRingSteps == 0 {
            if inMasks.count > 0 && maskGroups == 1 {
                multiplyRows(xT.p, by: inMasks.p, into: xT.p, steps: t, batch: bi, width: d)
            }
            if repeatedInput {
                // every step reads the same row (RepeatVector): project step 0, copy it to the others
                project(first: 0, count: bi, stride: 1, into: z.p)
                for s in 1..<t { (z.p + s * bi * gh).update(from: z.p, count: bi * gh) }
            } else if inMasks.count == 0 || maskGroups == 1 {
                forEachRun { first, count, stride in project(first: first, count: count, stride: stride, into: z.p + first * gh) }
            } else {
                // one input mask per gate (recurrent_dropout): no padding plan, every entry computed
                // (the gates' GEMMs write every column: with the bias left to the cell, nothing to add to)
                if !cellAddsBias {
                    params[2].withValue { bias in
                        for r in 0..<(t * bi) { (z.p + r * gh).update(from: bias.baseAddress!, count: gh) }
                    }
                }
                params[0].withValue { wp in
                    wide.resize(t * bi * d)
                    for k in 0..<gateCount {
                        multiplyRows(xT.p, by: inMasks.p + k * bi * d, into: wide.p, steps: t, batch: bi, width: d)
                        sgemm(m: t * bi, n: h, k: d, a: wide.p, lda: d, b: wp.baseAddress! + k * h, ldb: gh,
                              beta: cellAddsBias ? 0 : 1, c: z.p + k * h, ldc: gh)
                    }
                }
            }
        }

        stateTimes = forwardOnly && !returnSequences && runs == nil && stepMask == nil && t > 1 ? 2 : t + 1
        hs.resize(stateTimes * bi * h)
        hs.p.update(repeating: 0, count: bi * h)
        hm.resize(bi * h)
        prepareForward()
        if let start = startState {
            // no padding plan here (planRows), so internal row i is x's row i
            for i in 0..<b {
                start[0].data.withUnsafeBufferPointer { (hs.p + i * h).update(from: $0.baseAddress! + i * h, count: h) }
                for k in 1..<stateCount {
                    start[k].data.withUnsafeBufferPointer { cellState(k, time: 0, row: i).update(from: $0.baseAddress! + i * h, count: h) }
                }
            }
        }
        params[1].withValue { up in
        params[2].withValue { bias in
            let U = up.baseAddress!
            recurrentKernel16 = kernel16.refresh(params[1], rows: h, cols: gh)
            biasRow = cellAddsBias ? bias.baseAddress : nil
            defer { recurrentKernel16 = nil; biasRow = nil }
            if splitUnits && stepSplittingUnits(t) { return }
            for s in 0..<t {
                if zRingSteps > 0 && s % zRingSteps == 0 { projectRing(from: s) }
                if active[s] > 0 { forwardStep(s, rows: 0..<active[s], U) }
                if let sh = sharedRow, s < sharedSteps { forwardStep(s, rows: sh..<(sh + 1), U) }
                // rows whose run starts at step s+1 start from the shared trajectory or the zero state
                if s + 1 < t && active[s + 1] > active[s] {
                    for i in active[s]..<active[s + 1] { copyState(sharedRow == nil ? 0 : s + 1, sharedRow ?? i, s + 1, i) }
                }
            }
        }}

        var y: Tensor
        if returnSequences {
            y = Tensor(shape: [b, t, h]) { yp in
                for s in 0..<t {
                    for i in 0..<b {
                        let dst = yp + (perm[i] * t + s) * h
                        if zeroOutputForMask && isMasked(s, i) {
                            dst.update(repeating: 0, count: h)
                        } else {
                            dst.update(from: hs.p + stateAfter(s, i) * h, count: h)
                        }
                    }
                }
            }
        } else {
            // perm is a permutation of the rows: each is written once
            y = Tensor(shape: [b, h]) { yp in
                for i in 0..<b { (yp + perm[i] * h).update(from: hs.p + stateAfter(t - 1, i) * h, count: h) }
            }
        }
        // The state each row ended with: the last computed step's, which masked steps carry.
        if returnState || stateful {
            finalStates = (0..<stateCount).map { k in
                var st = Tensor(zeros: [b, h])
                st.data.withUnsafeMutableBufferPointer { sp in
                    for i in 0..<b {
                        let at = stateAfter(t - 1, i)
                        let src = k == 0 ? hs.p + at * h : cellState(k, time: at / bi, row: at % bi)
                        (sp.baseAddress! + perm[i] * h).update(from: src, count: h)
                    }
                }
                return st
            }
            if stateful { carriedState = finalStates }
        } else {
            finalStates = []
        }
        lastOutputShape = y.shape
        // Keras passes the input mask on unchanged, also with go_backwards.
        return (y, returnSequences ? mask : nil)
    }

    /// The row of hs holding internal row i's state after step s. Outside its run of computed
    /// steps a row's state is not copied step by step: before the run it is the shared row's (or
    /// the zero state hs[0]), after it the state the run ended with, as masked steps keep it.
    private func stateAfter(_ s: Int, _ i: Int) -> Int {
        guard let run = runs?[i] else { return stateTime(s + 1) * batch + i }
        if s + 1 > run.upperBound { return run.upperBound * batch + i }
        if s + 1 <= run.lowerBound { return sharedRow.map { (s + 1) * batch + $0 } ?? i }
        return (s + 1) * batch + i
    }

    /// Whether this forward steps its units on two threads (UnitSplit): a one-row forward-only
    /// pass of a wide enough cell that can compute part of its units.
    private func splitsUnits() -> Bool {
        guard UnitSplit.enabled && forwardOnly && supportsUnitSplit && batch == 1 && units >= UnitSplit.minUnits
                && recMasks.count == 0 && WorkerPool.shared.threads >= 2 else { return false }
        if unitSplit == nil { unitSplit = UnitSplit() }
        return unitSplit!.usable
    }

    /// The step loop of forward for the one row, its units split over two threads; false, having
    /// done nothing, when two threads are not free.
    private func stepSplittingUnits(_ t: Int) -> Bool {
        guard let split = unitSplit else { return false }
        // Under mixed_bfloat16 a one-row product is OpenBLAS's over operands rounded to bfloat16
        // (Support/BLAS.swift); the halves do the same explicitly, since the policy is a flag of
        // the calling thread only: its routing is off meanwhile.
        let rounding = recurrentKernel16 != nil
        split.prepare(params[1], rounded: recurrentKernel16?.values, units: units, gates: gateCount)
        let policy = lk_bf16_thread_enabled()
        lk_bf16_set_thread_enabled(0)
        defer { lk_bf16_set_thread_enabled(policy) }
        let ran = WorkerPool.shared.runTogether { p in
            let mine = UnitSplit.units(p, of: units)
            for s in 0..<t {
                let starts = s + 1 < t && active[s + 1] > active[s]   // the row's run begins at s+1
                if active[s] == 0 && !starts { continue }              // nothing to do, on either thread
                if active[s] > 0 {
                    forwardStepUnits(s, row: 0, slice: mine, kernel: split.kernel(p), gates: split.gates(p),
                                     roundedState: rounding ? split.stateCopy(p) : nil)
                }
                if starts { copyState(0, 0, s + 1, 0, slice: mine) }
                split.meet()
            }
        }
        if ran { split.passes += 1 }
        return ran
    }

    /// True when each row of x (B, T, D) holds the same vector at every step, as RepeatVector's
    /// output does. A sequence that varies usually differs by step 1, so this stops early.
    private func stepsRepeat(_ x: Tensor) -> Bool {
        let b = x.shape[0], t = x.shape[1], d = inputDim
        return x.data.withUnsafeBufferPointer { xp in
            for i in 0..<b {
                let row = xp.baseAddress! + i * t * d
                for s in 1..<t where memcmp(row, row + s * d, d * 4) != 0 { return false }
            }
            return true
        }
    }

    /// Set by the model around passes that backward will not follow (predict, evaluate): the
    /// input projection then lives in a ring of a few steps instead of (T, B, G*H), which for
    /// the IMDB model at batch 256 is 245 MB written once and read back from memory; the ring
    /// stays in cache. The other saved values are kept (final states and masked rows read them).
    var forwardOnly = false
    static let zChunk = 16
    /// Steps in z's ring, 0 when z holds every step.
    private(set) var zRingSteps = 0

    /// The step s rows of z: its preactivations, which the cell activates in place.
    @inline(__always)
    final func zStep(_ s: Int) -> UnsafeMutablePointer<Float> {
        if cellAddsProjection { return z.p }
        return z.p + (zRingSteps > 0 ? s % zRingSteps : s) * batch * gateCount * units
    }

    /// The steps of states hs (and the cell's own) keeps: T+1, or 2 as a ring in a forward-only
    /// pass that reads only the last step's states (no sequences returned, no mask, no padding
    /// plan), where keeping them all streamed 2 (T+1, B, H) through the cache for nothing.
    private(set) var stateTimes = 0
    /// Where step s's states live in hs (and in the cell's own states).
    @inline(__always)
    final func stateTime(_ s: Int) -> Int { stateTimes == 2 ? s & 1 : s }

    /// Internal row i's input projection at step s when cellAddsProjection is set.
    @inline(__always)
    final func projectionRow(_ s: Int, _ i: Int) -> UnsafePointer<Float> {
        if let table = tableRows { return table + Int(entryIds[s * batch + i]) * gateCount * units }
        return UnsafePointer(repeatedProjection.p + i * gateCount * units)
    }

    /// Fills the ring with the input projection of steps s..<s+zRingSteps.
    private func projectRing(from s: Int) {
        let bi = batch
        project(first: s * bi, count: min(zRingSteps, steps - s) * bi, stride: 1, into: z.p)
    }

    /// The input projection (bias, then x W; x W alone when cellAddsBias) of `count` entries of xT
    /// from entry `first`, `stride` entries apart, into rows of dst laid out the same way.
    private func project(first: Int, count: Int, stride: Int, into dst: UnsafeMutablePointer<Float>) {
        let d = inputDim, gh = gateCount * units
        if let table = tableRows {
            for k in 0..<count {
                (dst + k * stride * gh).update(from: table + Int(entryIds[first + k * stride]) * gh, count: gh)
            }
            return
        }
        if !cellAddsBias {
            params[2].withValue { bias in
                for k in 0..<count { (dst + k * stride * gh).update(from: bias.baseAddress!, count: gh) }
            }
        }
        params[0].withValue { wp in
            sgemm(m: count, n: gh, k: d, a: xT.p + first * d, lda: stride * d, b: wp.baseAddress!, ldb: gh,
                  beta: cellAddsBias ? 0 : 1, c: dst, ldc: stride * gh)
        }
    }

    /// hs[toTime][to] = hs[fromTime][from] for the units `slice` (all by default), and the cell's
    /// own states (cellState) likewise.
    private func copyState(_ fromTime: Int, _ from: Int, _ toTime: Int, _ to: Int, slice: Range<Int>? = nil) {
        let slice = slice ?? 0..<units
        let bi = batch, h = units, u0 = slice.lowerBound, fromTime = stateTime(fromTime), toTime = stateTime(toTime)
        (hs.p + (toTime * bi + to) * h + u0).update(from: hs.p + (fromTime * bi + from) * h + u0, count: slice.count)
        for k in 1..<stateCount {
            (cellState(k, time: toTime, row: to) + u0).update(from: cellState(k, time: fromTime, row: from) + u0, count: slice.count)
        }
    }

    /// Chooses the row order and the rows each step computes (the padding notes at the top); the
    /// plain plan is the identity with every row at every step.
    private func planRows(_ x: Tensor, mask: [Float]?, dropoutDrawn: Bool) {
        let b = x.shape[0], t = x.shape[1], d = inputDim
        perm = Array(0..<b)
        runs = nil
        active = [Int](repeating: b, count: t)
        sharedRow = nil
        sharedSteps = 0
        batch = b
        guard RecurrentLayer.skipPadding && !dropoutDrawn && t > 0 && startState == nil else { return }
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
        guard inputFromEmbedding else { return }
        // leading run (in processing order) of each row's first vector; the longest run's vector
        // is the padding
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
        sharedSteps = pad.max()!
        guard sharedSteps >= 2 else { sharedSteps = 0; return }
        perm.sort { pad[$0] < pad[$1] || (pad[$0] == pad[$1] && $0 < $1) }
        runs = perm.map { pad[$0]..<t } + [0..<sharedSteps]
        for s in 0..<t { active[s] = perm.firstIndex { pad[$0] > s } ?? b }
        sharedRow = b
        batch = b + 1
    }

    /// The shared row's gate gradients at step s are the sum of those of the rows still in their
    /// padding there (zero past the longest padding), so the weight GEMMs over its run see them all.
    /// `live` are the padding rows stepped back; the dead ones above it get zero gradients.
    private func gatherPaddingGradients(_ s: Int, live: Range<Int>, into sh: Int) {
        let bi = batch, gh = gateCount * units
        func gather(_ buf: FloatBuffer) {
            (buf.p + (s * bi + live.upperBound) * gh).update(repeating: 0, count: (sh - live.upperBound) * gh)
            let dst = buf.p + (s * bi + sh) * gh
            dst.update(repeating: 0, count: gh)
            for i in live {
                let src = buf.p + (s * bi + i) * gh
                for j in 0..<gh { dst[j] += src[j] }
            }
        }
        // called every step: no array of the buffers, which would be allocated each time
        gather(dZ)
        if recurrentGradIsSeparate { gather(dRSeparate) }
    }

    /// True when row i's gradient arriving at the current step, dh and the cell's carried states'
    /// (LSTM's dc), is all zeros.
    private func gradientIsZero(_ i: Int, dh: UnsafePointer<Float>) -> Bool {
        func zero(_ row: UnsafePointer<Float>) -> Bool {
            for j in 0..<units where row[j] != 0 { return false }
            return true
        }
        return zero(dh + i * units) && (1..<stateCount).allSatisfy { zero(cellStateGrad($0, row: i)) }
    }

    /// The recurrent kernel's gradient, hs^T dR over the computed entries, each gate's part times
    /// its recurrent dropout mask.
    private func recurrentKernelGradient() {
        let bi = batch, t = steps, d = inputDim, h = units, gh = gateCount * h
        params[1].grad.withUnsafeMutableBufferPointer { gu in
            let cols = genericRecurrentColumns
            // A plain plan's step 0 read the zero state when no initial state was given: its rows add nothing.
            let s0 = runs == nil && stateIsZero(before: 0) ? 1 : 0
            if recMasks.count == 0 {
                if runs == nil {
                    if t > s0 {
                        sgemm(transA: true, m: h, n: cols, k: (t - s0) * bi, a: hs.p + s0 * bi * h, lda: h,
                              b: dR.p + s0 * bi * gh, ldb: gh, beta: 1, c: gu.baseAddress!, ldc: gh)
                    }
                    return
                }
                forEachRun { first, count, stride in
                    sgemm(transA: true, m: h, n: cols, k: count, a: hs.p + first * h, lda: stride * h, b: dR.p + first * gh,
                          ldb: stride * gh, beta: 1, c: gu.baseAddress!, ldc: gh)
                }
            } else if t > s0 {
                wide.resize(t * bi * max(d, h))
                var c = 0
                while c < cols {
                    let end = maskGroups == 1 ? cols : min(cols, (c / h + 1) * h)
                    multiplyRows(hs.p + s0 * bi * h, by: recurrentMask(column: c)!, into: wide.p, steps: t - s0, batch: bi, width: h)
                    sgemm(transA: true, m: h, n: end - c, k: (t - s0) * bi, a: wide.p, lda: h, b: dR.p + s0 * bi * gh + c,
                          ldb: gh, beta: 1, c: gu.baseAddress! + c, ldc: gh)
                    c = end
                }
            }
        }
    }

    /// The kernel and recurrent-kernel gradients of a skipping plan with one run per row (more
    /// steps than rows, as IMDB's 600). The runs' entries lie B rows apart, so a GEMM per run is
    /// strided and its K only the run's length; copying the computed entries, chunk by chunk,
    /// into contiguous buffers that stay in cache and doing one GEMM per chunk took about 3% less
    /// time on the IMDB recipe.
    private func gatheredWeightGradients() {
        let d = inputDim, h = units, gh = gateCount * h, cols = genericRecurrentColumns
        let chunk = 512
        gatherX.resize(chunk * d); gatherH.resize(chunk * h); gatherZ.resize(chunk * gh)
        if recurrentGradIsSeparate { gatherR.resize(chunk * gh) }
        let separate = recurrentGradIsSeparate
        params[0].grad.withUnsafeMutableBufferPointer { gw in
        params[1].grad.withUnsafeMutableBufferPointer { gu in
            var n = 0
            func flush() {
                guard n > 0 else { return }
                sgemm(transA: true, m: d, n: gh, k: n, a: gatherX.p, lda: d, b: gatherZ.p, ldb: gh, beta: 1,
                      c: gw.baseAddress!, ldc: gh)
                sgemm(transA: true, m: h, n: cols, k: n, a: gatherH.p, lda: h, b: (separate ? gatherR : gatherZ).p,
                      ldb: gh, beta: 1, c: gu.baseAddress!, ldc: gh)
                n = 0
            }
            forEachRun { first, count, stride in
                for k in 0..<count {
                    let e = first + k * stride
                    (gatherX.p + n * d).update(from: xT.p + e * d, count: d)
                    (gatherH.p + n * h).update(from: hs.p + e * h, count: h)
                    (gatherZ.p + n * gh).update(from: dZ.p + e * gh, count: gh)
                    if separate { (gatherR.p + n * gh).update(from: dRSeparate.p + e * gh, count: gh) }
                    n += 1
                    if n == chunk { flush() }
                }
            }
            flush()
        }}
    }

    private func drawDropoutMasks(training: Bool, rng: inout Rng) {
        let b = batch, d = inputDim, h = units
        maskGroups = recurrentDropout > 0 ? dropoutMaskCount : 1
        func draw(_ buf: FloatBuffer, _ rate: Float, _ n: Int) {
            guard training && rate > 0 else { buf.resize(0); return }
            buf.resize(maskGroups * n)
            let scale = 1 / (1 - rate)
            for i in 0..<buf.count { buf.p[i] = rng.uniform() < rate ? 0 : scale }
        }
        draw(inMasks, dropout, b * d)
        draw(recMasks, recurrentDropout, b * h)
    }

    func backward(_ dy: Tensor) -> Tensor {
        precondition(zRingSteps == 0 && stateTimes == steps + 1, "\(name): backward after a forward-only pass")
        let bi = batch, b = perm.count, t = steps, d = inputDim, h = units, gh = gateCount * h
        dZ.resize(t * bi * gh)
        if recurrentGradIsSeparate { dRSeparate.resize(t * bi * gh) }
        if runs == nil && !gateGradsOverwriteZ {
            // masked rows inside the computed steps leave their rows alone, and those must be zero.
            // A skipping plan writes every row it reads: forEachRun reads only computed entries,
            // and with a shared row every row of every step is written (stepped back, zeroed as
            // dead, or gathered), which the dx GEMM over the whole buffer relies on.
            dZ.zero()
            if recurrentGradIsSeparate { dRSeparate.zero() }
        }
        dhBuf.resize(bi * h)
        dhPrevBuf.resize(bi * h)
        let dhs = dhBuf.p        // dL/dh_s for the step being processed
        let dprev = dhPrevBuf.p  // what flows into step s-1
        dprev.update(repeating: 0, count: bi * h)
        if !returnSequences {
            dy.data.withUnsafeBufferPointer { dyp in
                for i in 0..<b { (dprev + i * h).update(from: dyp.baseAddress! + perm[i] * h, count: h) }
            }
        }
        // U^T row by row, for dh U^T (below) and the cells' own use (LSTM's padding map)
        kernelT.resize(gh * h)
        params[1].withValue { up in
            for r in 0..<h { for c in 0..<gh { kernelT.p[c * h + r] = up[r * gh + c] } }
        }
        prepareBackward()
        var liveEnd = b   // rows at and above it are in their padding with a zero gradient
        deadPaddingSteps = 0
        for (k, g) in finalStateGrads.enumerated() {
            guard let g, g.count == b * h else { continue }
            g.data.withUnsafeBufferPointer { gp in
                for i in 0..<b {
                    let src = gp.baseAddress! + perm[i] * h
                    let dst = k == 0 ? dprev + i * h : cellStateGrad(k, row: i)
                    for j in 0..<h { dst[j] += src[j] }
                }
            }
        }

        // With the cell's shared padding form, the padding rows' input gradients are computed in
        // the step loop and the dx GEMM below covers only the computed entries.
        let reduced = sharedRow != nil && hasSharedPaddingBackward
        dxT.resize(t * bi * d)
        dBias.resize(gh)
        dBias.zero()
        params[1].withValue { up in
        dy.data.withUnsafeBufferPointer { dyp in
            let U = up.baseAddress!
            recurrentKernel16 = kernel16.refresh(params[1], rows: h, cols: gh)
            // dh U^T on U^T stored row by row runs 1.4-1.6x faster than reading U transposed (oneDNN,
            // an IMDB step's 32 x 100 x 400, bench/NOTES-perf.md section 8); the bfloat16 copy keeps U's layout
            recurrentKernelT = recurrentKernel16 == nil ? transposedRecurrentKernel : nil
            defer { recurrentKernel16 = nil; recurrentKernelT = nil }
            for s in stride(from: t - 1, through: 0, by: -1) {
                dhs.update(from: dprev, count: bi * h)
                if returnSequences {
                    // dy is batch-major in processing order
                    for i in 0..<b where !(zeroOutputForMask && isMasked(s, i)) {
                        let src = dyp.baseAddress! + (perm[i] * t + s) * h, dst = dhs + i * h
                        for j in 0..<h { dst[j] += src[j] }
                    }
                }
                dprev.update(repeating: 0, count: bi * h)
                // With a shared row every row steps back, those in their padding on its values. A
                // padding row whose gradient has underflowed to exactly zero (denormals are flushed)
                // stays zero for the rest of its padding, since without return_sequences nothing
                // more is added to it: skipping it from there on is exact (10-15% of the IMDB
                // recipe's padding entries early in training).
                if sharedRow != nil && !returnSequences {
                    while liveEnd > active[s] && gradientIsZero(liveEnd - 1, dh: dhs) { liveEnd -= 1 }
                }
                if sharedRow != nil { deadPaddingSteps += b - liveEnd }
                let padding = active[s]..<max(active[s], liveEnd)
                if reduced, let sh = sharedRow {
                    // the cell's own form for the padding rows, which also writes their dx
                    if padding.isEmpty {
                        (dZ.p + (s * bi + sh) * gh).update(repeating: 0, count: gh)
                    } else {
                        backwardSharedPadding(s, rows: padding, shared: sh, dh: dhs, dhPrev: dprev,
                                              dx: dxT.p + s * bi * d)
                    }
                }
                let rows = sharedRow == nil || reduced ? 0..<active[s] : 0..<liveEnd
                if !rows.isEmpty {
                    backwardStep(s, rows: rows, dh: dhs, dhPrev: dprev, U)
                    if gateGradsOverwriteZ, let m = stepMask {
                        for i in rows where m[s * bi + i] == 0 { (dZ.p + (s * bi + i) * gh).update(repeating: 0, count: gh) }
                    }
                    if !stateIsZero(before: s) {   // else dprev is the gradient of a zero state nobody reads
                        addRecurrentGrad(dR.p + s * bi * gh, rows: rows, cols: 0..<genericRecurrentColumns, into: dprev, U)
                    }
                }
                if reduced {
                    // rows past liveEnd are dead padding: no input gradient
                    (dxT.p + (s * bi + padding.upperBound) * d).update(repeating: 0, count: (b - padding.upperBound) * d)
                } else if let sh = sharedRow {
                    gatherPaddingGradients(s, live: active[s]..<liveEnd, into: sh)
                }
                if let m = stepMask {
                    // masked rows carried h unchanged, so their gradient carries on unchanged too
                    for i in 0..<bi where m[s * bi + i] == 0 {
                        for j in 0..<h { dprev[i * h + j] += dhs[i * h + j] }
                    }
                }
                if !repeatedInput {
                    // the step's computed entries, as forEachRun has them: rows 0..<active[s] and the
                    // shared row within its steps; their dZ is final now
                    lk_add_row_sums(dBias.p, dZ.p + s * bi * gh, active[s], gh)
                    if let sh = sharedRow, s < sharedSteps { lk_add_row_sums(dBias.p, dZ.p + (s * bi + sh) * gh, 1, gh) }
                }
            }
        }}
        if startState != nil {
            // what flows out of step 0 is the initial states' gradient (no plan: row i is x's row i)
            initialStateGrads = (0..<stateCount).map { k in
                Tensor(shape: [b, h], data: Array(UnsafeBufferPointer(start: k == 0 ? dprev : cellStateGrad(k, row: 0), count: b * h)))
            }
        } else {
            initialStateGrads = []
        }

        // Weight gradients as GEMMs over all (T*B) rows.
        if repeatedInput {
            // x is the same at every step, so the kernel's gradient is x0^T (sum over steps of dZ)
            dZSum.resize(bi * gh)
            dZSum.p.update(from: dZ.p, count: bi * gh)
            for s in 1..<t {
                let src = dZ.p + s * bi * gh
                for j in 0..<(bi * gh) { dZSum.p[j] += src[j] }
            }
            params[0].grad.withUnsafeMutableBufferPointer { gw in
                sgemm(transA: true, m: d, n: gh, k: bi, a: xT.p, lda: d, b: dZSum.p, ldb: gh, beta: 1, c: gw.baseAddress!, ldc: gh)
            }
            recurrentKernelGradient()
        } else if runs != nil && steps >= perm.count && inMasks.count == 0 && recMasks.count == 0 {
            gatheredWeightGradients()
        } else {
            params[0].grad.withUnsafeMutableBufferPointer { gw in
                if inMasks.count == 0 || maskGroups == 1 {
                    forEachRun { first, count, stride in
                        sgemm(transA: true, m: d, n: gh, k: count, a: xT.p + first * d, lda: stride * d, b: dZ.p + first * gh,
                              ldb: stride * gh, beta: 1, c: gw.baseAddress!, ldc: gh)
                    }
                } else {
                    wide.resize(t * bi * max(d, h))
                    for k in 0..<gateCount {
                        multiplyRows(xT.p, by: inMasks.p + k * bi * d, into: wide.p, steps: t, batch: bi, width: d)
                        sgemm(transA: true, m: d, n: h, k: t * bi, a: wide.p, lda: d, b: dZ.p + k * h, ldb: gh,
                              beta: 1, c: gw.baseAddress! + k * h, ldc: gh)
                    }
                }
            }
            recurrentKernelGradient()
        }
        params[2].grad.withUnsafeMutableBufferPointer { gb in
            if repeatedInput {
                for i in 0..<bi {
                    let row = dZSum.p + i * gh
                    for j in 0..<gh { gb[j] += row[j] }
                }
                return
            }
            for j in 0..<gh { gb[j] += dBias.p[j] }
        }
        finishBackward()

        // dx = dZ W^T (times the input masks), back to batch-major and timestep order.
        params[0].withValue { wp in
            let W = wp.baseAddress!
            if inMasks.count == 0 || maskGroups == 1 {
                if sharedRow != nil && !reduced {
                    // every real row has its own gate gradients at every step (the shared row's
                    // input gradient, computed along, is not returned)
                    sgemm(transB: true, m: t * bi, n: d, k: gh, a: dZ.p, lda: gh, b: W, ldb: gh, beta: 0, c: dxT.p, ldc: d)
                } else {
                    // Steps not computed have no input gradient, except under the cell's shared
                    // padding form, which wrote the padding entries in the step loop.
                    if runs != nil && !reduced { dxT.zero() }
                    forEachRun { first, count, stride in
                        sgemm(transB: true, m: count, n: d, k: gh, a: dZ.p + first * gh, lda: stride * gh, b: W, ldb: gh,
                              beta: 0, c: dxT.p + first * d, ldc: stride * d)
                    }
                }
                if inMasks.count > 0 { multiplyRows(dxT.p, by: inMasks.p, into: dxT.p, steps: t, batch: bi, width: d) }
            } else {
                dxT.zero()
                wide.resize(t * bi * max(d, h))
                for k in 0..<gateCount {
                    sgemm(transB: true, m: t * bi, n: d, k: h, a: dZ.p + k * h, lda: gh, b: W + k * h, ldb: gh,
                          beta: 0, c: wide.p, ldc: d)
                    let m = inMasks.p + k * bi * d
                    for r in 0..<(t * bi) {
                        let mr = m + (r % bi) * d, src = wide.p + r * d, dst = dxT.p + r * d
                        for j in 0..<d { dst[j] += src[j] * mr[j] }
                    }
                }
            }
        }
        let dx = Tensor(shape: [b, t, d], data: [Float](unsafeUninitializedCapacity: b * t * d) { buf, n in
            for s in 0..<t {
                let dst = goBackwards ? t - 1 - s : s
                for i in 0..<b { copyRow(buf.baseAddress! + (perm[i] * t + dst) * d, dxT.p + (s * bi + i) * d, d) }
            }
            n = b * t * d
        })
        return dx
    }
}

/// dst[s, i, :] = src[s, i, :] * mask[i, :] for a (steps, batch, width) buffer and a (batch, width)
/// mask; dst may be src.
func multiplyRows(_ src: UnsafePointer<Float>, by mask: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                  steps: Int, batch: Int, width: Int) {
    for s in 0..<steps {
        for i in 0..<batch {
            let a = src + (s * batch + i) * width, m = mask + i * width, o = dst + (s * batch + i) * width
            for j in 0..<width { o[j] = a[j] * m[j] }
        }
    }
}
