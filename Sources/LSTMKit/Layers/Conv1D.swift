/// Keras's Conv1D, channels last: kernel (K, D, F), bias (F), glorot_uniform over
/// fan_in = K*D and fan_out = K*F. Computed as im2col + one GEMM: each output step's receptive
/// field is copied into a row of `cols`, so y = cols (N, K*D) x kernel (K*D, F). Backward is the
/// two transposed GEMMs and a scatter-add of dcols back into dx.
///
/// Padding: valid; same (TensorFlow's rule, the odd element on the right); causal (K-1 dilated
/// steps of zeros on the left, then valid). Keras's Conv1D does not support masking: the mask
/// is dropped.
final class Conv1D: Layer {
    enum Padding: String { case valid, same, causal }

    let name: String
    var className: String { "Conv1D" }
    let filters: Int
    let kernelSize: Int
    let strides: Int
    let dilation: Int
    let padding: Padding
    let activation: Activation
    let useBias: Bool
    var trainable = true
    private(set) var params: [Param] = []
    private var inputDim = 0

    private var cols: [Float] = []      // (B*T', K*D) receptive fields of the last forward
    private var y: [Float] = []         // (B*T', F) activated output
    private var inShape: [Int] = []
    private var outSteps = 0, padLeft = 0

    init(name: String, config: ConfigReader) throws {
        self.name = name
        filters = try config.int("filters", max: 1 << 16)
        kernelSize = try config.int1D("kernel_size", max: 1 << 12)
        strides = try config.int1D("strides", default: 1, max: 1 << 12)
        dilation = try config.int1D("dilation_rate", default: 1, max: 1 << 12)
        padding = Padding(rawValue: try config.choice("padding", default: "valid", ["valid", "same", "causal"]))!
        activation = try Activation.parse(config.string("activation", default: nil), layer: name)
        useBias = try config.bool("use_bias", default: true)
        let format = try config.choice("data_format", default: "channels_last", ["channels_last", "channels_first"])
        guard format == "channels_last" else {
            throw LSTMKitError(.badConfig, "\(name): only data_format 'channels_last' is supported")
        }
        config.acceptWeightOptions(["kernel", "bias"])
        try config.requireDefault("lora_rank", { _ in false }, "LoRA is not implemented")
        guard try config.int("groups", default: 1) == 1 else {
            throw LSTMKitError(.badConfig, "\(name): groups other than 1 are not supported")
        }
        // Keras refuses strides > 1 together with dilation_rate > 1.
        guard strides == 1 || dilation == 1 else {
            throw LSTMKitError(.badConfig, "\(name): strides > 1 is incompatible with dilation_rate > 1")
        }
    }

    var config: JSON {
        .object(["name": .string(name), "filters": .number(Double(filters)),
                 "kernel_size": .number(Double(kernelSize)), "strides": .number(Double(strides)),
                 "padding": .string(padding.rawValue), "dilation_rate": .number(Double(dilation)),
                 "activation": .string(activation.rawValue), "use_bias": .bool(useBias),
                 "data_format": "channels_last"])
    }

    var isBuilt: Bool { !params.isEmpty }
    private var span: Int { dilation * (kernelSize - 1) + 1 }

    /// Output steps and left padding for an input of `t` steps.
    private func geometry(_ t: Int) -> (out: Int, padLeft: Int) {
        switch padding {
        case .valid: return windowGeometry(length: t, window: span, stride: strides, same: false)
        case .same: return windowGeometry(length: t, window: span, stride: strides, same: true)
        case .causal:
            let g = windowGeometry(length: t + span - 1, window: span, stride: strides, same: false)
            return (g.out, span - 1)
        }
    }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard input.count == 2, let d = input[1] else {
            throw LSTMKitError(.invalidArgument, "\(name): expects input of shape (batch, steps, channels) with known channels, got rank \(input.count + 1)")
        }
        if isBuilt && d != inputDim {
            throw LSTMKitError(.invalidArgument, "\(name): built for \(inputDim) channels, got \(d)")
        }
        guard let t = input[0] else { return [nil, filters] }
        let out = geometry(t).out
        guard out > 0 else {
            throw LSTMKitError(.invalidArgument, "\(name): \(t) steps are fewer than the kernel's span \(span) with padding '\(padding.rawValue)'")
        }
        return [out, filters]
    }

    func build(input: FeatureShape, rng: inout Rng) throws {
        if isBuilt { return }
        _ = try outputShape(for: input)
        let d = input[1]!, k = kernelSize, f = filters
        inputDim = d
        let limit = (6.0 / Float(k * d + k * f)).squareRoot()
        params = [Param("kernel", [k, d, f], uniformWeights(k * d * f, limit: limit, rng: &rng))]
        if useBias { params.append(Param("bias", [f], [Float](repeating: 0, count: f))) }
    }

    // x: (B, T, D)   cols: (B*T', K*D)   kernel: (K*D, F)   ->   y: (B, T', F)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let b = x.shape[0], t = x.shape[1], d = inputDim, k = kernelSize, f = filters
        (outSteps, padLeft) = geometry(t)
        inShape = x.shape
        let n = b * outSteps, width = k * d
        cols = [Float](repeating: 0, count: n * width)
        for i in 0..<b {
            for o in 0..<outSteps {
                let row = (i * outSteps + o) * width
                for tap in 0..<k {
                    let s = o * strides + tap * dilation - padLeft
                    if s < 0 || s >= t { continue }
                    for j in 0..<d { cols[row + tap * d + j] = x.data[(i * t + s) * d + j] }
                }
            }
        }
        y = [Float](repeating: 0, count: n * f)
        y.withUnsafeMutableBufferPointer { yp in
            let out = yp.baseAddress!
            if useBias {
                params[1].withValue { bp in
                    for r in 0..<n { (out + r * f).update(from: bp.baseAddress!, count: f) }
                }
            }
            cols.withUnsafeBufferPointer { cp in
                params[0].withValue { wp in
                    sgemm(m: n, n: f, k: width, a: cp.baseAddress!, lda: width, b: wp.baseAddress!, ldb: f,
                          beta: useBias ? 1 : 0, c: out, ldc: f)
                }
            }
            applyActivation(activation, out, rows: n, width: f)
        }
        return (Tensor(shape: [b, outSteps, f], data: y), nil)
    }

    // dy: (B, T', F) -> dx: (B, T, D); accumulates into the kernel's and bias's gradients.
    func backward(_ dy: Tensor) -> Tensor {
        let b = inShape[0], t = inShape[1], d = inputDim, k = kernelSize, f = filters
        let n = b * outSteps, width = k * d
        let dz = activationBackward(activation, dy: dy.data, y: y, width: f)
        var dcols = [Float](repeating: 0, count: n * width)
        dz.withUnsafeBufferPointer { dzp in
            cols.withUnsafeBufferPointer { cp in
                dcols.withUnsafeMutableBufferPointer { dcp in
                    linearBackward(x: cp.baseAddress!, dz: dzp.baseAddress!, rows: n, inWidth: width, outWidth: f,
                                   kernel: params[0], bias: useBias ? params[1] : nil, dx: dcp.baseAddress!)
                }
            }
        }
        var dx = Tensor(zeros: inShape)
        for i in 0..<b {
            for o in 0..<outSteps {
                let row = (i * outSteps + o) * width
                for tap in 0..<k {
                    let s = o * strides + tap * dilation - padLeft
                    if s < 0 || s >= t { continue }
                    for j in 0..<d { dx.data[(i * t + s) * d + j] += dcols[row + tap * d + j] }
                }
            }
        }
        return dx
    }
}
