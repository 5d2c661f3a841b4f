/// Pooling over the time axis of (B, T, C) inputs, channels last, as Keras's 1D pooling layers.

private func requireSequence(_ input: FeatureShape, _ name: String) throws -> Int {
    guard input.count == 2, let c = input[1] else {
        throw LSTMKitError(.invalidArgument, "\(name): expects input of shape (batch, steps, channels) with known channels, got rank \(input.count + 1)")
    }
    return c
}

private func checkChannelsLast(_ config: ConfigReader, _ name: String) throws {
    let format = try config.choice("data_format", default: "channels_last", ["channels_last", "channels_first"])
    guard format == "channels_last" else {
        throw LSTMKitError(.badConfig, "\(name): only data_format 'channels_last' is supported")
    }
}

/// GlobalMaxPooling1D: (B, T, C) -> (B, C), or (B, 1, C) with keepdims. Keras's layer does not
/// support masking: the mask is ignored and dropped.
final class GlobalMaxPooling1D: Layer {
    let name: String
    var className: String { "GlobalMaxPooling1D" }
    let keepdims: Bool
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var argmaxT: [Int] = []     // (B, C) the step that won, for backward
    private var inShape: [Int] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        try checkChannelsLast(config, name)
        keepdims = try config.bool("keepdims", default: false)
    }

    var config: JSON { .object(["name": .string(name), "keepdims": .bool(keepdims), "data_format": "channels_last"]) }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        let c = try requireSequence(input, name)
        return keepdims ? [1, c] : [c]
    }

    func build(input: FeatureShape, rng: inout Rng) throws { _ = try outputShape(for: input) }

    // x: (B, T, C) -> y: (B, C)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let b = x.shape[0], t = x.shape[1], c = x.shape[2]
        inShape = x.shape
        argmaxT = [Int](repeating: 0, count: b * c)
        var y = Tensor(zeros: keepdims ? [b, 1, c] : [b, c])
        for i in 0..<b {
            for j in 0..<c {
                var best = 0
                for s in 1..<max(t, 1) where x.data[(i * t + s) * c + j] > x.data[(i * t + best) * c + j] { best = s }
                argmaxT[i * c + j] = best
                y.data[i * c + j] = x.data[(i * t + best) * c + j]
            }
        }
        return (y, nil)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let b = inShape[0], t = inShape[1], c = inShape[2]
        var dx = Tensor(zeros: inShape)
        for i in 0..<b {
            for j in 0..<c { dx.data[(i * t + argmaxT[i * c + j]) * c + j] += dy.data[i * c + j] }
        }
        return dx
    }
}

/// GlobalAveragePooling1D: (B, T, C) -> (B, C), or (B, 1, C) with keepdims. With a mask, the mean
/// over the unmasked steps only, as Keras does; the mask is consumed. A row whose steps are all
/// masked gives 0 here (Keras divides 0 by 0).
final class GlobalAveragePooling1D: Layer {
    let name: String
    var className: String { "GlobalAveragePooling1D" }
    let keepdims: Bool
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var weights: [Float] = []   // (B, T) each step's weight in its row's mean
    private var inShape: [Int] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        try checkChannelsLast(config, name)
        keepdims = try config.bool("keepdims", default: false)
    }

    var config: JSON { .object(["name": .string(name), "keepdims": .bool(keepdims), "data_format": "channels_last"]) }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        let c = try requireSequence(input, name)
        return keepdims ? [1, c] : [c]
    }

    func build(input: FeatureShape, rng: inout Rng) throws { _ = try outputShape(for: input) }

    // x: (B, T, C)  mask: (B, T) or nil  ->  y: (B, C)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let b = x.shape[0], t = x.shape[1], c = x.shape[2]
        inShape = x.shape
        weights = [Float](repeating: 0, count: b * t)
        for i in 0..<b {
            var n: Float = 0
            for s in 0..<t { n += mask.map { $0[i * t + s] != 0 ? 1 : 0 } ?? 1 }
            guard n > 0 else { continue }
            for s in 0..<t where mask.map({ $0[i * t + s] != 0 }) ?? true { weights[i * t + s] = 1 / n }
        }
        var y = Tensor(zeros: keepdims ? [b, 1, c] : [b, c])
        for i in 0..<b {
            for s in 0..<t {
                let w = weights[i * t + s]
                if w == 0 { continue }
                for j in 0..<c { y.data[i * c + j] += w * x.data[(i * t + s) * c + j] }
            }
        }
        return (y, nil)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let b = inShape[0], t = inShape[1], c = inShape[2]
        var dx = Tensor(zeros: inShape)
        for i in 0..<b {
            for s in 0..<t {
                let w = weights[i * t + s]
                if w == 0 { continue }
                for j in 0..<c { dx.data[(i * t + s) * c + j] = w * dy.data[i * c + j] }
            }
        }
        return dx
    }
}

/// Output length and left padding of a 1D window of (effective) size k sliding with stride s,
/// as TensorFlow's VALID and SAME paddings (SAME puts the odd padding element on the right).
func windowGeometry(length: Int, window k: Int, stride s: Int, same: Bool) -> (out: Int, padLeft: Int) {
    if same {
        let out = (length + s - 1) / s
        let total = max((out - 1) * s + k - length, 0)
        return (out, total / 2)
    }
    return (length >= k ? (length - k) / s + 1 : 0, 0)
}

/// MaxPooling1D(pool_size, strides = pool_size, padding valid | same): (B, T, C) -> (B, T', C).
/// Padded positions never win (TensorFlow's SAME max pooling ignores them). Keras's pooling layers
/// do not support masking: the mask is dropped.
final class MaxPooling1D: Layer {
    let name: String
    var className: String { "MaxPooling1D" }
    let poolSize: Int
    let strides: Int
    let same: Bool
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var argmaxT: [Int] = []     // (B, T', C) input step of each output's maximum
    private var inShape: [Int] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        try checkChannelsLast(config, name)
        poolSize = try config.int1D("pool_size", default: 2)
        strides = try config.int1D("strides", default: poolSize)
        same = try config.choice("padding", default: "valid", ["valid", "same"]) == "same"
    }

    var config: JSON {
        .object(["name": .string(name), "pool_size": .number(Double(poolSize)), "strides": .number(Double(strides)),
                 "padding": .string(same ? "same" : "valid"), "data_format": "channels_last"])
    }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        let c = try requireSequence(input, name)
        guard let t = input[0] else { return [nil, c] }
        let out = windowGeometry(length: t, window: poolSize, stride: strides, same: same).out
        guard out > 0 else {
            throw LSTMKitError(.invalidArgument, "\(name): \(t) steps are fewer than pool_size \(poolSize)")
        }
        return [out, c]
    }

    func build(input: FeatureShape, rng: inout Rng) throws { _ = try outputShape(for: input) }

    // x: (B, T, C) -> y: (B, T', C)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let b = x.shape[0], t = x.shape[1], c = x.shape[2]
        let (out, pad) = windowGeometry(length: t, window: poolSize, stride: strides, same: same)
        inShape = x.shape
        argmaxT = [Int](repeating: 0, count: b * out * c)
        var y = Tensor(zeros: [b, out, c])
        for i in 0..<b {
            for o in 0..<out {
                let lo = max(o * strides - pad, 0), hi = min(o * strides - pad + poolSize, t)
                for j in 0..<c {
                    var best = lo
                    for s in (lo + 1)..<max(hi, lo + 1) where x.data[(i * t + s) * c + j] > x.data[(i * t + best) * c + j] { best = s }
                    argmaxT[(i * out + o) * c + j] = best
                    y.data[(i * out + o) * c + j] = x.data[(i * t + best) * c + j]
                }
            }
        }
        return (y, nil)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let b = inShape[0], t = inShape[1], c = inShape[2], out = dy.shape[1]
        var dx = Tensor(zeros: inShape)
        for i in 0..<b {
            for o in 0..<out {
                for j in 0..<c { dx.data[(i * t + argmaxT[(i * out + o) * c + j]) * c + j] += dy.data[(i * out + o) * c + j] }
            }
        }
        return dx
    }
}
