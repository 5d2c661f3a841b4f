/// Keras's LSTM: gate order i, f, c, o; kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H);
/// sigmoid recurrent activation and tanh activation. Internally time-major, so each step's rows
/// are contiguous: the input projection of all steps is one GEMM, each step adds one recurrent
/// GEMM, and the weight gradients are single GEMMs over all steps.
///
/// A masked step (mask 0) keeps the previous h and c and repeats the previous output, as Keras
/// does; no gradient flows through its gates.
final class LSTM: Layer {
    let name: String
    var className: String { "LSTM" }
    let units: Int
    let returnSequences: Bool
    let unitForgetBias: Bool
    private(set) var params: [Param] = []
    private var inputDim = 0

    // Saved by forward for backward (B = batch, T = steps, D = input, H = units):
    private var xT: [Float] = []        // (T, B, D) input, time-major
    private var gates: [Float] = []     // (T, B, 4H) activated gates i, f, g, o
    private var hs: [Float] = []        // (T+1, B, H) hidden states, hs[0] = initial state
    private var cs: [Float] = []        // (T+1, B, H) cell states
    private var tanhC: [Float] = []     // (T, B, H) tanh of the new cell state
    private var stepMask: [Float]? = nil // (T, B) 1 = real step, 0 = masked
    private var batch = 0, steps = 0

    init(name: String, config: LayerConfig) throws {
        self.name = name
        units = try config.int("units", max: 1 << 14)
        returnSequences = try config.bool("return_sequences", default: false)
        unitForgetBias = try config.bool("unit_forget_bias", default: true)
        let activation = try config.string("activation", default: "tanh")
        let recurrent = try config.string("recurrent_activation", default: "sigmoid")
        guard activation == "tanh", recurrent == "sigmoid" else {
            throw LSTMKitError(.badConfig, "\(name): only activation 'tanh' with recurrent_activation 'sigmoid' is supported")
        }
        guard try config.bool("use_bias", default: true) else {
            throw LSTMKitError(.badConfig, "\(name): use_bias=false is not supported")
        }
        for key in ["dropout", "recurrent_dropout"] where try config.float(key, default: 0) != 0 {
            throw LSTMKitError(.badConfig, "\(name): \(key) is not supported yet")
        }
    }

    var config: JSON {
        .object(["name": .string(name), "units": .number(Double(units)),
                 "return_sequences": .bool(returnSequences), "unit_forget_bias": .bool(unitForgetBias),
                 "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true])
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
        let d = input[1]!, h = units
        inputDim = d
        let kernel = glorotUniform(d, 4 * h, rng: &rng)
        let recurrent = orthogonal(rows: h, cols: 4 * h, rng: &rng)
        var bias = [Float](repeating: 0, count: 4 * h)
        if unitForgetBias { for j in h..<(2 * h) { bias[j] = 1 } }
        params = [Param("kernel", [d, 4 * h], kernel),
                  Param("recurrent_kernel", [h, 4 * h], recurrent),
                  Param("bias", [4 * h], bias)]
    }

    // x: (B, T, D)  mask: (B, T) or nil  ->  (B, T, H) if returnSequences else (B, H)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let b = x.shape[0], t = x.shape[1], d = inputDim, h = units, g4 = 4 * h
        batch = b; steps = t
        resize(&xT, t * b * d)
        resize(&gates, t * b * g4)
        resize(&hs, (t + 1) * b * h)
        resize(&cs, (t + 1) * b * h)
        resize(&tanhC, t * b * h)
        if let mask {
            var m = [Float](repeating: 0, count: t * b)
            for i in 0..<b { for s in 0..<t { m[s * b + i] = mask[i * t + s] } }
            stepMask = m
        } else {
            stepMask = nil
        }

        x.data.withUnsafeBufferPointer { xp in
            xT.withUnsafeMutableBufferPointer { swapLeadingAxes(xp.baseAddress!, $0.baseAddress!, b, t, d) }
        }
        let W = params[0].value, U = params[1].value, bias = params[2].value
        xT.withUnsafeBufferPointer { xp in
        W.withUnsafeBufferPointer { wp in
        U.withUnsafeBufferPointer { up in
        gates.withUnsafeMutableBufferPointer { zp in
        hs.withUnsafeMutableBufferPointer { hp in
        cs.withUnsafeMutableBufferPointer { cp in
        tanhC.withUnsafeMutableBufferPointer { tcp in
            let z = zp.baseAddress!, hsp = hp.baseAddress!, csp = cp.baseAddress!, tc = tcp.baseAddress!
            for r in 0..<(t * b) { (z + r * g4).update(from: bias, count: g4) }
            sgemm(m: t * b, n: g4, k: d, a: xp.baseAddress!, lda: d, b: wp.baseAddress!, ldb: g4,
                  beta: 1, c: z, ldc: g4)
            hsp.update(repeating: 0, count: b * h)
            csp.update(repeating: 0, count: b * h)
            for s in 0..<t {
                let zs = z + s * b * g4
                let hPrev = hsp + s * b * h, hNext = hPrev + b * h
                let cPrev = csp + s * b * h, cNext = cPrev + b * h
                sgemm(m: b, n: g4, k: h, a: hPrev, lda: h, b: up.baseAddress!, ldb: g4, beta: 1, c: zs, ldc: g4)
                for i in 0..<b {
                    let row = zs + i * g4
                    if let m = stepMask, m[s * b + i] == 0 {
                        (hNext + i * h).update(from: hPrev + i * h, count: h)
                        (cNext + i * h).update(from: cPrev + i * h, count: h)
                        continue
                    }
                    sigmoidInPlace(row, 2 * h)
                    tanhInPlace(row + 2 * h, h)
                    sigmoidInPlace(row + 3 * h, h)
                    let cp0 = cPrev + i * h, cn = cNext + i * h, hn = hNext + i * h, tcr = tc + (s * b + i) * h
                    for j in 0..<h {
                        cn[j] = row[h + j] * cp0[j] + row[j] * row[2 * h + j]
                    }
                    tcr.update(from: cn, count: h)
                    tanhInPlace(tcr, h)
                    for j in 0..<h { hn[j] = row[3 * h + j] * tcr[j] }
                }
            }
        }}}}}}}

        var y: Tensor
        if returnSequences {
            y = Tensor(zeros: [b, t, h])
            hs.withUnsafeBufferPointer { hp in
                y.data.withUnsafeMutableBufferPointer { swapLeadingAxes(hp.baseAddress! + b * h, $0.baseAddress!, t, b, h) }
            }
        } else {
            y = Tensor(shape: [b, h], data: Array(hs[(t * b * h)..<((t + 1) * b * h)]))
        }
        return (y, returnSequences ? mask : nil)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let b = batch, t = steps, d = inputDim, h = units, g4 = 4 * h
        var dyT: [Float] = []
        if returnSequences {
            dyT = [Float](repeating: 0, count: t * b * h)
            dy.data.withUnsafeBufferPointer { src in
                dyT.withUnsafeMutableBufferPointer { swapLeadingAxes(src.baseAddress!, $0.baseAddress!, b, t, h) }
            }
        }
        var dZ = [Float](repeating: 0, count: t * b * g4)
        var dh = [Float](repeating: 0, count: b * h)       // dL/dh_s for the step being processed
        var dhNext = [Float](repeating: 0, count: b * h)   // recurrent part flowing into step s-1
        var dc = [Float](repeating: 0, count: b * h)       // dL/dc carried backwards
        let U = params[1].value
        if !returnSequences { for i in 0..<(b * h) { dhNext[i] = dy.data[i] } }

        gates.withUnsafeBufferPointer { gp in
        cs.withUnsafeBufferPointer { cp in
        tanhC.withUnsafeBufferPointer { tcp in
        dZ.withUnsafeMutableBufferPointer { dzp in
        U.withUnsafeBufferPointer { up in
            for s in stride(from: t - 1, through: 0, by: -1) {
                for i in 0..<(b * h) { dh[i] = dhNext[i] }
                if returnSequences { for i in 0..<(b * h) { dh[i] += dyT[s * b * h + i] } }
                for i in 0..<b {
                    if let m = stepMask, m[s * b + i] == 0 { continue }   // dZ row stays 0, dc passes through
                    let a = gp.baseAddress! + (s * b + i) * g4
                    let dz = dzp.baseAddress! + (s * b + i) * g4
                    let cPrev = cp.baseAddress! + (s * b + i) * h
                    let tc = tcp.baseAddress! + (s * b + i) * h
                    for j in 0..<h {
                        let ig = a[j], fg = a[h + j], gg = a[2 * h + j], og = a[3 * h + j]
                        let dhj = dh[i * h + j]
                        let tcj = tc[j]
                        let dcj = dc[i * h + j] + dhj * og * (1 - tcj * tcj)
                        dz[j] = dcj * gg * ig * (1 - ig)
                        dz[h + j] = dcj * cPrev[j] * fg * (1 - fg)
                        dz[2 * h + j] = dcj * ig * (1 - gg * gg)
                        dz[3 * h + j] = dhj * tcj * og * (1 - og)
                        dc[i * h + j] = dcj * fg
                    }
                }
                dhNext.withUnsafeMutableBufferPointer { dn in
                    sgemm(transB: true, m: b, n: h, k: g4, a: dzp.baseAddress! + s * b * g4, lda: g4,
                          b: up.baseAddress!, ldb: g4, beta: 0, c: dn.baseAddress!, ldc: h)
                }
                if let m = stepMask {
                    // masked rows carried h unchanged, so their gradient carries on unchanged too
                    for i in 0..<b where m[s * b + i] == 0 {
                        for j in 0..<h { dhNext[i * h + j] += dh[i * h + j] }
                    }
                }
            }
        }}}}}

        // Weight gradients as single GEMMs over all (T*B) rows.
        xT.withUnsafeBufferPointer { xp in
        hs.withUnsafeBufferPointer { hp in
        dZ.withUnsafeBufferPointer { dzp in
            params[0].grad.withUnsafeMutableBufferPointer { gw in
                sgemm(transA: true, m: d, n: g4, k: t * b, a: xp.baseAddress!, lda: d,
                      b: dzp.baseAddress!, ldb: g4, beta: 1, c: gw.baseAddress!, ldc: g4)
            }
            params[1].grad.withUnsafeMutableBufferPointer { gu in
                sgemm(transA: true, m: h, n: g4, k: t * b, a: hp.baseAddress!, lda: h,
                      b: dzp.baseAddress!, ldb: g4, beta: 1, c: gu.baseAddress!, ldc: g4)
            }
            params[2].grad.withUnsafeMutableBufferPointer { gb in
                for r in 0..<(t * b) {
                    let row = dzp.baseAddress! + r * g4
                    for j in 0..<g4 { gb[j] += row[j] }
                }
            }
        }}}

        // dx = dZ W^T, back to batch-major.
        var dxT = [Float](repeating: 0, count: t * b * d)
        var dx = Tensor(zeros: [b, t, d])
        dZ.withUnsafeBufferPointer { dzp in
        params[0].value.withUnsafeBufferPointer { wp in
        dxT.withUnsafeMutableBufferPointer { dxp in
            sgemm(transB: true, m: t * b, n: d, k: g4, a: dzp.baseAddress!, lda: g4,
                  b: wp.baseAddress!, ldb: g4, beta: 0, c: dxp.baseAddress!, ldc: d)
            dx.data.withUnsafeMutableBufferPointer { swapLeadingAxes(dxp.baseAddress!, $0.baseAddress!, t, b, d) }
        }}}
        return dx
    }
}

@inline(__always)
func resize(_ a: inout [Float], _ n: Int) {
    if a.count != n { a = [Float](repeating: 0, count: n) }
}
