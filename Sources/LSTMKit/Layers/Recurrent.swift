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
/// Dropout follows Keras 3: one mask per sequence, fixed over all steps. With recurrent_dropout
/// the cells run Keras's implementation 1, which draws one input mask and one recurrent mask per
/// gate (`dropoutMaskCount`); with dropout alone one input mask is shared by all gates.
class RecurrentLayer: Layer {
    let name: String
    var className: String { fatalError("RecurrentLayer is abstract") }
    let units: Int
    let returnSequences: Bool
    let goBackwards: Bool
    let dropout: Float
    let recurrentDropout: Float
    let gateCount: Int
    var params: [Param] = []
    /// Put before each weight's name; Bidirectional sets "forward_lstm/" and "backward_lstm/".
    var weightPrefix = ""
    /// Keras's zero_output_for_mask: masked steps output zeros instead of repeating the previous
    /// output (the state still carries). Bidirectional turns it on when returning sequences.
    var zeroOutputForMask = false
    private(set) var inputDim = 0
    private(set) var batch = 0, steps = 0

    // Saved by forward for backward and for the cells:
    let xT = FloatBuffer()        // (T, B, D) input; times the input dropout mask when one mask is shared
    let z = FloatBuffer()         // (T, B, G*H) preactivations, which the cell turns into its gates
    let hs = FloatBuffer()        // (T+1, B, H) hidden states, hs[0] = 0
    private(set) var stepMask: [Float]? = nil  // (T, B) 1 = real step, 0 = masked
    let inMasks = FloatBuffer()   // (K, B, D) input dropout masks, K = maskGroups; empty = no dropout
    let recMasks = FloatBuffer()  // (K, B, H) recurrent dropout masks; empty = none
    private(set) var maskGroups = 1
    // Backward:
    let dZ = FloatBuffer()        // (T, B, G*H) dL/d(input-side preactivation)
    private let dRSeparate = FloatBuffer()  // (T, B, G*H) dL/d(recurrent-side), when the cell says it differs
    private let hm = FloatBuffer()          // (B, H) a state times a recurrent mask, per step
    private let wide = FloatBuffer()        // (T*B, max(D, H)) masked copies for the gradient GEMMs

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
        for key in ["return_state", "stateful"] where try config.bool(key, default: false) {
            throw LSTMKitError(.badConfig, "\(name): \(key)=true is not supported in a Sequential model")
        }
    }

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
    /// Step s: add the recurrent term to z[s] (via addRecurrent), activate, write hs[s+1].
    func forwardStep(_ s: Int, _ U: UnsafePointer<Float>) { fatalError("abstract") }
    func prepareBackward() {}
    /// Step s: from dh (B, H), fill dZ[s] (and dR[s]) and add the non-GEMM paths to dhPrev (B, H).
    /// Masked rows are left alone: the driver passes their gradient on.
    func backwardStep(_ s: Int, dh: UnsafePointer<Float>, dhPrev: UnsafeMutablePointer<Float>, _ U: UnsafePointer<Float>) {
        fatalError("abstract")
    }
    /// Gradients the driver does not cover: the columns past genericRecurrentColumns, a recurrent bias.
    func finishBackward() {}

    // ---- helpers for the cells ----

    @inline(__always)
    final func isMasked(_ s: Int, _ i: Int) -> Bool {
        if let m = stepMask { return m[s * batch + i] == 0 }
        return false
    }

    /// dR: the gradient that multiplies the recurrent kernel.
    final var dR: FloatBuffer { recurrentGradIsSeparate ? dRSeparate : dZ }

    /// The recurrent dropout mask (B, H) of the gate owning column `col`, or nil.
    final func recurrentMask(column col: Int) -> UnsafeMutablePointer<Float>? {
        if recMasks.count == 0 { return nil }
        return recMasks.p + (maskGroups == 1 ? 0 : col / units) * batch * units
    }

    /// dst[:, cols] += (hPrev times the gate's recurrent mask) U[:, cols], over B rows; dst points
    /// at column cols.lowerBound of row 0.
    final func addRecurrent(_ hPrev: UnsafePointer<Float>, cols: Range<Int>, into dst: UnsafeMutablePointer<Float>,
                            ldc: Int, _ U: UnsafePointer<Float>) {
        let b = batch, h = units, gh = gateCount * h
        guard recMasks.count > 0 else {
            sgemm(m: b, n: cols.count, k: h, a: hPrev, lda: h, b: U + cols.lowerBound, ldb: gh, beta: 1, c: dst, ldc: ldc)
            return
        }
        var c = cols.lowerBound
        while c < cols.upperBound {
            let end = maskGroups == 1 ? cols.upperBound : min(cols.upperBound, (c / h + 1) * h)
            multiplyRows(hPrev, by: recurrentMask(column: c)!, into: hm.p, steps: 1, batch: b, width: h)
            sgemm(m: b, n: end - c, k: h, a: hm.p, lda: h, b: U + c, ldb: gh, beta: 1,
                  c: dst + (c - cols.lowerBound), ldc: ldc)
            c = end
        }
    }

    /// dhPrev += dR[:, cols] U[:, cols]^T, each gate's part times its recurrent mask.
    final func addRecurrentGrad(_ dRs: UnsafePointer<Float>, cols: Range<Int>, into dhPrev: UnsafeMutablePointer<Float>,
                                _ U: UnsafePointer<Float>) {
        let b = batch, h = units, gh = gateCount * h
        if cols.isEmpty { return }
        guard recMasks.count > 0 else {
            sgemm(transB: true, m: b, n: h, k: cols.count, a: dRs + cols.lowerBound, lda: gh,
                  b: U + cols.lowerBound, ldb: gh, beta: 1, c: dhPrev, ldc: h)
            return
        }
        var c = cols.lowerBound
        while c < cols.upperBound {
            let end = maskGroups == 1 ? cols.upperBound : min(cols.upperBound, (c / h + 1) * h)
            sgemm(transB: true, m: b, n: h, k: end - c, a: dRs + c, lda: gh, b: U + c, ldb: gh,
                  beta: 0, c: hm.p, ldc: h)
            let m = recurrentMask(column: c)!
            for i in 0..<(b * h) { dhPrev[i] += hm.p[i] * m[i] }
            c = end
        }
    }

    // ---- Layer ----

    var config: JSON {
        var c: [String: JSON] = ["name": .string(name), "units": .number(Double(units)),
                                 "return_sequences": .bool(returnSequences), "go_backwards": .bool(goBackwards),
                                 "dropout": .number(Double(dropout)),
                                 "recurrent_dropout": .number(Double(recurrentDropout)), "use_bias": true]
        for (k, v) in cellConfig { c[k] = v }
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

    func build(input: FeatureShape, rng: inout Rng) throws {
        if isBuilt { return }
        _ = try outputShape(for: input)
        inputDim = input[1]!
        params = makeWeights(inputDim: inputDim, rng: &rng).map { Param(weightPrefix + $0.0, $0.1, $0.2) }
    }

    // x: (B, T, D)  mask: (B, T) or nil  ->  (B, T, H) in processing order if returnSequences, else (B, H)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let b = x.shape[0], t = x.shape[1], d = inputDim, h = units, gh = gateCount * h
        batch = b; steps = t
        xT.resize(t * b * d)
        x.data.withUnsafeBufferPointer { xp in
            for s in 0..<t {
                let src = goBackwards ? t - 1 - s : s
                for i in 0..<b { (xT.p + (s * b + i) * d).update(from: xp.baseAddress! + (i * t + src) * d, count: d) }
            }
        }
        stepMask = mask.map { m in
            var out = [Float](repeating: 0, count: t * b)
            for s in 0..<t { for i in 0..<b { out[s * b + i] = m[i * t + (goBackwards ? t - 1 - s : s)] } }
            return out
        }
        drawDropoutMasks(training: training, rng: &rng)

        // Input projection of all steps: bias rows, then x W, one GEMM per input mask.
        z.resize(t * b * gh)
        params[2].value.withUnsafeBufferPointer { bias in
            for r in 0..<(t * b) { (z.p + r * gh).update(from: bias.baseAddress!, count: gh) }
        }
        params[0].value.withUnsafeBufferPointer { wp in
            let W = wp.baseAddress!
            if inMasks.count > 0 && maskGroups == 1 {
                multiplyRows(xT.p, by: inMasks.p, into: xT.p, steps: t, batch: b, width: d)
            }
            if inMasks.count == 0 || maskGroups == 1 {
                sgemm(m: t * b, n: gh, k: d, a: xT.p, lda: d, b: W, ldb: gh, beta: 1, c: z.p, ldc: gh)
            } else {
                wide.resize(t * b * d)
                for k in 0..<gateCount {
                    multiplyRows(xT.p, by: inMasks.p + k * b * d, into: wide.p, steps: t, batch: b, width: d)
                    sgemm(m: t * b, n: h, k: d, a: wide.p, lda: d, b: W + k * h, ldb: gh, beta: 1, c: z.p + k * h, ldc: gh)
                }
            }
        }

        hs.resize((t + 1) * b * h)
        hs.p.update(repeating: 0, count: b * h)
        hm.resize(b * h)
        prepareForward()
        params[1].value.withUnsafeBufferPointer { up in
            for s in 0..<t { forwardStep(s, up.baseAddress!) }
        }

        var y: Tensor
        if returnSequences {
            y = Tensor(zeros: [b, t, h])
            y.data.withUnsafeMutableBufferPointer { swapLeadingAxes(hs.p + b * h, $0.baseAddress!, t, b, h) }
            if zeroOutputForMask, let m = stepMask {
                for s in 0..<t { for i in 0..<b where m[s * b + i] == 0 { for j in 0..<h { y.data[(i * t + s) * h + j] = 0 } } }
            }
        } else {
            y = Tensor(shape: [b, h], data: Array(UnsafeBufferPointer(start: hs.p + t * b * h, count: b * h)))
        }
        // Keras passes the input mask on unchanged, also with go_backwards.
        return (y, returnSequences ? mask : nil)
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
        let b = batch, t = steps, d = inputDim, h = units, gh = gateCount * h
        dZ.resize(t * b * gh)
        dZ.zero()
        if recurrentGradIsSeparate { dRSeparate.resize(t * b * gh); dRSeparate.zero() }
        var dh = [Float](repeating: 0, count: b * h)       // dL/dh_s for the step being processed
        var dhPrev = [Float](repeating: 0, count: b * h)   // what flows into step s-1
        if !returnSequences { for i in 0..<(b * h) { dhPrev[i] = dy.data[i] } }
        prepareBackward()

        params[1].value.withUnsafeBufferPointer { up in
        dy.data.withUnsafeBufferPointer { dyp in
        dh.withUnsafeMutableBufferPointer { dhp in
        dhPrev.withUnsafeMutableBufferPointer { dpp in
            let U = up.baseAddress!, dhs = dhp.baseAddress!, dprev = dpp.baseAddress!
            for s in stride(from: t - 1, through: 0, by: -1) {
                dhs.update(from: dprev, count: b * h)
                if returnSequences {
                    // dy is batch-major in processing order
                    for i in 0..<b where !(zeroOutputForMask && isMasked(s, i)) {
                        let src = dyp.baseAddress! + (i * t + s) * h, dst = dhs + i * h
                        for j in 0..<h { dst[j] += src[j] }
                    }
                }
                dprev.update(repeating: 0, count: b * h)
                backwardStep(s, dh: dhs, dhPrev: dprev, U)
                addRecurrentGrad(dR.p + s * b * gh, cols: 0..<genericRecurrentColumns, into: dprev, U)
                if let m = stepMask {
                    // masked rows carried h unchanged, so their gradient carries on unchanged too
                    for i in 0..<b where m[s * b + i] == 0 {
                        for j in 0..<h { dprev[i * h + j] += dhs[i * h + j] }
                    }
                }
            }
        }}}}

        // Weight gradients as GEMMs over all (T*B) rows.
        params[0].grad.withUnsafeMutableBufferPointer { gw in
            if inMasks.count == 0 || maskGroups == 1 {
                sgemm(transA: true, m: d, n: gh, k: t * b, a: xT.p, lda: d, b: dZ.p, ldb: gh, beta: 1,
                      c: gw.baseAddress!, ldc: gh)
            } else {
                wide.resize(t * b * max(d, h))
                for k in 0..<gateCount {
                    multiplyRows(xT.p, by: inMasks.p + k * b * d, into: wide.p, steps: t, batch: b, width: d)
                    sgemm(transA: true, m: d, n: h, k: t * b, a: wide.p, lda: d, b: dZ.p + k * h, ldb: gh,
                          beta: 1, c: gw.baseAddress! + k * h, ldc: gh)
                }
            }
        }
        params[1].grad.withUnsafeMutableBufferPointer { gu in
            let cols = genericRecurrentColumns
            if recMasks.count == 0 {
                sgemm(transA: true, m: h, n: cols, k: t * b, a: hs.p, lda: h, b: dR.p, ldb: gh, beta: 1,
                      c: gu.baseAddress!, ldc: gh)
            } else {
                wide.resize(t * b * max(d, h))
                var c = 0
                while c < cols {
                    let end = maskGroups == 1 ? cols : min(cols, (c / h + 1) * h)
                    multiplyRows(hs.p, by: recurrentMask(column: c)!, into: wide.p, steps: t, batch: b, width: h)
                    sgemm(transA: true, m: h, n: end - c, k: t * b, a: wide.p, lda: h, b: dR.p + c, ldb: gh,
                          beta: 1, c: gu.baseAddress! + c, ldc: gh)
                    c = end
                }
            }
        }
        params[2].grad.withUnsafeMutableBufferPointer { gb in
            for r in 0..<(t * b) {
                let row = dZ.p + r * gh
                for j in 0..<gh { gb[j] += row[j] }
            }
        }
        finishBackward()

        // dx = dZ W^T (times the input masks), back to batch-major and timestep order.
        let dxT = FloatBuffer()
        dxT.resize(t * b * d)
        params[0].value.withUnsafeBufferPointer { wp in
            let W = wp.baseAddress!
            if inMasks.count == 0 || maskGroups == 1 {
                sgemm(transB: true, m: t * b, n: d, k: gh, a: dZ.p, lda: gh, b: W, ldb: gh, beta: 0, c: dxT.p, ldc: d)
                if inMasks.count > 0 { multiplyRows(dxT.p, by: inMasks.p, into: dxT.p, steps: t, batch: b, width: d) }
            } else {
                dxT.zero()
                wide.resize(t * b * max(d, h))
                for k in 0..<gateCount {
                    sgemm(transB: true, m: t * b, n: d, k: h, a: dZ.p + k * h, lda: gh, b: W + k * h, ldb: gh,
                          beta: 0, c: wide.p, ldc: d)
                    let m = inMasks.p + k * b * d
                    for r in 0..<(t * b) {
                        let mr = m + (r % b) * d, src = wide.p + r * d, dst = dxT.p + r * d
                        for j in 0..<d { dst[j] += src[j] * mr[j] }
                    }
                }
            }
        }
        var dx = Tensor(zeros: [b, t, d])
        dx.data.withUnsafeMutableBufferPointer { dxp in
            for s in 0..<t {
                let dst = goBackwards ? t - 1 - s : s
                for i in 0..<b { (dxp.baseAddress! + (i * t + dst) * d).update(from: dxT.p + (s * b + i) * d, count: d) }
            }
        }
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

/// A reusable heap buffer of Floats. The recurrent loops address many buffers at once by raw
/// pointer; holding them here saves a closure per array around every loop.
final class FloatBuffer {
    private(set) var p: UnsafeMutablePointer<Float>
    private var capacity: Int
    private(set) var count = 0

    init() {
        capacity = 1
        p = .allocate(capacity: 1)
        p.initialize(to: 0)
    }
    deinit { p.deallocate() }

    /// Sets the size, reallocating only to grow; the contents are unspecified afterwards.
    func resize(_ n: Int) {
        if n > capacity {
            p.deallocate()
            p = .allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            capacity = n
        }
        count = n
    }

    func zero() { p.update(repeating: 0, count: count) }
}
