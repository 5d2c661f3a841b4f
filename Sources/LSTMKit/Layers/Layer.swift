/// One layer of a Sequential model. Forward and backward live side by side in each layer's file;
/// forward keeps whatever backward needs, so one forward must precede each backward.
protocol Layer: AnyObject {
    var name: String { get }
    var className: String { get }
    /// Weights in Keras's get_weights() order; empty until built.
    var params: [Param] { get }
    /// Keras's layer.trainable: false freezes the layer's weights (the optimizer leaves them
    /// and keeps no state for them); gradients still flow through it to the layers before.
    var trainable: Bool { get set }
    /// The weights the optimizer updates: params, or none when frozen (a wrapper: its inner
    /// layers' trainable ones).
    var trainableParams: [Param] { get }
    /// The Keras-style config that recreates this layer (without weights).
    var config: JSON { get }
    /// Output shape for an input shape; throws if the input cannot feed this layer.
    func outputShape(for input: FeatureShape) throws -> FeatureShape
    /// Creates the weights for the given input shape, reproducibly from rng.
    func build(input: FeatureShape, rng: inout Rng) throws
    var isBuilt: Bool { get }
    /// mask: (B, T) of 0/1, or nil. Returns the output and the mask passed to the next layer.
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?)
    /// dy has the output's shape; returns dL/dx (empty for layers whose input is not differentiable).
    func backward(_ dy: Tensor) -> Tensor
    /// Called by the model before each of its passes: whether backward follows (fit) or not
    /// (predict, evaluate), and the Embedding whose output is this layer's input, if one is.
    /// Layers that compute differently then (the recurrent ones: InputProjection, RowPlan) take
    /// note; the default ignores both.
    func prepareForward(backwardFollows: Bool, inputEmbedding: Embedding?)
    /// Hands a copy of this layer (same class and config: an inference copy, Training/
    /// Inference.swift) what is derived from the weights and may be shared rather than made
    /// again (a recurrent layer's projection table). The default shares nothing.
    func shareDerivedData(with copy: Layer)
}

extension Layer {
    func prepareForward(backwardFollows: Bool, inputEmbedding: Embedding?) {}
    func shareDerivedData(with copy: Layer) {}
}

/// A layer that takes several inputs or gives several outputs, which only the functional graph
/// (Training/Graph.swift) can connect: a recurrent layer with initial_state or return_state,
/// Bidirectional with merge_mode None, Concatenate. Masks travel with each tensor (nil = none).
protocol MultiIOLayer: Layer {
    func outputShapes(for inputs: [FeatureShape]) throws -> [FeatureShape]
    func build(inputs: [FeatureShape], rng: inout Rng) throws
    func forward(_ xs: [Tensor], masks: [[Float]?], training: Bool, rng: inout Rng) -> ([Tensor], [[Float]?])
    /// dys: one gradient per output, nil where none reaches it. Returns one gradient per input
    /// (empty where the input is not differentiable).
    func backward(_ dys: [Tensor?]) -> [Tensor]
}

extension Layer {
    var trainableParams: [Param] { trainable ? params : [] }

    /// config plus what LayerRegistry.make reads for every layer: trainable, written when false.
    var savedConfig: JSON {
        guard !trainable, var c = config.objectValue else { return config }
        c["trainable"] = false
        return .object(c)
    }
}
