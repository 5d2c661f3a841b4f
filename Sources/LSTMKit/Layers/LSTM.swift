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

    init(name: String, config: LayerConfig) throws {
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
        cs.resize((t + 1) * b * h)
        cs.p.update(repeating: 0, count: b * h)
        tanhC.resize(t * b * h)
    }

    override func forwardStep(_ s: Int, rows: Range<Int>, _ U: UnsafePointer<Float>) {
        let b = batch, h = units, g4 = 4 * h
        let zs = z.p + s * b * g4
        let hPrev = hs.p + s * b * h, hNext = hPrev + b * h
        let cPrev = cs.p + s * b * h, cNext = cPrev + b * h
        addRecurrent(hPrev, rows: rows, cols: 0..<g4, into: zs, ldc: g4, U)
        for i in rows {
            if isMasked(s, i) {
                (hNext + i * h).update(from: hPrev + i * h, count: h)
                (cNext + i * h).update(from: cPrev + i * h, count: h)
                continue
            }
            lk_lstm_forward(zs + i * g4, cPrev + i * h, cNext + i * h, tanhC.p + (s * b + i) * h, hNext + i * h, h)
        }
    }

    override var stateCount: Int { 2 }

    override func cellState(_ k: Int, time: Int, row: Int) -> UnsafeMutablePointer<Float> {
        cs.p + (time * batch + row) * units
    }

    override func cellStateGrad(_ k: Int, row: Int) -> UnsafeMutablePointer<Float> { dc.p + row * units }

    override func copyCellState(fromTime: Int, _ from: Int, toTime: Int, _ to: Int) {
        let b = batch, h = units
        (cs.p + (toTime * b + to) * h).update(from: cs.p + (fromTime * b + from) * h, count: h)
    }

    override func prepareBackward() {
        dc.resize(batch * units)
        dc.zero()
    }

    override func backwardStep(_ s: Int, rows: Range<Int>, dh: UnsafePointer<Float>, dhPrev: UnsafeMutablePointer<Float>, _ U: UnsafePointer<Float>) {
        let b = batch, h = units, g4 = 4 * h
        for i in rows where !isMasked(s, i) {   // a masked row's dc passes through unchanged
            let r = s * b + savedRow(s, i)
            lk_lstm_backward(z.p + r * g4, cs.p + r * h, tanhC.p + r * h, dh + i * h, dc.p + i * h, dZ.p + (s * b + i) * g4, h)
        }
    }
}

@inline(__always)
func resize(_ a: inout [Float], _ n: Int) {
    if a.count != n { a = [Float](repeating: 0, count: n) }
}
