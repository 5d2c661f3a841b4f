/// A layer that holds other layers (TimeDistributed here); its weights are the inner layers',
/// named under its own name as Keras 3's variable paths are: "time_distributed/dense/kernel".
protocol WrapperLayer: Layer {
    var wrapped: [Layer] { get }
}

extension Layer {
    /// The weights' names relative to the model, in `params` order: "<layer>/<weight>".
    var weightPaths: [String] {
        if let w = self as? WrapperLayer {
            return w.wrapped.flatMap { inner in inner.weightPaths.map { "\(name)/\($0)" } }
        }
        return params.map { "\(name)/\($0.name)" }
    }
}

/// Keras's TimeDistributed(layer): applies the inner layer to every step of a (B, T, ...) input
/// with the same weights, by running it once on the (B*T, ...) rows. Config:
/// {"layer": {"class_name": ..., "config": {...}}}. Passes the mask through, as Keras does; the
/// inner layer sees no mask.
final class TimeDistributed: WrapperLayer {
    let name: String
    var className: String { "TimeDistributed" }
    let layer: Layer
    var wrapped: [Layer] { [layer] }
    var params: [Param] { layer.params }
    var trainable = true
    var trainableParams: [Param] { trainable ? layer.trainableParams : [] }
    var isBuilt: Bool { layer.isBuilt }
    private var inShape: [Int] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        guard let item = config.value("layer"), let rawClass = item["class_name"]?.stringValue else {
            throw LSTMKitError(.badConfig, "\(name): 'layer' must be {\"class_name\": ..., \"config\": {...}}")
        }
        let className = LayerRegistry.canonical(rawClass)
        _ = try LayerRegistry.maker(className, what: "\(name): ")
        guard className != "Embedding" else {
            throw LSTMKitError(.badConfig, "\(name): Embedding cannot be wrapped (token ids must come first)")
        }
        let innerConfig = try ConfigReader(item["config"], className: className)
        var innerName = try innerConfig.string("name", default: nil) ?? ""
        if innerName.isEmpty { innerName = LayerRegistry.snakeCase(className) }
        guard !innerName.contains("/") else { throw LSTMKitError(.badConfig, "\(name): a layer name may not contain '/'") }
        layer = try LayerRegistry.make(className, innerName, innerConfig)
    }

    var config: JSON {
        .object(["name": .string(name),
                 "layer": .object(["class_name": .string(layer.className), "config": layer.savedConfig])])
    }

    private func innerShape(_ input: FeatureShape) throws -> FeatureShape {
        guard input.count >= 2 else {
            throw LSTMKitError(.invalidArgument, "\(name): expects input of shape (batch, timesteps, ...) with at least 3 dimensions, got rank \(input.count + 1)")
        }
        return Array(input.dropFirst())
    }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        [input[0]] + (try layer.outputShape(for: innerShape(input)))
    }

    func build(input: FeatureShape, rng: inout Rng) throws {
        try layer.build(input: innerShape(input), rng: &rng)
    }

    // x: (B, T, ...) -> rows (B*T, ...) -> inner -> (B*T, ...out) -> y: (B, T, ...out)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        inShape = x.shape
        let rows = Tensor(shape: [x.shape[0] * x.shape[1]] + x.shape.dropFirst(2), data: x.data)
        let (out, _) = layer.forward(rows, mask: nil, training: training, rng: &rng)
        return (Tensor(shape: [x.shape[0], x.shape[1]] + out.shape.dropFirst(), data: out.data), mask)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let rows = Tensor(shape: [dy.shape[0] * dy.shape[1]] + dy.shape.dropFirst(2), data: dy.data)
        let dx = layer.backward(rows)
        if dx.data.isEmpty { return dx }
        return Tensor(shape: inShape, data: dx.data)
    }
}
