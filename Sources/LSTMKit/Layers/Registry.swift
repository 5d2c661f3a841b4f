/// The layer classes a config may name, Keras's other names for them, and Keras's default layer
/// names. Model, Graph and the wrappers (Bidirectional, TimeDistributed) create layers only here.
enum LayerRegistry {
    typealias Make = (_ name: String, _ config: ConfigReader) throws -> Layer

    static let classes: [String: Make] = [
        "Embedding": { try Embedding(name: $0, config: $1) },
        "LSTM": { try LSTM(name: $0, config: $1) },
        "Dense": { try Dense(name: $0, config: $1) },
        "Dropout": { try Dropout(name: $0, config: $1) },
        "GRU": { try GRU(name: $0, config: $1) },
        "SimpleRNN": { try SimpleRNN(name: $0, config: $1) },
        "Bidirectional": { try Bidirectional(name: $0, config: $1) },
        "Masking": { try Masking(name: $0, config: $1) },
        "RepeatVector": { try RepeatVector(name: $0, config: $1) },
        "Flatten": { try Flatten(name: $0, config: $1) },
        "SpatialDropout1D": { try SpatialDropout1D(name: $0, config: $1) },
        "TimeDistributed": { try TimeDistributed(name: $0, config: $1) },
        "Conv1D": { try Conv1D(name: $0, config: $1) },
        "MaxPooling1D": { try MaxPooling1D(name: $0, config: $1) },
        "GlobalMaxPooling1D": { try GlobalMaxPooling1D(name: $0, config: $1) },
        "GlobalAveragePooling1D": { try GlobalAveragePooling1D(name: $0, config: $1) },
        "Concatenate": { try Concatenate(name: $0, config: $1) },
    ]

    /// Keras's other names for the same classes.
    static let aliases: [String: String] = [
        "Convolution1D": "Conv1D", "MaxPool1D": "MaxPooling1D",
        "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalAvgPool1D": "GlobalAveragePooling1D",
    ]

    /// The class a config's class_name means, aliases resolved.
    static func canonical(_ className: String) -> String { aliases[className] ?? className }

    /// The constructor for a class name (aliases resolved); `what` prefixes the error.
    static func maker(_ className: String, what: String) throws -> Make {
        guard let make = classes[canonical(className)] else {
            throw LSTMKitError(.badConfig, "\(what)unknown layer class '\(className)' (known: \(classes.keys.sorted().joined(separator: ", ")))")
        }
        return make
    }

    /// Every layer is made here, a wrapper's inner layers too: the class's init reads its keys,
    /// then the keys every layer shares (trainable, dtype), then any key nobody read is refused
    /// (ConfigReader.refuseUnknownKeys), so a misspelt option fails instead of being ignored.
    /// twoOutputs: Bidirectional may give two outputs (merge_mode None), in a functional graph.
    static func make(_ className: String, _ name: String, _ config: ConfigReader, twoOutputs: Bool = false) throws -> Layer {
        var layer: Layer
        if className == "Bidirectional" && twoOutputs {
            layer = try Bidirectional(name: name, config: config, allowTwoOutputs: true)
        } else {
            layer = try maker(className, what: "")(name, config)
        }
        layer.trainable = try config.bool("trainable", default: true)
        try config.checkLayerDType()
        try config.refuseUnknownKeys(extra: ConfigReader.baseLayerKeys)
        return layer
    }

    /// Keras's InputLayer config keys; sparse and ragged describe Keras's tensors, not the values.
    static let inputLayerKeys = ["name", "dtype", "batch_shape", "batch_input_shape", "input_shape",
                                 "batch_size", "sparse", "ragged", "optional"]

    /// A layer for a functional graph, where Bidirectional may give two outputs (merge_mode None).
    static func makeGraphLayer(_ className: String, _ name: String, _ config: ConfigReader) throws -> Layer {
        try make(className, name, config, twoOutputs: true)
    }

    /// A new, unbuilt layer of the same class and configuration (for worker copies).
    static func makeLayer(like layer: Layer) throws -> Layer {
        try makeGraphLayer(layer.className, layer.name, ConfigReader(layer.savedConfig, className: layer.className))
    }

    /// Keras's to_snake_case for default layer names: "_" before a capitalised word that
    /// follows any character, and between a lower-case letter and a capital; then lower case.
    /// LSTM -> lstm, Conv1D -> conv1d, GlobalAveragePooling1D -> global_average_pooling1d.
    static func snakeCase(_ s: String) -> String {
        let chars = Array(s)
        func isUpper(_ c: Character) -> Bool { c >= "A" && c <= "Z" }
        func isLower(_ c: Character) -> Bool { c >= "a" && c <= "z" }
        var pass1: [Character] = []
        for (i, ch) in chars.enumerated() {
            if i > 0 && isUpper(ch) && i + 1 < chars.count && isLower(chars[i + 1]) { pass1.append("_") }
            pass1.append(ch)
        }
        var out = ""
        for (i, ch) in pass1.enumerated() {
            if i > 0 && isUpper(ch) && isLower(pass1[i - 1]) { out.append("_") }
            out.append(ch)
        }
        return out.lowercased()
    }
}

/// Keras's default names within one model: the class in snake case, then _1, _2, ... for the
/// next layers of that class, skipping names already taken.
struct DefaultLayerNames {
    private var counters: [String: Int] = [:]

    mutating func next(for className: String, avoiding used: Set<String> = []) -> String {
        let base = LayerRegistry.snakeCase(LayerRegistry.canonical(className))
        var name: String
        repeat {
            let k = counters[base, default: 0]
            name = k == 0 ? base : "\(base)_\(k)"
            counters[base] = k + 1
        } while used.contains(name)
        return name
    }
}
