import CKernels

/// Keras's LSTM: gate order i, f, c, o; kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H);
/// sigmoid recurrent activation and tanh activation. The sequence plumbing (time-major layout,
/// masks, go_backwards, dropout, weight gradients) is RecurrentLayer's; this file is the cell.
final class LSTM: RecurrentLayer {
    override var className: String { "LSTM" }
    let unitForgetBias: Bool

    // Saved by forward (B = batch, T = steps, H = units); the activated gates i, f, g, o live in z:
    private let cs = FloatBuffer()      // (T+1, B, H) cell states, cs[0] = 0
    private let tanhC = FloatBuffer()   // (T, B, H) tanh of the new cell state
    private let dc = FloatBuffer()      // (B, H) dL/dc carried backwards
    // The shared padding backward (backwardSharedPadding):
    private let v = FloatBuffer()       // (4H, H+D) [U^T | W^T], one row per gate column
    private let m = FloatBuffer()       // (2H, H+D) the step's map from [dc~, dh] to [dh_prev | dx]
    private let coef = FloatBuffer()    // (6, H) the step's diagonal factors
    private let padX = FloatBuffer()    // (B, 2H) the padding rows' [dc~, dh]
    private let sums = FloatBuffer()    // (2, H) their sums

    init(name: String, config: ConfigReader) throws {
        unitForgetBias = try config.bool("unit_forget_bias", default: true)
        try super.init(name: name, config: config, gates: 4)
        let activation = try config.string("activation", default: "tanh")
        let recurrent = try config.string("recurrent_activation", default: "sigmoid")
        guard activation == "tanh", recurrent == "sigmoid" else {
            throw LSTMKitError(.badConfig, "\(name): only activation 'tanh' with recurrent_activation 'sigmoid' is supported")
        }
    }

    override var cellConfig: [String: JSON] {
        ["unit_forget_bias": .bool(unitForgetBias), "activation": "tanh", "recurrent_activation": "sigmoid"]
    }

    override func makeWeights(inputDim d: Int, rng: inout Rng) -> [(String, [Int], [Float])] {
        let h = units
        let kernel = glorotUniform(d, 4 * h, rng: &rng)
        let recurrent = orthogonal(rows: h, cols: 4 * h, rng: &rng)
        var bias = [Float](repeating: 0, count: 4 * h)
        if unitForgetBias { for j in h..<(2 * h) { bias[j] = 1 } }
        return [("kernel", [d, 4 * h], kernel), ("recurrent_kernel", [h, 4 * h], recurrent), ("bias", [4 * h], bias)]
    }

    override func prepareForward() {
        let b = batch, t = steps, h = units
        cs.resize(stateTimes * b * h)
        cs.p.update(repeating: 0, count: b * h)
        tanhC.resize(t * b * h)
    }

    override func forwardStep(_ s: Int, rows: Range<Int>, _ U: UnsafePointer<Float>) {
        let b = batch, h = units, g4 = 4 * h
        let zs = zStep(s)
        let hPrev = hs.p + stateTime(s) * b * h, hNext = hs.p + stateTime(s + 1) * b * h
        let cPrev = cs.p + stateTime(s) * b * h, cNext = cs.p + stateTime(s + 1) * b * h
        let adds = cellAddsProjection
        // the recurrent product, plus the projection row the cell adds (or the bias, or neither)
        let products = productsApart ? stepProducts.p : zs
        addRecurrent(hPrev, step: s, rows: rows, cols: 0..<g4, into: products, ldc: g4, U, beta: adds ? 0 : 1)
        for i in rows {
            if isMasked(s, i) {
                (hNext + i * h).update(from: hPrev + i * h, count: h)
                (cNext + i * h).update(from: cPrev + i * h, count: h)
                continue
            }
            let add = adds ? projectionRow(s, i) : biasRow
            if forwardOnly {
                // no backward follows: neither the gates nor tanh(c) are kept
                lk_lstm_forward_only(products + i * g4, add, cPrev + i * h, cNext + i * h, hNext + i * h, h)
            } else {
                lk_lstm_forward(products + i * g4, add, cPrev + i * h, cNext + i * h, tanhC.p + (s * b + i) * h, hNext + i * h, h)
            }
        }
    }

    override var addsProjectionItself: Bool { true }

    override var supportsUnitSplit: Bool { true }

    override func forwardStepUnits(_ s: Int, row i: Int, slice: Range<Int>, kernel: UnsafePointer<Float>,
                                   gates q: UnsafeMutablePointer<Float>, roundedState: UnsafeMutablePointer<Float>?) {
        let b = batch, h = units, n = slice.count, u0 = slice.lowerBound
        let hPrev = hs.p + (stateTime(s) * b + i) * h, hNext = hs.p + (stateTime(s + 1) * b + i) * h
        let cPrev = cs.p + (stateTime(s) * b + i) * h, cNext = cs.p + (stateTime(s + 1) * b + i) * h
        if isMasked(s, i) {
            (hNext + u0).update(from: hPrev + u0, count: n)
            (cNext + u0).update(from: cPrev + u0, count: n)
            return
        }
        if stateIsZero(before: s) {
            q.update(repeating: 0, count: 4 * n)
        } else {
            var a = UnsafePointer(hPrev)
            if let copy = roundedState {
                lk_bf16_round(hPrev, copy, h)
                a = UnsafePointer(copy)
            }
            if exactRows && roundedState == nil {
                // the bits of the whole row's product (Driver.addRecurrent): each column's sum alone
                lk_rows_gemm(1, 4 * n, h, a, h, kernel, 4 * n, nil, 0, q, 4 * n)
            } else {
                sgemm(m: 1, n: 4 * n, k: h, a: a, lda: h, b: kernel, ldb: 4 * n, beta: 0, c: q, ldc: 4 * n)
            }
        }
        // the row's projection, then the bias where the cell adds it, in forwardStep's order
        lk_lstm_forward_only_units(q, zStep(s) + i * 4 * h + u0, biasRow.map { $0 + u0 }, h, cPrev + u0, cNext + u0,
                                   hNext + u0, n)
    }

    override var stateCount: Int { 2 }

    override func cellState(_ k: Int, time: Int, row: Int) -> UnsafeMutablePointer<Float> {
        cs.p + (time * batch + row) * units
    }

    override func cellStateGrad(_ k: Int, row: Int) -> UnsafeMutablePointer<Float> { dc.p + row * units }

    override func prepareBackward() {
        dc.resize(batch * units)
        dc.zero()
        if sharedRow != nil {
            // [U^T | W^T] for backwardSharedPadding, from this batch's weights
            let h = units, d = inputDim, g4 = 4 * h, w = h + d
            v.resize(g4 * w); m.resize(2 * h * w); coef.resize(6 * h); sums.resize(2 * h); padX.resize(batch * 2 * h)
            let uT = transposedRecurrentKernel
            params[0].withValue { wp in
                for c in 0..<g4 {
                    let row = v.p + c * w
                    row.update(from: uT + c * h, count: h)
                    for k in 0..<d { row[h + k] = wp[k * g4 + c] }
                }
            }
        }
    }

    override var hasSharedPaddingBackward: Bool { true }
    override var gateGradsOverwriteZ: Bool { true }

    /// Rows in their padding all read the shared row's gates at step s, so their backward is one
    /// linear map of [dc~, dh] (dc~ = dc + dh*o*(1-tanh(c)^2)), the same for every row: with
    /// dz = [dc~*a_i, dc~*a_f, dc~*a_g, dh*a_o] for the step's diagonal factors a,
    /// dh_prev = dz U^T and dx = dz W^T become [dc~, dh] M with M (2H, H+D) built once per step
    /// from U^T and W^T. Per row that is 2H*(H+D) multiply-adds instead of 4H*(H+D), and no dz is
    /// stored: the weight gradients need only the rows' sum, which is the factors times the sums
    /// of dc~ and dh.
    override func backwardSharedPadding(_ s: Int, rows: Range<Int>, shared sh: Int, dh: UnsafePointer<Float>,
                                        dhPrev: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let b = batch, h = units, d = inputDim, g4 = 4 * h, w = h + d, n = rows.count
        let r = s * b + sh
        let a = z.p + r * g4, cPrev = cs.p + r * h, tc = tanhC.p + r * h
        let kb = coef.p, ki = kb + h, kf = ki + h, kg = kf + h, ko = kg + h, fg = ko + h
        for k in 0..<h {
            let i = a[k], f = a[h + k], g = a[2 * h + k], o = a[3 * h + k], t = tc[k]
            kb[k] = o * (1 - t * t)
            ki[k] = g * i * (1 - i)
            kf[k] = cPrev[k] * f * (1 - f)
            kg[k] = i * (1 - g * g)
            ko[k] = t * o * (1 - o)
            fg[k] = f
        }
        lk_lstm_padding_map(v.p, coef.p, m.p, h, w)
        sums.zero()
        for (q, i) in rows.enumerated() {
            lk_lstm_padding_row(dh + i * h, dc.p + i * h, coef.p, padX.p + q * 2 * h, sums.p, h)
        }
        sgemm(m: n, n: h, k: 2 * h, a: padX.p, lda: 2 * h, b: m.p, ldb: w, beta: 1, c: dhPrev + rows.lowerBound * h, ldc: h)
        sgemm(m: n, n: d, k: 2 * h, a: padX.p, lda: 2 * h, b: m.p + h, ldb: w, beta: 0, c: dx + rows.lowerBound * d, ldc: d)
        let dzs = dZ.p + (s * b + sh) * g4, sumC = sums.p, sumH = sums.p + h
        for k in 0..<h {
            dzs[k] = ki[k] * sumC[k]
            dzs[h + k] = kf[k] * sumC[k]
            dzs[2 * h + k] = kg[k] * sumC[k]
            dzs[3 * h + k] = ko[k] * sumH[k]
        }
    }

    override func backwardStep(_ s: Int, rows: Range<Int>, dh: UnsafePointer<Float>, dhPrev: UnsafeMutablePointer<Float>, _ U: UnsafePointer<Float>) {
        let b = batch, h = units, g4 = 4 * h
        for i in rows where !isMasked(s, i) {   // a masked row's dc passes through unchanged
            let r = s * b + savedRow(s, i), at = s * b + i
            if r == at {
                lk_lstm_backward_inplace(z.p + r * g4, cs.p + r * h, tanhC.p + r * h, dh + i * h, dc.p + i * h, h)
            } else {
                lk_lstm_backward(z.p + r * g4, cs.p + r * h, tanhC.p + r * h, dh + i * h, dc.p + i * h, dZ.p + at * g4, h)
            }
        }
    }
}

@inline(__always)
func resize(_ a: inout [Float], _ n: Int) {
    if a.count != n { a = [Float](repeating: 0, count: n) }
}
