/// Keras's RepeatVector(n): (B, D) -> (B, n, D). Drops the mask, as Keras does (it does not
/// support masking).
final class RepeatVector: Layer {
    let name: String
    var className: String { "RepeatVector" }
    let n: Int
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var inShape: [Int] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        n = try config.int("n", max: 1 << 24)
    }

    var config: JSON { .object(["name": .string(name), "n": .number(Double(n))]) }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard input.count == 1 else {
            throw LSTMKitError(.invalidArgument, "\(name): expects input of shape (batch, features), got rank \(input.count + 1)")
        }
        return [n, input[0]]
    }

    func build(input: FeatureShape, rng: inout Rng) throws { _ = try outputShape(for: input) }

    // x: (B, D) -> y: (B, n, D)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let b = x.shape[0], d = x.shape[1]
        inShape = x.shape
        let y = x.data.withUnsafeBufferPointer { xp in
            Tensor(shape: [b, n, d]) { yp in
                for i in 0..<b {
                    for t in 0..<n { (yp + (i * n + t) * d).update(from: xp.baseAddress! + i * d, count: d) }
                }
            }
        }
        return (y, nil)
    }

    // dy: (B, n, D) -> dx: (B, D), the sum over the repeats
    func backward(_ dy: Tensor) -> Tensor {
        let b = inShape[0], d = inShape[1]
        var dx = Tensor(zeros: inShape)
        dx.data.withUnsafeMutableBufferPointer { dxp in
            dy.data.withUnsafeBufferPointer { dyp in
                for i in 0..<b {
                    let out = dxp.baseAddress! + i * d
                    for t in 0..<n {
                        let row = dyp.baseAddress! + (i * n + t) * d
                        for j in 0..<d { out[j] += row[j] }
                    }
                }
            }
        }
        return dx
    }
}

/// Keras's Flatten: (B, d1, d2, ...) -> (B, d1 * d2 * ...). The data is already row-major, so
/// only the shape changes. Drops the mask, as Keras does.
final class Flatten: Layer {
    let name: String
    var className: String { "Flatten" }
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var inShape: [Int] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        let format = try config.choice("data_format", default: "channels_last", ["channels_last", "channels_first"])
        guard format == "channels_last" else {
            throw LSTMKitError(.badConfig, "\(name): only data_format 'channels_last' is supported")
        }
    }

    var config: JSON { .object(["name": .string(name), "data_format": "channels_last"]) }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        // Keras: the flattened size is None when any dimension is unknown.
        if input.contains(where: { $0 == nil }) { return [nil] }
        return [input.reduce(1) { $0 * $1! }]
    }

    func build(input: FeatureShape, rng: inout Rng) throws {}

    // x: (B, ...) -> y: (B, prod(...))
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        inShape = x.shape
        return (Tensor(shape: [x.shape[0], x.count / max(x.shape[0], 1)], data: x.data), nil)
    }

    func backward(_ dy: Tensor) -> Tensor { Tensor(shape: inShape, data: dy.data) }
}

/// Keras's SpatialDropout1D: at training time drops whole feature channels per sample, the noise
/// shape being (B, 1, C); kept channels are scaled by 1/(1-rate). Identity at inference. Passes
/// the mask on, as Keras's Dropout does.
final class SpatialDropout1D: Layer {
    let name: String
    var className: String { "SpatialDropout1D" }
    let rate: Float
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var keep: [Float] = []   // (B, C) scale of the last training forward; empty = identity

    init(name: String, config: ConfigReader) throws {
        self.name = name
        rate = try config.float("rate", default: 0.5, min: 0, max: 1, maxInclusive: false)
        config.accept(["seed"])
        try config.requireDefault("noise_shape", { _ in false }, "only null, one mask per channel")
    }

    var config: JSON { .object(["name": .string(name), "rate": .number(Double(rate))]) }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard input.count == 2 else {
            throw LSTMKitError(.invalidArgument, "\(name): expects input of shape (batch, timesteps, channels), got rank \(input.count + 1)")
        }
        return input
    }

    func build(input: FeatureShape, rng: inout Rng) throws { _ = try outputShape(for: input) }

    // x: (B, T, C)   keep: (B, C)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        guard training && rate > 0 else { keep = []; return (x, mask) }
        let b = x.shape[0], t = x.shape[1], c = x.shape[2]
        let scale = 1 / (1 - rate)
        keep = (0..<(b * c)).map { _ in rng.uniform() < rate ? 0 : scale }
        return (scaled(x, b, t, c), mask)
    }

    private func scaled(_ x: Tensor, _ b: Int, _ t: Int, _ c: Int) -> Tensor {
        var y = x
        for i in 0..<b {
            for s in 0..<t {
                for j in 0..<c { y.data[(i * t + s) * c + j] *= keep[i * c + j] }
            }
        }
        return y
    }

    func backward(_ dy: Tensor) -> Tensor {
        if keep.isEmpty { return dy }
        return scaled(dy, dy.shape[0], dy.shape[1], dy.shape[2])
    }
}
