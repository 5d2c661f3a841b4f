/// A Sequential model: the layers, how it was compiled, and the tokenizer saved with it.
final class Model {
    let name: String
    private(set) var layers: [Layer]
    /// Input shape from the configuration (without batch); nil entries accept any length.
    let declaredInput: FeatureShape?
    /// The input shape the weights were built for, refined by the last data seen (for summary()).
    private(set) var builtInput: FeatureShape?
    private(set) var compiled: CompileSettings?
    var tokenizer: Tokenizer?
    private var initRng: Rng

    struct CompileSettings {
        let loss: LossFunction
        let optimizer: Adam
        let metrics: [String]
        var json: JSON {
            .object(["optimizer": optimizer.config, "loss": .string(loss.kind.rawValue),
                     "metrics": .array(metrics.map { .string($0) })])
        }
    }

    static let layerClasses: [String: (String, LayerConfig) throws -> Layer] = [
        "Embedding": { try Embedding(name: $0, config: $1) },
        "LSTM": { try LSTM(name: $0, config: $1) },
        "Dense": { try Dense(name: $0, config: $1) },
        "Dropout": { try Dropout(name: $0, config: $1) },
    ]

    init(config: JSON, seed: UInt64) throws {
        guard let top = config.objectValue else { throw LSTMKitError(.badConfig, "model config must be a JSON object") }
        guard let list = top["layers"]?.arrayValue else {
            throw LSTMKitError(.badConfig, "model config needs a 'layers' list")
        }
        name = try top["name"].map { v -> String in
            guard let s = v.stringValue else { throw LSTMKitError(.badConfig, "model 'name' must be a string") }
            return s
        } ?? "sequential"
        var input: FeatureShape? = try top["input_shape"].flatMap { $0.isNull ? nil : try parseFeatureShape($0, what: "'input_shape'", dropFirst: false) }
        var built: [Layer] = []
        var used = Set<String>()
        var counters: [String: Int] = [:]
        for (i, entry) in list.enumerated() {
            guard let className = entry["class_name"]?.stringValue else {
                throw LSTMKitError(.badConfig, "layer \(i): 'class_name' (a string) is required")
            }
            let cfg = try LayerConfig(entry["config"], className: className)
            if className == "InputLayer" {
                guard built.isEmpty else { throw LSTMKitError(.badConfig, "layer \(i): InputLayer must come first") }
                input = try cfg.inputShape() ?? input
                continue
            }
            guard let make = Model.layerClasses[className] else {
                throw LSTMKitError(.badConfig, "layer \(i): unknown layer class '\(className)' (known: \(Model.layerClasses.keys.sorted().joined(separator: ", ")))")
            }
            var layerName = try cfg.string("name", default: nil) ?? ""
            if layerName.isEmpty {
                let base = Model.snakeCase(className)
                let k = counters[base, default: 0]
                layerName = k == 0 ? base : "\(base)_\(k)"
                counters[base] = k + 1
                while used.contains(layerName) {
                    let k = counters[base, default: 0]
                    layerName = "\(base)_\(k)"
                    counters[base] = k + 1
                }
            }
            guard !used.contains(layerName) else { throw LSTMKitError(.badConfig, "layer \(i): duplicate layer name '\(layerName)'") }
            guard !layerName.contains("/") else { throw LSTMKitError(.badConfig, "layer \(i): a layer name may not contain '/'") }
            used.insert(layerName)
            if built.isEmpty, let shape = try cfg.inputShape() { input = shape }
            if built.isEmpty, className == "Embedding", input == nil {
                let len = try cfg.int("input_length", default: 0, min: 0)
                input = [len == 0 ? nil : len]
            }
            built.append(try make(layerName, cfg))
        }
        guard !built.isEmpty else { throw LSTMKitError(.badConfig, "a model needs at least one layer") }
        if built.first is Embedding, let input, input.count != 1 {
            throw LSTMKitError(.badConfig, "a model starting with Embedding takes input of shape (timesteps,), got \(input.count) dimensions")
        }
        layers = built
        declaredInput = input
        initRng = Rng(seed: seed)
        if let input { try build(input: input) }
    }

    private static func snakeCase(_ s: String) -> String {
        if s == "LSTM" || s == "GRU" { return s.lowercased() }
        var out = ""
        for (i, ch) in s.enumerated() {
            if ch.isUppercase && i > 0 { out.append("_") }
            out.append(Character(ch.lowercased()))
        }
        return out
    }

    var inputIsIds: Bool { layers.first is Embedding }
    var isBuilt: Bool { layers.allSatisfy { $0.isBuilt } && builtInput != nil }
    var params: [Param] { layers.flatMap { $0.params } }
    var paramCount: Int { params.reduce(0) { $0 + $1.count } }
    var weightNames: [String] { layers.flatMap { l in l.params.map { "\(l.name)/\($0.name)" } } }

    /// Creates the weights (once) and checks that every layer accepts the previous one's output.
    func build(input: FeatureShape) throws {
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
        var shape = input
        for layer in layers {
            try layer.build(input: shape, rng: &initRng)
            shape = try layer.outputShape(for: shape)
        }
        builtInput = input
    }

    /// Output shape (without batch) for an input shape (without batch).
    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        var shape = input
        for layer in layers { shape = try layer.outputShape(for: shape) }
        return shape
    }

    func compile(_ json: JSON) throws {
        guard let obj = json.objectValue else { throw LSTMKitError(.badConfig, "compile settings must be a JSON object") }
        guard let lossName = obj["loss"]?.stringValue else {
            throw LSTMKitError(.badConfig, "compile settings need 'loss' (a string)")
        }
        let loss = try LossKind.parse(lossName)
        var optConfig: JSON? = nil
        let optName: String
        switch obj["optimizer"] {
        case nil, .null?: optName = "adam"
        case .string(let s)?: optName = s
        case .object(let o)?:
            optName = o["class_name"]?.stringValue ?? o["name"]?.stringValue ?? "adam"
            var rest = o
            rest["class_name"] = nil
            rest["name"] = nil
            optConfig = .object(rest)
        default: throw LSTMKitError(.badConfig, "'optimizer' must be a name or an object")
        }
        guard optName.lowercased() == "adam" else {
            throw LSTMKitError(.badConfig, "unknown optimizer '\(optName)' (adam)")
        }
        var metrics: [String] = []
        if let m = obj["metrics"], !m.isNull {
            guard let list = m.arrayValue else { throw LSTMKitError(.badConfig, "'metrics' must be a list") }
            for item in list {
                guard let s = item.stringValue, ["accuracy", "acc"].contains(s) else {
                    throw LSTMKitError(.badConfig, "unknown metric \(item.serialized()) (accuracy)")
                }
                metrics.append("accuracy")
            }
        }
        compiled = CompileSettings(loss: LossFunction(kind: loss), optimizer: try Adam(config: optConfig), metrics: metrics)
    }

    var config: JSON {
        var top: [String: JSON] = ["name": .string(name),
                                   "layers": .array(layers.map { .object(["class_name": .string($0.className), "config": $0.config]) })]
        if let shape = declaredInput ?? builtInput {
            top["input_shape"] = .array(shape.map { $0.map { .number(Double($0)) } ?? .null })
        }
        return .object(top)
    }

    /// Runs all layers. training enables dropout and keeps what backward needs.
    func forward(_ x: Tensor, training: Bool, rng: inout Rng) -> Tensor {
        var h = x
        var mask: [Float]? = nil
        for layer in layers { (h, mask) = layer.forward(h, mask: mask, training: training, rng: &rng) }
        return h
    }

    /// The last layer when the loss can take its logits directly.
    func fusedOutputLayer(for loss: LossKind) -> Dense? {
        guard let dense = layers.last as? Dense, let act = loss.fusedActivation, dense.activation == act else { return nil }
        return dense
    }

    /// Backward from the loss gradient: w.r.t. logits when `fused`, else w.r.t. the output.
    func backward(_ grad: [Float], fused: Bool, outputShape: [Int]) {
        var g: Tensor
        var rest = layers[...]
        if fused, let dense = layers.last as? Dense {
            g = dense.backward(preactivationGrad: grad)
            rest = layers.dropLast()
        } else {
            g = Tensor(shape: outputShape, data: grad)
        }
        for layer in rest.reversed() {
            g = layer.backward(g)
            if g.data.isEmpty { break }
        }
    }
}
