/// Typed reads from the JSON config of a layer (or an optimizer, a learning-rate schedule), with
/// errors that name the class and the field. Every key asked for is noted (whether present or
/// not: those are the keys the reader knows), so that once the layer is made, refuseUnknownKeys
/// can refuse what nobody read: a misspelt 'return_sequence' would otherwise leave the layer at
/// its default without a word.
struct ConfigReader {
    let json: [String: JSON]
    let className: String
    /// Shared by the copies of this config handed to a layer's init and its superclass's.
    private let known = KnownKeys()

    private final class KnownKeys { var keys = Set<String>() }

    init(_ json: JSON?, className: String) throws {
        guard let json else { self.init(fields: [:], className: className); return }
        guard let object = json.objectValue else {
            throw LSTMKitError(.badConfig, "\(className): config must be a JSON object")
        }
        try ConfigReader.refuseUnimplementedKerasOptions(object, className: className)
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

    /// The value of a key, noted as known; nil when absent.
    func value(_ key: String) -> JSON? {
        known.keys.insert(key)
        return json[key]
    }

    /// Notes keys a reader accepts without reading them here: Keras options that do not change
    /// what is computed (implementation), or whose values the init checks elsewhere (the
    /// initializers, regularizers and constraints, which refuseUnimplementedKerasOptions checks
    /// for every key of those names).
    func accept(_ keys: [String]) { known.keys.formUnion(keys) }

    /// Notes <weight>_initializer, <weight>_regularizer and <weight>_constraint for each weight.
    func acceptWeightOptions(_ weights: [String]) {
        accept(weights.flatMap { ["\($0)_initializer", "\($0)_regularizer", "\($0)_constraint"] })
    }

    /// A key Keras writes that must have its default value here, with the reason if not.
    func requireDefault(_ key: String, _ isDefault: (JSON) -> Bool, _ why: String) throws {
        if let v = value(key), !v.isNull, !isDefault(v) { throw fail(key, "= \(v.serialized()) is not supported (\(why))") }
    }

    /// Keys every Keras layer config may carry: the base Layer's name, trainable, dtype (checked
    /// by checkLayerDType) and activity_regularizer, and the input shapes (only the first
    /// layer's are used; Keras also ignores them on later layers).
    static let baseLayerKeys = ["name", "trainable", "dtype", "activity_regularizer",
                                "input_shape", "batch_input_shape", "batch_shape", "batch_size"]

    /// Throws .badConfig naming the first key (in sorted order) that no reader asked for, with
    /// the nearest known key when one is close. `extra`: keys the caller accepts besides.
    func refuseUnknownKeys(extra: [String] = []) throws {
        try LSTMKit.refuseUnknownKeys(json, known: known.keys.union(extra), what: "\(className): unknown config key")
    }

    /// Keras's dtype on a layer (a name, or Keras 3's DTypePolicy object): float32 only, as the
    /// engine computes in float32; mixed_bfloat16 is compile's dtype_policy here.
    func checkLayerDType() throws {
        guard let v = value("dtype"), !v.isNull else { return }
        let name = v.stringValue ?? v["config"]?["name"]?.stringValue
        guard name == "float32" else {
            throw fail("dtype", "= \(v.serialized()) is not supported (only float32; for mixed_bfloat16 set compile's dtype_policy)")
        }
    }

    /// A required key is absent: a misspelling of it is the likely cause, so it is named.
    private func missing(_ key: String) -> LSTMKitError {
        for given in json.keys.sorted() where nearestKey(given, in: [key]) != nil {
            return fail(key, "is required (the config has '\(given)': did you mean '\(key)'?)")
        }
        return fail(key, "is required")
    }

    private func fail(_ key: String, _ what: String) -> LSTMKitError {
        LSTMKitError(.badConfig, "\(className): '\(key)' \(what)")
    }

    func int(_ key: String, default def: Int? = nil, min: Int = 1, max: Int = 1 << 28) throws -> Int {
        guard let v = value(key), !v.isNull else {
            if let def { return def }
            throw missing(key)
        }
        guard let i = v.intValue else { throw fail(key, "must be an integer") }
        guard i >= min && i <= max else { throw fail(key, "must be between \(min) and \(max), got \(i)") }
        return i
    }

    func float(_ key: String, default def: Float, min: Float = -.infinity, max: Float = .infinity,
               maxInclusive: Bool = true) throws -> Float {
        guard let v = value(key), !v.isNull else { return def }
        guard let d = v.doubleValue, d.isFinite else { throw fail(key, "must be a number") }
        let f = Float(d)
        guard f >= min && (maxInclusive ? f <= max : f < max) else {
            throw fail(key, "must be in [\(min), \(max)\(maxInclusive ? "]" : ")"), got \(d)")
        }
        return f
    }

    func bool(_ key: String, default def: Bool) throws -> Bool {
        guard let v = value(key), !v.isNull else { return def }
        guard let b = v.boolValue else { throw fail(key, "must be true or false") }
        return b
    }

    func string(_ key: String, default def: String?) throws -> String? {
        guard let v = value(key), !v.isNull else { return def }
        guard let s = v.stringValue else { throw fail(key, "must be a string") }
        return s
    }

    /// Keras's input_shape / batch_input_shape given on a layer, without the batch dimension.
    func inputShape() throws -> FeatureShape? {
        if let v = value("input_shape"), !v.isNull { return try parseShape(v, key: "input_shape", dropFirst: false) }
        if let v = value("batch_input_shape"), !v.isNull { return try parseShape(v, key: "batch_input_shape", dropFirst: true) }
        if let v = value("batch_shape"), !v.isNull { return try parseShape(v, key: "batch_shape", dropFirst: true) }
        return nil
    }

    private func parseShape(_ v: JSON, key: String, dropFirst: Bool) throws -> FeatureShape {
        try parseFeatureShape(v, what: "\(className): '\(key)'", dropFirst: dropFirst)
    }
}

/// Throws .badConfig "<what> '<key>'" for the first key of object (in sorted order) not in
/// known, with the nearest known key when one is close.
func refuseUnknownKeys(_ object: [String: JSON], known: Set<String>, what: String) throws {
    for key in object.keys.sorted() where !known.contains(key) {
        var message = "\(what) '\(key)'"
        if let near = nearestKey(key, in: known) { message += " (did you mean '\(near)'?)" }
        throw LSTMKitError(.badConfig, message)
    }
}

/// The known key nearest to `key` by edit distance, when it is near enough to be a misspelling
/// (at most a third of the key's length, and at least 1): 'return_sequence' -> 'return_sequences'.
func nearestKey(_ key: String, in known: Set<String>) -> String? {
    let limit = max(1, key.count / 3)
    var best: (String, Int)? = nil
    for candidate in known.sorted() {
        let d = editDistance(key, candidate)
        if d <= limit && d < (best?.1 ?? Int.max) { best = (candidate, d) }
    }
    return best?.0
}

/// Levenshtein distance (insertions, deletions, substitutions) over characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var previous = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let substitution = previous + (a[i - 1] == b[j - 1] ? 0 : 1)
            previous = row[j]
            row[j] = Swift.min(substitution, row[j] + 1, row[j - 1] + 1)
        }
    }
    return row[b.count]
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
