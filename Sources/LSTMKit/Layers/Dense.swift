import CKernels
import Glibc

/// Keras's Dense on the last axis: y = act(x W + b), W (D, U), b (U). Inputs of rank > 2 are
/// treated as rows (B*T, D), as Keras does.
final class Dense: Layer {
    let name: String
    var className: String { "Dense" }
    let units: Int
    let activation: Activation
    let useBias: Bool
    var trainable = true
    private(set) var params: [Param] = []
    private var inputDim = 0

    private var x: [Float] = []       // (N, D) input of the last forward
    private var y: [Float] = []       // (N, U) activated output
    private(set) var logits: [Float] = []  // (N, U) before the activation, when keepsLogits
    /// Set by the model on the output layer whose loss reads the logits (Model.fusedOutputLayer),
    /// for the passes of fit and evaluate; every other Dense, and every Dense in predict, copied
    /// them into a fresh (N, U) array per batch for nothing, (B*T, vocabulary) floats for the
    /// translation model's TimeDistributed output.
    var keepsLogits = false
    private var outShape: [Int] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        units = try config.int("units", max: 1 << 20)
        activation = try Activation.parse(config.string("activation", default: nil), layer: name)
        useBias = try config.bool("use_bias", default: true)
        config.acceptWeightOptions(["kernel", "bias"])
        config.accept(["lora_alpha"])
        try config.requireDefault("lora_rank", { _ in false }, "LoRA is not implemented")
        try config.requireDefault("quantization_config", { _ in false }, "quantization is not implemented")
    }

    var config: JSON {
        .object(["name": .string(name), "units": .number(Double(units)),
                 "activation": .string(activation.rawValue), "use_bias": .bool(useBias)])
    }

    var isBuilt: Bool { !params.isEmpty }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard let d = input.last ?? nil else {
            throw LSTMKitError(.invalidArgument, "\(name): the last input dimension must be known")
        }
        if isBuilt && d != inputDim {
            throw LSTMKitError(.invalidArgument, "\(name): built for \(inputDim) features, got \(d)")
        }
        return Array(input.dropLast()) + [units]
    }

    func build(input: FeatureShape, rng: inout Rng) throws {
        if isBuilt { return }
        _ = try outputShape(for: input)
        inputDim = input.last!!
        params = [Param("kernel", [inputDim, units], glorotUniform(inputDim, units, rng: &rng))]
        if useBias { params.append(Param("bias", [units], [Float](repeating: 0, count: units))) }
    }

    // x: (..., D) -> (..., U)
    func forward(_ input: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let d = inputDim, u = units, n = input.count / d
        x = input.data
        outShape = Array(input.shape.dropLast()) + [u]
        resize(&y, n * u)
        y.withUnsafeMutableBufferPointer { yp in
            let out = yp.baseAddress!
            if RowsExact.active {
                // a forward-only pass: each row's bits independent of the others (Support/RowsExact.swift)
                x.withUnsafeBufferPointer { xp in
                    params[0].withValue { wp in
                        if useBias {
                            params[1].withValue { bp in
                                lk_rows_gemm(n, u, d, xp.baseAddress!, d, wp.baseAddress!, u, bp.baseAddress!, 0, out, u)
                            }
                        } else {
                            lk_rows_gemm(n, u, d, xp.baseAddress!, d, wp.baseAddress!, u, nil, 0, out, u)
                        }
                    }
                }
            } else if useBias {
                params[1].withValue { bp in
                    for r in 0..<n { (out + r * u).update(from: bp.baseAddress!, count: u) }
                }
            }
            if !RowsExact.active {
                x.withUnsafeBufferPointer { xp in
                    params[0].withValue { wp in
                        sgemm(m: n, n: u, k: d, a: xp.baseAddress!, lda: d, b: wp.baseAddress!, ldb: u,
                              beta: useBias ? 1 : 0, c: out, ldc: u)
                    }
                }
            }
            if activation != .linear { logits = keepsLogits ? Array(UnsafeBufferPointer(start: out, count: n * u)) : [] }
            applyActivation(out, rows: n)
        }
        if activation == .linear { logits = y }
        return (Tensor(shape: outShape, data: y), mask)
    }

    private func applyActivation(_ p: UnsafeMutablePointer<Float>, rows: Int) {
        LSTMKit.applyActivation(activation, p, rows: rows, width: units)
    }

    /// dL/dy -> dL/dz through the activation, using the saved output y.
    func activationBackward(_ dy: [Float]) -> [Float] {
        LSTMKit.activationBackward(activation, dy: dy, y: y, width: units)
    }

    func backward(_ dy: Tensor) -> Tensor {
        backward(preactivationGrad: activationBackward(dy.data))
    }

    /// Backward from dL/dz (z = x W + b), used directly when the loss is fused with the
    /// activation (sigmoid + binary crossentropy, softmax + categorical crossentropy).
    func backward(preactivationGrad dz: [Float]) -> Tensor {
        let d = inputDim, u = units, n = dz.count / u
        var dx = Tensor(zeros: Array(outShape.dropLast()) + [d])
        dz.withUnsafeBufferPointer { dzp in
            x.withUnsafeBufferPointer { xp in
                dx.data.withUnsafeMutableBufferPointer { dxp in
                    linearBackward(x: xp.baseAddress!, dz: dzp.baseAddress!, rows: n, inWidth: d, outWidth: u,
                                   kernel: params[0], bias: useBias ? params[1] : nil, dx: dxp.baseAddress!)
                }
            }
        }
        return dx
    }
}

/// Backward of y = x W + b over rows: dW += x^T dz, db += column sums of dz, and dx = dz W^T
/// written over dx. x: (rows, inWidth), dz and y: (rows, outWidth), W: (inWidth, outWidth).
/// Dense runs it on its input rows, Conv1D on its im2col rows.
func linearBackward(x: UnsafePointer<Float>, dz: UnsafePointer<Float>, rows n: Int, inWidth: Int, outWidth: Int,
                    kernel: Param, bias: Param?, dx: UnsafeMutablePointer<Float>) {
    kernel.grad.withUnsafeMutableBufferPointer { gw in
        sgemm(transA: true, m: inWidth, n: outWidth, k: n, a: x, lda: inWidth,
              b: dz, ldb: outWidth, beta: 1, c: gw.baseAddress!, ldc: outWidth)
    }
    bias?.grad.withUnsafeMutableBufferPointer { gb in
        for r in 0..<n { for j in 0..<outWidth { gb[j] += dz[r * outWidth + j] } }
    }
    kernel.withValue { wp in
        sgemm(transB: true, m: n, n: inWidth, k: outWidth, a: dz, lda: outWidth,
              b: wp.baseAddress!, ldb: outWidth, beta: 0, c: dx, ldc: inWidth)
    }
}

/// Inverted dropout: at training time zeroes each value with probability `rate` and scales the
/// rest by 1/(1-rate); identity at inference.
final class Dropout: Layer {
    let name: String
    var className: String { "Dropout" }
    let rate: Float
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var keep: [Float] = []   // scale per element of the last training forward; empty = identity

    init(name: String, config: ConfigReader) throws {
        self.name = name
        rate = try config.float("rate", default: 0.5, min: 0, max: 1, maxInclusive: false)
        // The masks are the engine's own draws whatever Keras's seed was.
        config.accept(["seed"])
        try config.requireDefault("noise_shape", { _ in false }, "only null, one mask value per element")
    }

    var config: JSON { .object(["name": .string(name), "rate": .number(Double(rate))]) }
    func outputShape(for input: FeatureShape) throws -> FeatureShape { input }
    func build(input: FeatureShape, rng: inout Rng) throws {}

    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        guard training && rate > 0 else { keep = []; return (x, mask) }
        let scale = 1 / (1 - rate)
        keep = (0..<x.count).map { _ in rng.uniform() < rate ? 0 : scale }
        var y = x
        for i in 0..<y.count { y.data[i] *= keep[i] }
        return (y, mask)
    }

    func backward(_ dy: Tensor) -> Tensor {
        if keep.isEmpty { return dy }
        var dx = dy
        for i in 0..<dx.count { dx.data[i] *= keep[i] }
        return dx
    }
}
