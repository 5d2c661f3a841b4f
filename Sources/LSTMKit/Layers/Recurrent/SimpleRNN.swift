import CKernels

/// Keras's SimpleRNN: h_t = act(x W + h_{t-1} U + b); kernel (D, H), recurrent_kernel (H, H),
/// bias (H). Keras draws single dropout masks for it (no per-gate masks), as the driver does
/// with one gate.
final class SimpleRNN: RecurrentLayer {
    override var className: String { "SimpleRNN" }
    let activation: Activation

    init(name: String, config: ConfigReader) throws {
        activation = try Activation.parse(config.string("activation", default: "tanh"), layer: name)
        try super.init(name: name, config: config, gates: 1)
        guard activation != .softmax else {
            throw LSTMKitError(.badConfig, "\(name): activation 'softmax' is not supported in SimpleRNN")
        }
    }

    override var cellConfig: [String: JSON] { ["activation": .string(activation.rawValue)] }

    override func makeWeights(inputDim d: Int, rng: inout Rng) -> [(String, [Int], [Float])] {
        let h = units
        return [("kernel", [d, h], glorotUniform(d, h, rng: &rng)),
                ("recurrent_kernel", [h, h], orthogonal(rows: h, cols: h, rng: &rng)),
                ("bias", [h], [Float](repeating: 0, count: h))]
    }

    // z[s]: (B, H) preactivation, activated in place, which is also h_{s+1} for real steps.
    override func forwardStep(_ s: Int, rows: Range<Int>, _ U: UnsafePointer<Float>) {
        let b = batch, h = units
        let zs = zStep(s)
        let hPrev = hs.p + stateTime(s) * b * h, hNext = hs.p + stateTime(s + 1) * b * h
        addRecurrent(hPrev, step: s, rows: rows, cols: 0..<h, into: zs, ldc: h, U)
        for i in rows {
            if isMasked(s, i) { (hNext + i * h).update(from: hPrev + i * h, count: h); continue }
            let row = zs + i * h
            switch activation {
            case .tanh: tanhInPlace(row, h)
            case .sigmoid: sigmoidInPlace(row, h)
            case .relu: for j in 0..<h where row[j] < 0 { row[j] = 0 }
            case .linear, .softmax: break
            }
            (hNext + i * h).update(from: row, count: h)
        }
    }

    override func backwardStep(_ s: Int, rows: Range<Int>, dh: UnsafePointer<Float>, dhPrev: UnsafeMutablePointer<Float>, _ U: UnsafePointer<Float>) {
        let b = batch, h = units
        for i in rows where !isMasked(s, i) {
            let y = z.p + (s * b + savedRow(s, i)) * h, dz = dZ.p + (s * b + i) * h, d = dh + i * h
            switch activation {
            case .tanh: lk_activation_backward(0, y, d, dz, h)
            case .sigmoid: lk_activation_backward(1, y, d, dz, h)
            case .relu: for j in 0..<h { dz[j] = y[j] > 0 ? d[j] : 0 }
            case .linear, .softmax: dz.update(from: d, count: h)
            }
        }
    }
}
