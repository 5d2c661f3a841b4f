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
/// The rooms: this file holds the states and the step loops; RowPlan.swift the padding plan (which
/// rows each step computes, B' = internal rows, padding skipped exactly; `EngineSwitches.paddingSkip` off for
/// tests); InputProjection.swift the forms the input projection takes, chosen once per pass;
/// RecurrentGradients.swift backward and the weight gradients. An input that repeats one vector
/// at every step (RepeatVector's) is projected once per row.
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
    var initialStateGrads: [Tensor] = []
    /// Set around a stream's step (Training/Streaming.swift): forward fills finalStates as
    /// return_state does.
    var keepsFinalStates = false
    /// A stateful layer's state carried over to the next batch; nil until the first batch or
    /// after resetStates().
    private(set) var carriedState: [Tensor]? = nil
    /// The states initialState's rows of the current forward came from (nil: zeros).
    var startState: [Tensor]? = nil
    /// Put before each weight's name; Bidirectional sets "forward_lstm/" and "backward_lstm/".
    var weightPrefix = ""
    /// Keras's zero_output_for_mask: masked steps output zeros instead of repeating the previous
    /// output (the state still carries). Bidirectional turns it on when returning sequences.
    var zeroOutputForMask = false
    var trainable = true
    private(set) var inputDim = 0
    /// Set by the model when this layer reads an Embedding directly (RowPlan's shared padding row).
    var inputFromEmbedding = false
    /// Set with inputFromEmbedding by the model: that Embedding, whose ids of the current pass let
    /// a forward-only pass look its input projection up (ProjectionTable).
    weak var embedding: Embedding?
    /// Shared with this layer's inference copies (Model.inferenceStacks).
    var projectionTable = ProjectionTable()
    var tableBuffer: FloatBuffer? = nil  // the table tableRows points into, held for the pass
    // The input projection of the current pass (InputProjection.swift):
    var inputProjection = InputProjection.full
    var tableRows: UnsafePointer<Float>? = nil  // the Embedding's projection table, when the pass looks it up
    var entryIds: [Int32] = []  // (T, B') then: the id behind each entry of xT
    /// For a cell that adds rows itself (addsProjectionItself), outside .table: z's input
    /// projection leaves the bias out and the cell adds it (biasRow), so that the projection is
    /// one GEMM writing z instead of a copy of the bias into every (T*B') row and a GEMM reading
    /// them back.
    var cellAddsBias = false
    private(set) var biasRow: UnsafePointer<Float>? = nil  // the bias then, during the step loop
    /// This pass's products of independent rows are lk_rows_gemm's (InputProjection.swift).
    var exactRows = false
    let stepProducts = FloatBuffer()  // (B', G*H) one step's recurrent product when productsApart
    let repeatedProjection = FloatBuffer()  // (B', G*H) a repeated input's projection (.repeatedRow)
    private(set) var unitSplit: UnitSplit? = nil  // for one-row forward-only passes, made on first use
    /// The row plan of the current batch.
    var plan = RowPlan()
    /// Internal rows B' (the input's rows, plus the shared padding row if there is one) and steps T.
    final var batch: Int { plan.batch }
    final var steps: Int { plan.steps }
    /// The internal row of the shared padding trajectory, if the plan has one.
    final var sharedRow: Int? { plan.sharedRow }
    /// (row, step) pairs the last backward skipped because their gradient had become zero.
    var deadPaddingSteps = 0

    // Saved by forward for backward and for the cells:
    let xT = FloatBuffer()        // (T, B', D) input; times the input dropout mask when one mask is shared
    let z = FloatBuffer()         // (T, B', G*H) preactivations (or a ring of steps, InputProjection), which the cell turns into its gates
    let hs = FloatBuffer()        // (T+1, B', H) hidden states, hs[0] = 0; (2, B', H) as a ring, see stateTimes
    private(set) var stepMask: [Float]? = nil  // (T, B') 1 = real step, 0 = masked
    let inMasks = FloatBuffer()   // (K, B, D) input dropout masks, K = maskGroups; empty = no dropout
    let recMasks = FloatBuffer()  // (K, B, H) recurrent dropout masks; empty = none
    private(set) var maskGroups = 1
    /// Backward's buffers (RecurrentGradients.swift).
    let grads = BackwardBuffers()
    /// (T, B', G*H) dL/d(input-side preactivation): z itself when the cell overwrites its saved
    /// gates with their gradients (gateGradsOverwriteZ), else a buffer of its own.
    final var dZ: FloatBuffer { gateGradsOverwriteZ ? z : grads.dZStore }
    let hm = FloatBuffer()          // (B, H) a state times a recurrent mask, per step
    var recurrentKernelT: UnsafePointer<Float>? = nil  // grads.kernelT where dh U^T reads it
    /// U^T, (G*H, H) row by row, from this batch's weights: valid from prepareBackward on.
    final var transposedRecurrentKernel: UnsafePointer<Float> { UnsafePointer(grads.kernelT.p) }
    let wide = FloatBuffer()        // (T*B, max(D, H)) masked copies for the input dropout GEMMs
    let kernel16 = BFloat16Copy()   // under mixed_bfloat16: the recurrent kernel, converted when it changes
    var recurrentKernel16: BFloat16Operand? = nil
    /// Every row reads the same vector at every step (a RepeatVector's output): the input
    /// projection and the kernel's gradient are computed once per row instead of once per step.
    private(set) var repeatedInput = false

    init(name: String, config: ConfigReader, gates: Int) throws {
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
        // Keras's own: implementation picks kernels (same results), seed its dropout draws
        // (the engine draws its own); unroll and the weight options are checked by ConfigReader.
        config.acceptWeightOptions(["kernel", "recurrent", "bias"])
        config.accept(["implementation", "seed", "unroll"])
        try config.requireDefault("time_major", { $0.boolValue == false }, "inputs are (batch, timesteps, features)")
        zeroOutputForMask = try config.bool("zero_output_for_mask", default: false)
        if zeroOutputForMask && !returnSequences {
            throw LSTMKitError(.badConfig, "\(name): 'zero_output_for_mask' = true is supported with return_sequences=true only")
        }
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
    /// buffer per layer and thread (tens of MB for the IMDB recipe). The driver
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

    /// The internal row whose forward values (gates, states) row i used at step s (RowPlan.savedRow).
    @inline(__always)
    final func savedRow(_ s: Int, _ i: Int) -> Int { plan.savedRow(s, i) }

    /// dR: the gradient that multiplies the recurrent kernel.
    final var dR: FloatBuffer { recurrentGradIsSeparate ? grads.dRSeparate : dZ }

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

    /// Up to this many rows, a forward-only float32 pass multiplies a step's states by the
    /// recurrent kernel with lk_rows_gemm: faster than BLAS there (OpenBLAS packs the kernel for
    /// one row; bench/NOTES-perf.md, sections 10 and 11), and each row's bits independent of
    /// the others, so a step of the padding plan's subset of a small batch, the shared padding
    /// row and a stream's one row compute alike. Above it oneDNN's blocked GEMM is faster.
    static let exactRecurrentRows = 16

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
            if exactRows && m <= RecurrentLayer.exactRecurrentRows && (beta == 0 || beta == 1) {
                lk_rows_gemm(m, cols.count, h, hPrev, h, U + cols.lowerBound, gh, nil, beta == 0 ? 0 : 1, dst, ldc)
                return
            }
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

    /// RowPlan.forEachRun over the current plan.
    final func forEachRun(_ body: (_ first: Int, _ count: Int, _ stride: Int) -> Void) { plan.forEachRun(body) }

    // ---- Layer ----

    var config: JSON {
        var c: [String: JSON] = ["name": .string(name), "units": .number(Double(units)),
                                 "return_sequences": .bool(returnSequences), "go_backwards": .bool(goBackwards),
                                 "dropout": .number(Double(dropout)),
                                 "recurrent_dropout": .number(Double(recurrentDropout)), "use_bias": true]
        for (k, v) in cellConfig { c[k] = v }
        if returnState { c["return_state"] = true }
        if stateful { c["stateful"] = true }
        if zeroOutputForMask { c["zero_output_for_mask"] = true }
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
        let b = x.shape[0], t = x.shape[1], h = units, gh = gateCount * h
        // The model checks that a stateful layer sees the same batch size every time.
        startState = initialState ?? (stateful && carriedBatch == b ? carriedState : nil)
        let dropoutDrawn = training && (dropout > 0 || recurrentDropout > 0)
        plan = RowPlan(x, features: inputDim, mask: mask, goBackwards: goBackwards, fromEmbedding: inputFromEmbedding,
                       skip: EngineSwitches.current.paddingSkip && !dropoutDrawn && startState == nil)
        let bi = batch   // internal rows
        let perm = plan.perm, active = plan.active
        layOutInput(x, training: training)
        defer { tableRows = nil; tableBuffer = nil; cellAddsBias = false; exactRows = false }
        stepMask = mask.map { m in
            var out = [Float](repeating: 0, count: t * bi)
            for s in 0..<t { for i in 0..<b { out[s * bi + i] = m[perm[i] * t + (goBackwards ? t - 1 - s : s)] } }
            return out
        }
        drawDropoutMasks(training: training, rng: &rng)
        repeatedInput = plan.runs == nil && t > 1 && (inMasks.count == 0 || maskGroups == 1)
            && EngineSwitches.current.shareRepeatedInput && stepsRepeat(x)
        let splitUnits = splitsUnits()
        prepareInputProjection(splitUnits: splitUnits)

        stateTimes = forwardOnly && !returnSequences && plan.runs == nil && stepMask == nil && t > 1 ? 2 : t + 1
        hs.resize(stateTimes * bi * h)
        hs.p.update(repeating: 0, count: bi * h)
        hm.resize(bi * h)
        prepareForward()
        if let start = startState {
            // no padding plan here (RowPlan), so internal row i is x's row i
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
            let ring = zRingSteps, sharedSteps = plan.sharedSteps
            for s in 0..<t {
                if ring > 0 && s % ring == 0 { projectRing(from: s) }
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
        if returnState || stateful || keepsFinalStates {
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
        guard let run = plan.runs?[i] else { return stateTime(s + 1) * batch + i }
        if s + 1 > run.upperBound { return run.upperBound * batch + i }
        if s + 1 <= run.lowerBound { return sharedRow.map { (s + 1) * batch + $0 } ?? i }
        return (s + 1) * batch + i
    }

    /// Whether this forward steps its units on two threads (UnitSplit): a one-row forward-only
    /// pass of a wide enough cell that can compute part of its units.
    private func splitsUnits() -> Bool {
        guard EngineSwitches.current.unitSplit && forwardOnly && supportsUnitSplit && batch == 1 && units >= UnitSplit.minUnits
                && recMasks.count == 0 && WorkerPool.shared.threads >= 2 else { return false }
        if unitSplit == nil { unitSplit = UnitSplit() }
        return unitSplit!.usable
    }

    /// The step loop of forward for the one row, its units split over two threads; false, having
    /// done nothing, when two threads are not free.
    private func stepSplittingUnits(_ t: Int) -> Bool {
        guard let split = unitSplit else { return false }
        let active = plan.active
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

    /// Set by the model before passes that backward will not follow (predict, evaluate): the
    /// input projection may then take a ring, a table or a repeated row (InputProjection) and the
    /// states a ring of two steps (stateTimes).
    var forwardOnly = false

    /// An Embedding's output is where runs of identical leading inputs are padding, the same id
    /// repeated, rather than a float series that happens to start flat (RowPlan shares their
    /// trajectory); its ids also let the input projection be looked up (ProjectionTable).
    /// The projection table is keyed by the weights' versions, which a copy shares while its
    /// weights equal the original's, so one table serves both.
    func shareDerivedData(with copy: Layer) {
        (copy as? RecurrentLayer)?.projectionTable = projectionTable
    }

    func prepareForward(backwardFollows: Bool, inputEmbedding: Embedding?) {
        forwardOnly = !backwardFollows
        inputFromEmbedding = inputEmbedding != nil
        embedding = inputEmbedding
    }

    /// The steps of states hs (and the cell's own) keeps: T+1, or 2 as a ring in a forward-only
    /// pass that reads only the last step's states (no sequences returned, no mask, no padding
    /// plan), where keeping them all streamed 2 (T+1, B, H) through the cache for nothing.
    private(set) var stateTimes = 0
    /// Where step s's states live in hs (and in the cell's own states).
    @inline(__always)
    final func stateTime(_ s: Int) -> Int { stateTimes == 2 ? s & 1 : s }

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
}
