/// A model: the layers, how it was compiled, and the tokenizer saved with it. A Sequential model
/// runs its layers in order; a functional one (`graph`, Training/Graph.swift) runs them as a
/// graph, `layers` then being its nodes' layers in call order.
final class Model {
    let name: String
    private(set) var layers: [Layer]
    /// The layer graph of a functional model; nil for a Sequential one.
    let graph: Graph?
    /// Input shape from the configuration (without batch); nil entries accept any length.
    let declaredInput: FeatureShape?
    /// The input shape the weights were built for, refined by the last data seen (for summary()).
    /// Predicts on several threads refine it at once (Training/Inference.swift), hence the lock.
    private(set) var builtInput: FeatureShape? {
        get { builtInputLock.withLock { builtInputValue } }
        set { builtInputLock.withLock { builtInputValue = newValue } }
    }
    private var builtInputValue: FeatureShape? = nil
    private let builtInputLock = Mutex()
    /// Serialises build(input:), which concurrent predicts call (the first builds the weights).
    private let buildLock = Mutex()
    /// The inference copies of the layers that concurrent forward-only passes use.
    let inference = InferenceCopies()
    private(set) var compiled: CompileSettings?
    var tokenizer: Tokenizer?
    /// The tokenizer of the outputs (a translation model's target language), saved with the model.
    var targetTokenizer: Tokenizer?
    /// How predict_texts pads token ids (Text/TextInput.swift); nil: Keras's defaults.
    var textPadding: TextPadding?
    private var initRng: Rng
    /// The input shape of the data the model was last trained on (without batch), saved with it:
    /// a program that loads a model whose configuration leaves the sequence length open (Keras's
    /// Embedding without input_length) learns from it how long to pad.
    private(set) var trainedInput: FeatureShape?
    /// Copies of `layers` for the worker threads beyond the first (Training/Parallel.swift).
    var workerLayers: [[Layer]] = []

    struct CompileSettings {
        let loss: LossFunction
        let optimizer: Optimizer
        /// The identifiers as given to compile, and the metrics they name.
        let metricIdentifiers: [String]
        let metrics: [Metric]
        let dtypePolicy: DTypePolicy
        var json: JSON {
            var c: [String: JSON] = ["optimizer": optimizer.config, "loss": .string(loss.kind.rawValue),
                                     "metrics": .array(metricIdentifiers.map { .string($0) })]
            if dtypePolicy != .float32 { c["dtype_policy"] = .string(dtypePolicy.rawValue) }
            return .object(c)
        }
    }

    /// weightsFollow: the caller sets every weight right after the build (loading a file), so the
    /// initializers are skipped.
    init(config: JSON, seed: UInt64, weightsFollow: Bool = false) throws {
        guard let top = config.objectValue else { throw LSTMKitError(.badConfig, "model config must be a JSON object") }
        guard let list = top["layers"]?.arrayValue else {
            throw LSTMKitError(.badConfig, "model config needs a 'layers' list")
        }
        try Model.refuseUnknownModelKeys(top, functional: Graph.describes(top))
        name = try top["name"].map { v -> String in
            guard let s = v.stringValue else { throw LSTMKitError(.badConfig, "model 'name' must be a string") }
            return s
        } ?? (Graph.describes(top) ? "functional" : "sequential")
        initRng = Rng(seed: seed)
        initRng.weightsDiscarded = weightsFollow
        trainedInput = try top["trained_input_shape"].flatMap { $0.isNull ? nil : try parseFeatureShape($0, what: "'trained_input_shape'", dropFirst: false) }
        if Graph.describes(top) {
            let (g, nodeLayers, input) = try Graph.parse(top)
            graph = g
            layers = nodeLayers
            declaredInput = input
            if top["trainable"]?.boolValue == false { for layer in layers { layer.trainable = false } }
            do {
                try build(input: input)
            } catch let error as LSTMKitError where error.status == .invalidArgument && input.contains(where: { $0 == nil }) {
                // built by the first data, as for a Sequential model
            }
            return
        }
        graph = nil
        var input: FeatureShape? = try top["input_shape"].flatMap { $0.isNull ? nil : try parseFeatureShape($0, what: "'input_shape'", dropFirst: false) }
        var built: [Layer] = []
        var used = Set<String>()
        var names = DefaultLayerNames()
        for (i, entry) in list.enumerated() {
            guard var className = entry["class_name"]?.stringValue else {
                throw LSTMKitError(.badConfig, "layer \(i): 'class_name' (a string) is required")
            }
            className = LayerRegistry.canonical(className)
            var cfg = try ConfigReader(entry["config"], className: className)
            // Keras creates a wrapped layer before its wrapper, so an unnamed inner layer takes
            // the next name of its class first: TimeDistributed(Dense) then Dense gives
            // time_distributed/dense and dense_1.
            if className == "TimeDistributed", var inner = cfg.json["layer"]?.objectValue,
               let innerClass = inner["class_name"]?.stringValue {
                var innerConfig = inner["config"]?.objectValue ?? [:]
                if (innerConfig["name"]?.stringValue ?? "").isEmpty {
                    innerConfig["name"] = .string(names.next(for: innerClass))
                    inner["config"] = .object(innerConfig)
                    var outer = cfg.json
                    outer["layer"] = .object(inner)
                    cfg = try ConfigReader(.object(outer), className: className)
                }
            }
            if className == "InputLayer" {
                guard built.isEmpty else { throw LSTMKitError(.badConfig, "layer \(i): InputLayer must come first") }
                input = try cfg.inputShape() ?? input
                try cfg.refuseUnknownKeys(extra: LayerRegistry.inputLayerKeys)
                continue
            }
            _ = try LayerRegistry.maker(className, what: "layer \(i): ")
            var layerName = try cfg.string("name", default: nil) ?? ""
            if layerName.isEmpty { layerName = names.next(for: className, avoiding: used) }
            guard !used.contains(layerName) else { throw LSTMKitError(.badConfig, "layer \(i): duplicate layer name '\(layerName)'") }
            guard !layerName.contains("/") else { throw LSTMKitError(.badConfig, "layer \(i): a layer name may not contain '/'") }
            used.insert(layerName)
            if built.isEmpty, let shape = try cfg.inputShape() { input = shape }
            if built.isEmpty, className == "Embedding", input == nil {
                let len = try cfg.int("input_length", default: 0, min: 0)
                input = [len == 0 ? nil : len]
            }
            let layer = try LayerRegistry.make(className, layerName, cfg)
            if let r = layer as? RecurrentLayer, r.returnState {
                throw LSTMKitError(.badConfig, "layer \(i): '\(layerName)' returns its states (return_state=true), several tensors a Sequential model cannot pass on; build a functional Model")
            }
            built.append(layer)
        }
        guard !built.isEmpty else { throw LSTMKitError(.badConfig, "a model needs at least one layer") }
        if built.first is Embedding, let input, input.count != 1 {
            throw LSTMKitError(.badConfig, "a model starting with Embedding takes input of shape (timesteps,), got \(input.count) dimensions")
        }
        layers = built
        if top["trainable"]?.boolValue == false { for layer in layers { layer.trainable = false } }
        declaredInput = input
        if let input {
            do {
                try build(input: input)
            } catch let error as LSTMKitError where error.status == .invalidArgument && input.contains(where: { $0 == nil }) {
                // A layer needs a length not known yet (Flatten then Dense after a variable-length
                // Embedding): the model is built by the first data, as Keras builds on first call.
            }
        }
    }

    /// The keys of a model config outside its layers' configs: ours, and those Keras's
    /// get_config and to_json write (module, registered_name and build_config describe how Keras
    /// rebuilds the object and change nothing computed here). trainable false freezes every
    /// layer, as Keras's model.trainable = False does; dtype must be float32, as on a layer.
    static func refuseUnknownModelKeys(_ top: [String: JSON], functional: Bool) throws {
        var known: Set<String> = ["name", "layers", "trained_input_shape", "trainable", "dtype", "class_name",
                                  "module", "registered_name", "build_config", "compile_config"]
        known.formUnion(functional ? ["input_layers", "output_layers"] : ["input_shape", "build_input_shape"])
        try refuseUnknownKeys(top, known: known, what: "model config: unknown key")
        if let v = top["trainable"], !v.isNull, v.boolValue == nil {
            throw LSTMKitError(.badConfig, "model config: 'trainable' must be true or false")
        }
        if let v = top["dtype"], !v.isNull, (v.stringValue ?? v["config"]?["name"]?.stringValue) != "float32" {
            throw LSTMKitError(.badConfig, "model config: 'dtype' = \(v.serialized()) is not supported (only float32; for mixed_bfloat16 set compile's dtype_policy)")
        }
        var entryKeys: Set<String> = ["class_name", "config", "module", "registered_name", "build_config", "compile_config"]
        if functional { entryKeys.formUnion(["name", "inbound_nodes", "initial_state"]) }
        for (i, entry) in (top["layers"]?.arrayValue ?? []).enumerated() {
            guard let object = entry.objectValue else {
                throw LSTMKitError(.badConfig, "layer \(i): must be a JSON object with 'class_name' and 'config'")
            }
            try refuseUnknownKeys(object, known: entryKeys, what: "layer \(i): unknown key")
        }
    }

    var inputIsIds: Bool { inputEmbedding != nil }
    /// The Embedding reading the model's input (token ids), if any.
    var inputEmbedding: Embedding? { graph.map { $0.inputEmbedding(layers) } ?? layers.first as? Embedding }
    /// The stateful recurrent layers (inside Bidirectional they are refused).
    var statefulLayers: [RecurrentLayer] { layers.compactMap { ($0 as? RecurrentLayer).flatMap { $0.stateful ? $0 : nil } } }
    var isBuilt: Bool { layers.allSatisfy { $0.isBuilt } && builtInput != nil }
    var params: [Param] { layers.flatMap { $0.params } }
    var paramCount: Int { params.reduce(0) { $0 + $1.count } }
    var weightNames: [String] { layers.flatMap { $0.weightPaths } }
    /// The weights the optimizer updates (Keras's trainable_weights), in `params` order: those
    /// of the layers not frozen with trainable=false.
    var trainableParams: [Param] { layers.flatMap { $0.trainableParams } }
    var trainableParamCount: Int { trainableParams.reduce(0) { $0 + $1.count } }
    /// trainableParams with their names, which key the optimizer's state in a model file.
    var trainableWeights: [(name: String, param: Param)] {
        let trainable = Set(trainableParams.map(ObjectIdentifier.init))
        return zip(weightNames, params).filter { trainable.contains(ObjectIdentifier($0.1)) }.map { (name: $0.0, param: $0.1) }
    }

    /// Keras's layer.trainable = value for the top-level layer named `layer`. Takes effect at
    /// the next fit; when it changes which weights train, an optimizer that has taken steps
    /// starts again from its config (as Keras's compile after changing trainable does), so no
    /// state is kept for weights it no longer updates or missing for ones it now does.
    func setTrainable(layer: String, _ value: Bool) throws {
        guard let l = layers.first(where: { $0.name == layer }) else {
            throw LSTMKitError(.invalidArgument, "model '\(name)' has no layer '\(layer)' (layers: \(layers.map { $0.name }.joined(separator: ", ")))")
        }
        let before = trainableParams.map(ObjectIdentifier.init)
        l.trainable = value
        for copy in workerLayers { copy.first(where: { $0.name == layer })?.trainable = value }
        if let c = compiled, c.optimizer.iterations > 0, trainableParams.map(ObjectIdentifier.init) != before {
            compiled = CompileSettings(loss: c.loss, optimizer: try makeOptimizer(c.optimizer.config),
                                       metricIdentifiers: c.metricIdentifiers, metrics: c.metrics, dtypePolicy: c.dtypePolicy)
        }
    }

    /// The input shape to feed the model: the configured one, with open lengths filled in from
    /// the data it was trained on; nil entries stay open.
    var expectedInput: FeatureShape? {
        guard let known = declaredInput ?? builtInput else { return trainedInput }
        guard let trainedInput, trainedInput.count == known.count else { return known }
        return zip(known, trainedInput).map { $0 ?? $1 }
    }

    func noteTrainingInput(_ shape: FeatureShape) { trainedInput = shape }

    /// Creates the weights (once) and checks that every layer accepts the previous one's output.
    func build(input: FeatureShape) throws {
        try buildLock.withLock { try buildLocked(input: input) }
    }

    private func buildLocked(input: FeatureShape) throws {
        if let declared = declaredInput {
            guard declared.count == input.count else {
                throw LSTMKitError(.invalidArgument, "model '\(name)' expects input of rank \(declared.count + 1) (batch first), got rank \(input.count + 1)")
            }
            for (i, (d, g)) in zip(declared, input).enumerated() {
                if let d, let g, d != g {
                    throw LSTMKitError(.invalidArgument, "model '\(name)' expects input dimension \(i + 1) to be \(d), got \(g)")
                }
            }
        }
        if !isBuilt { try checkWeightBudget(input: input) }
        if let graph {
            try graph.build(layers, input: input, rng: &initRng)
        } else {
            var shape = input
            for layer in layers {
                try layer.build(input: shape, rng: &initRng)
                shape = try layer.outputShape(for: shape)
            }
        }
        builtInput = input
        initRng.weightsDiscarded = false   // only the weights of the first complete build are replaced
    }

    /// Keras's build(input_shape) called by the caller (a model declared without an input shape,
    /// possibly compiled already): creates the weights for that shape. A model built already
    /// must be asked for the shape it has.
    func build(declared input: FeatureShape) throws {
        if isBuilt, let built = builtInput {
            guard built.count == input.count, zip(built, input).allSatisfy({ $0 == nil || $1 == nil || $0 == $1 }) else {
                throw LSTMKitError(.invalidArgument, "model '\(name)' is built for input \(built.map { $0.map(String.init) ?? "None" }) already, not \(input.map { $0.map(String.init) ?? "None" })")
            }
            return
        }
        try build(input: input)
    }

    /// Keras's reset_states: the stateful layers (or the one named) forget their carried state.
    func resetStates(layer: String?) throws {
        let stateful = statefulLayers
        if let layer {
            guard let l = layers.first(where: { $0.name == layer }) else {
                throw LSTMKitError(.invalidArgument, "model '\(name)' has no layer '\(layer)'")
            }
            guard let r = l as? RecurrentLayer, r.stateful else {
                throw LSTMKitError(.invalidArgument, "layer '\(layer)' is not a stateful recurrent layer")
            }
            r.resetStates()
            return
        }
        for r in stateful { r.resetStates() }
    }

    /// Output shape (without batch) for an input shape (without batch).
    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        if let graph { return try graph.outputShape(layers, input: input) }
        var shape = input
        for layer in layers { shape = try layer.outputShape(for: shape) }
        return shape
    }

    func compile(_ json: JSON) throws {
        guard let obj = json.objectValue else { throw LSTMKitError(.badConfig, "compile settings must be a JSON object") }
        // Keras's get_compile_config keys: run_eagerly and jit_compile (and auto_scale_loss, for
        // float16) change how Keras runs, not the results; the rest must be at the default.
        let keys = try ConfigReader(json, className: "compile")
        keys.accept(["optimizer", "loss", "metrics", "dtype_policy", "run_eagerly", "jit_compile", "auto_scale_loss"])
        try keys.requireDefault("loss_weights", { _ in false }, "one output, one loss")
        try keys.requireDefault("weighted_metrics", { $0.arrayValue?.isEmpty == true }, "sample weights are not supported")
        try keys.requireDefault("steps_per_execution", { $0.doubleValue == 1 }, "callbacks run after every batch")
        try keys.refuseUnknownKeys()
        guard let lossName = obj["loss"]?.stringValue else {
            throw LSTMKitError(.badConfig, "compile settings need 'loss' (a string)")
        }
        let loss = try LossKind.parse(lossName)
        let optimizer = try makeOptimizer(obj["optimizer"])
        var identifiers: [String] = []
        if let m = obj["metrics"], !m.isNull {
            guard let list = m.arrayValue else { throw LSTMKitError(.badConfig, "'metrics' must be a list") }
            for item in list {
                guard let s = item.stringValue else {
                    throw LSTMKitError(.badConfig, "metrics must be names, got \(item.serialized())")
                }
                identifiers.append(s)
            }
        }
        var policy = DTypePolicy.float32
        if let p = obj["dtype_policy"], !p.isNull {
            guard let name = p.stringValue, let parsed = DTypePolicy(rawValue: name) else {
                throw LSTMKitError(.badConfig, "'dtype_policy' must be \(DTypePolicy.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ")), got \(p.serialized())")
            }
            policy = parsed
        }
        compiled = CompileSettings(loss: LossFunction(kind: loss), optimizer: optimizer,
                                   metricIdentifiers: identifiers, metrics: try Metric.parse(identifiers),
                                   dtypePolicy: policy)
    }

    var config: JSON {
        if let graph {
            var c = graph.config(layers, name: name, input: declaredInput!).objectValue!
            if let trainedInput {
                c["trained_input_shape"] = .array(trainedInput.map { $0.map { .number(Double($0)) } ?? .null })
            }
            return .object(c)
        }
        var top: [String: JSON] = ["name": .string(name),
                                   "layers": .array(layers.map { .object(["class_name": .string($0.className), "config": $0.savedConfig]) })]
        if let shape = declaredInput ?? builtInput {
            top["input_shape"] = .array(shape.map { $0.map { .number(Double($0)) } ?? .null })
        }
        if let trainedInput {
            top["trained_input_shape"] = .array(trainedInput.map { $0.map { .number(Double($0)) } ?? .null })
        }
        return .object(top)
    }

    /// Runs all layers (or a worker's copy of them). training enables dropout; backwardFollows
    /// false (predict, evaluate) lets layers keep only what the output needs.
    func forward(_ x: Tensor, training: Bool, backwardFollows: Bool = true, rng: inout Rng,
                 through stack: [Layer]? = nil) -> Tensor {
        // a forward-only pass computes its rows' products with lk_rows_gemm (Support/RowsExact.swift)
        let wasExact = RowsExact.requested
        RowsExact.set(!backwardFollows)
        defer { RowsExact.set(wasExact) }
        if let graph {
            return graph.forward(x, layers: stack ?? layers, training: training, backwardFollows: backwardFollows, rng: &rng)
        }
        var h = x
        var mask: [Float]? = nil
        var previous: Layer? = nil
        for layer in stack ?? layers {
            layer.prepareForward(backwardFollows: backwardFollows, inputEmbedding: previous as? Embedding)
            (h, mask) = layer.forward(h, mask: mask, training: training, rng: &rng)
            previous = layer
        }
        return h
    }

    /// The last layer when the loss can take its logits directly.
    func fusedOutputLayer(for loss: LossKind, in stack: [Layer]? = nil) -> Dense? {
        if let graph, graph.output.tensor != 0 { return nil }
        guard let dense = (stack ?? layers).last as? Dense, let act = loss.fusedActivation, dense.activation == act else { return nil }
        return dense
    }

    /// Backward from the loss gradient: w.r.t. logits when `fused`, else w.r.t. the output.
    func backward(_ grad: [Float], fused: Bool, outputShape: [Int], through stack: [Layer]? = nil) {
        let all = stack ?? layers
        if let graph { return graph.backward(grad, fused: fused, layers: all) }
        // Layers below the lowest one with weights to train need no gradient (a frozen
        // Embedding first: its scatter into a gradient nobody reads is skipped). A frozen layer
        // above it still passes the gradient on, computing its own weights' unused one.
        guard let lowest = layers.indices.first(where: { !layers[$0].trainableParams.isEmpty }) else { return }
        var g: Tensor
        var rest = all[...]
        if fused, let dense = all.last as? Dense {
            g = dense.backward(preactivationGrad: grad)
            rest = all.dropLast()
        } else {
            g = Tensor(shape: outputShape, data: grad)
        }
        for i in rest.indices.reversed() where i >= lowest {
            g = all[i].backward(g)
            if g.data.isEmpty { break }
        }
    }
}

