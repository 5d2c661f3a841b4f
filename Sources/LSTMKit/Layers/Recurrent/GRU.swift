import CKernels

/// Keras's GRU: gate order z, r, h; kernel (D, 3H), recurrent_kernel (H, 3H); sigmoid recurrent
/// activation, tanh activation; h_t = z * h_{t-1} + (1 - z) * hh.
///
/// reset_after=True (Keras's default, cuDNN's convention): bias (2, 3H) holds an input bias and a
/// recurrent bias, and r scales the recurrent term: hh = tanh(x W_h + b_h + r * (h U_h + b_rh)).
/// reset_after=False: bias (3H), and r scales the state first: hh = tanh(x W_h + b_h + (r * h) U_h),
/// which needs a second GEMM per step after r is known.
final class GRU: RecurrentLayer {
    override var className: String { "GRU" }
    let resetAfter: Bool

    // Saved by forward (B = batch, T = steps, H = units); the activated z, r, hh live in z:
    private let inner = FloatBuffer()   // (B, 3H) h U + b_r of the current step (reset_after)
    private let innerH = FloatBuffer()  // (T, B, H) h U_h + b_rh, which r multiplies (reset_after)
    private let rh = FloatBuffer()      // (T, B, H) r * h (times its recurrent mask), U_h's input (reset_before)
    private let drh = FloatBuffer()     // (B, H) dL/d(r * h) of the current step (reset_before)

    init(name: String, config: ConfigReader) throws {
        resetAfter = try config.bool("reset_after", default: true)
        try super.init(name: name, config: config, gates: 3)
        let activation = try config.string("activation", default: "tanh")
        let recurrent = try config.string("recurrent_activation", default: "sigmoid")
        guard activation == "tanh", recurrent == "sigmoid" else {
            throw LSTMKitError(.badConfig, "\(name): only activation 'tanh' with recurrent_activation 'sigmoid' is supported")
        }
    }

    override var cellConfig: [String: JSON] {
        ["reset_after": .bool(resetAfter), "activation": "tanh", "recurrent_activation": "sigmoid"]
    }
    override var recurrentGradIsSeparate: Bool { resetAfter }
    override var genericRecurrentColumns: Int { resetAfter ? 3 * units : 2 * units }

    override func makeWeights(inputDim d: Int, rng: inout Rng) -> [(String, [Int], [Float])] {
        let h = units
        let kernel = glorotUniform(d, 3 * h, rng: &rng)
        let recurrent = orthogonal(rows: h, cols: 3 * h, rng: &rng)
        let biasShape = resetAfter ? [2, 3 * h] : [3 * h]
        return [("kernel", [d, 3 * h], kernel), ("recurrent_kernel", [h, 3 * h], recurrent),
                ("bias", biasShape, [Float](repeating: 0, count: biasShape.reduce(1, *)))]
    }

    override func prepareForward() {
        let b = batch, t = steps, h = units
        if resetAfter {
            inner.resize(b * 3 * h)
            innerH.resize(t * b * h)
        } else {
            rh.resize(t * b * h)
        }
    }

    override func forwardStep(_ s: Int, rows: Range<Int>, _ U: UnsafePointer<Float>) {
        let b = batch, h = units, g3 = 3 * h
        let zs = zStep(s)
        let hPrev = hs.p + stateTime(s) * b * h, hNext = hs.p + stateTime(s + 1) * b * h
        if resetAfter {
            params[2].withValue { bias in
                for i in rows { (inner.p + i * g3).update(from: bias.baseAddress! + g3, count: g3) }
            }
            addRecurrent(hPrev, step: s, rows: rows, cols: 0..<g3, into: inner.p, ldc: g3, U)
            for i in rows {
                if isMasked(s, i) { (hNext + i * h).update(from: hPrev + i * h, count: h); continue }
                lk_gru_forward(zs + i * g3, inner.p + i * g3, innerH.p + (s * b + i) * h, hPrev + i * h, hNext + i * h, h)
            }
        } else {
            addRecurrent(hPrev, step: s, rows: rows, cols: 0..<(2 * h), into: zs, ldc: g3, U)
            let mh = recurrentMask(column: 2 * h)
            for i in rows {
                let rhr = rh.p + (s * b + i) * h
                if isMasked(s, i) { rhr.update(repeating: 0, count: h); continue }
                let row = zs + i * g3, hp = hPrev + i * h
                sigmoidInPlace(row, 2 * h)
                if let mh { for j in 0..<h { rhr[j] = row[h + j] * hp[j] * mh[i * h + j] } }
                else { for j in 0..<h { rhr[j] = row[h + j] * hp[j] } }
            }
            let lo = rows.lowerBound
            if exactRows && rows.count <= RecurrentLayer.exactRecurrentRows {
                lk_rows_gemm(rows.count, h, h, rh.p + (s * b + lo) * h, h, U + 2 * h, g3, nil, 1, zs + lo * g3 + 2 * h, g3)
            } else {
                sgemm(m: rows.count, n: h, k: h, a: rh.p + (s * b + lo) * h, lda: h, b: U + 2 * h, ldb: g3, beta: 1,
                      c: zs + lo * g3 + 2 * h, ldc: g3)
            }
            for i in rows {
                if isMasked(s, i) { (hNext + i * h).update(from: hPrev + i * h, count: h); continue }
                lk_gru_output(zs + i * g3, hPrev + i * h, hNext + i * h, h)
            }
        }
    }

    override func prepareBackward() {
        if !resetAfter { drh.resize(batch * units) }
    }

    override func backwardStep(_ s: Int, rows: Range<Int>, dh: UnsafePointer<Float>, dhPrev: UnsafeMutablePointer<Float>, _ U: UnsafePointer<Float>) {
        let b = batch, h = units, g3 = 3 * h
        let hPrev = hs.p + s * b * h, dRp = dR.p
        for i in rows where !isMasked(s, i) {
            let r = s * b + i, v = savedRow(s, i)
            lk_gru_backward(z.p + (s * b + v) * g3, hPrev + v * h, dh + i * h, resetAfter ? innerH.p + (s * b + v) * h : nil,
                            dZ.p + r * g3, resetAfter ? dRp + r * g3 : nil, dhPrev + i * h, h)
        }
        guard !resetAfter else { return }
        // dL/d(r * h) needs the whole step's dZ_h first: one GEMM, then r's gradient from it.
        let lo = rows.lowerBound
        sgemm(transB: true, m: rows.count, n: h, k: h, a: dZ.p + (s * b + lo) * g3 + 2 * h, lda: g3, b: U + 2 * h, ldb: g3,
              beta: 0, c: drh.p + lo * h, ldc: h)
        let mh = recurrentMask(column: 2 * h)
        for i in rows where !isMasked(s, i) {
            let v = savedRow(s, i)
            let a = z.p + (s * b + v) * g3, dz = dZ.p + (s * b + i) * g3
            let hp = hPrev + v * h, d = drh.p + i * h, dpr = dhPrev + i * h
            for j in 0..<h {
                let r = a[h + j], m = mh?[i * h + j] ?? 1
                dz[h + j] = d[j] * hp[j] * m * r * (1 - r)
                dpr[j] += d[j] * r * m
            }
        }
    }

    override func finishBackward() {
        let h = units, g3 = 3 * h
        if resetAfter {
            params[2].grad.withUnsafeMutableBufferPointer { gb in
                forEachRun { first, count, stride in
                    for k in 0..<count {
                        let row = dR.p + (first + k * stride) * g3
                        for j in 0..<g3 { gb[g3 + j] += row[j] }
                    }
                }
            }
        } else {
            params[1].grad.withUnsafeMutableBufferPointer { gu in
                forEachRun { first, count, stride in
                    sgemm(transA: true, m: h, n: h, k: count, a: rh.p + first * h, lda: stride * h, b: dZ.p + first * g3 + 2 * h,
                          ldb: stride * g3, beta: 1, c: gu.baseAddress! + 2 * h, ldc: g3)
                }
            }
        }
    }
}
