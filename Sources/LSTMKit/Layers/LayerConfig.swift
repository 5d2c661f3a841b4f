/// Typed reads from a layer's JSON config, with errors that name the layer and the field.
struct LayerConfig {
    let json: [String: JSON]
    let className: String

    init(_ json: JSON?, className: String) throws {
        guard let json else { self.init(fields: [:], className: className); return }
        guard let object = json.objectValue else {
            throw LSTMKitError(.badConfig, "\(className): config must be a JSON object")
        }
        try LayerConfig.refuseUnimplementedKerasOptions(object, className: className)
        self.init(fields: object, className: className)
    }

    /// Keras's defaults for the initializers the engine implements, by config key.
    private static let defaultInitializers: [String: Set<String>] = [
        "kernel_initializer": ["glorotuniform"],
        "recurrent_initializer": ["orthogonal"],
        "bias_initializer": ["zeros", "zero"],
        "embeddings_initializer": ["uniform", "randomuniform"],
    ]

    /// Keras options that change what a layer computes but that the engine does not implement
    /// (other initializers, regularizers, constraints, unroll) are refused when set, so a
    /// ported model never trains differently without saying so. Their Keras defaults pass.
    private static func refuseUnimplementedKerasOptions(_ fields: [String: JSON], className: String) throws {
        for (key, value) in fields where !value.isNull {
            if key.hasSuffix("_initializer") {
                let name = value.stringValue ?? value["class_name"]?.stringValue ?? value.serialized()
                let normalized = name.lowercased().filter { $0 != "_" }
                guard let allowed = defaultInitializers[key], allowed.contains(normalized) else {
                    let hint = defaultInitializers[key].map { " (only Keras's default, \($0.sorted()[0]))" } ?? ""
                    throw LSTMKitError(.badConfig, "\(className): '\(key)' = \(name) is not supported\(hint)")
                }
            } else if key.hasSuffix("_regularizer") || key.hasSuffix("_constraint") {
                throw LSTMKitError(.badConfig, "\(className): '\(key)' is not supported (only null)")
            } else if key == "unroll", value.boolValue != false {
                throw LSTMKitError(.badConfig, "\(className): 'unroll' is not supported (only false)")
            }
        }
    }

    private init(fields: [String: JSON], className: String) {
        self.json = fields
        self.className = className
    }

    private func fail(_ key: String, _ what: String) -> LSTMKitError {
        LSTMKitError(.badConfig, "\(className): '\(key)' \(what)")
    }

    func int(_ key: String, default def: Int? = nil, min: Int = 1, max: Int = 1 << 28) throws -> Int {
        guard let v = json[key], !v.isNull else {
            if let def { return def }
            throw fail(key, "is required")
        }
        guard let i = v.intValue else { throw fail(key, "must be an integer") }
        guard i >= min && i <= max else { throw fail(key, "must be between \(min) and \(max), got \(i)") }
        return i
    }

    func float(_ key: String, default def: Float, min: Float = -.infinity, max: Float = .infinity,
               maxInclusive: Bool = true) throws -> Float {
        guard let v = json[key], !v.isNull else { return def }
        guard let d = v.doubleValue, d.isFinite else { throw fail(key, "must be a number") }
        let f = Float(d)
        guard f >= min && (maxInclusive ? f <= max : f < max) else {
            throw fail(key, "must be in [\(min), \(max)\(maxInclusive ? "]" : ")"), got \(d)")
        }
        return f
    }

    func bool(_ key: String, default def: Bool) throws -> Bool {
        guard let v = json[key], !v.isNull else { return def }
        guard let b = v.boolValue else { throw fail(key, "must be true or false") }
        return b
    }

    func string(_ key: String, default def: String?) throws -> String? {
        guard let v = json[key], !v.isNull else { return def }
        guard let s = v.stringValue else { throw fail(key, "must be a string") }
        return s
    }

    /// Keras's input_shape / batch_input_shape given on a layer, without the batch dimension.
    func inputShape() throws -> FeatureShape? {
        if let v = json["input_shape"], !v.isNull { return try parseShape(v, key: "input_shape", dropFirst: false) }
        if let v = json["batch_input_shape"], !v.isNull { return try parseShape(v, key: "batch_input_shape", dropFirst: true) }
        if let v = json["batch_shape"], !v.isNull { return try parseShape(v, key: "batch_shape", dropFirst: true) }
        return nil
    }

    private func parseShape(_ v: JSON, key: String, dropFirst: Bool) throws -> FeatureShape {
        try parseFeatureShape(v, what: "\(className): '\(key)'", dropFirst: dropFirst)
    }
}

func parseFeatureShape(_ v: JSON, what: String, dropFirst: Bool) throws -> FeatureShape {
    guard var items = v.arrayValue else { throw LSTMKitError(.badConfig, "\(what) must be a list") }
    if dropFirst {
        guard !items.isEmpty else { throw LSTMKitError(.badConfig, "\(what) must include the batch dimension") }
        items.removeFirst()
    }
    guard !items.isEmpty && items.count <= 7 else {
        throw LSTMKitError(.badConfig, "\(what) must have 1 to 7 dimensions besides the batch")
    }
    return try items.map { item -> Int? in
        if item.isNull { return nil }
        guard let i = item.intValue, i >= 1, i <= 1 << 28 else {
            throw LSTMKitError(.badConfig, "\(what) entries must be positive integers or null")
        }
        return i
    }
}

/// Activation functions that Dense supports, named as in Keras.
enum Activation: String {
    case linear, relu, sigmoid, tanh, softmax

    static func parse(_ name: String?, layer: String) throws -> Activation {
        guard let name else { return .linear }
        guard let a = Activation(rawValue: name) else {
            throw LSTMKitError(.badConfig, "\(layer): unknown activation '\(name)' (linear, relu, sigmoid, tanh, softmax)")
        }
        return a
    }
}
