/// Saving and loading a model as one safetensors file: weights as "<layer>/<weight>" tensors in
/// Keras's order, and in the metadata the configuration, the compile settings, the input shape
/// the weights were built for and the tokenizer.
extension Model {
    static let formatVersion = "1"

    func save(path: String) throws {
        guard isBuilt, let built = builtInput else {
            throw LSTMKitError(.wrongState, "the model has no weights yet: give it an input_shape, or fit or predict once before saving")
        }
        var metadata = ["lstmkit.format": Model.formatVersion,
                        "lstmkit.version": libraryVersionString,
                        "lstmkit.config": config.serialized(),
                        "lstmkit.built_input_shape": JSON.array(built.map { $0.map { .number(Double($0)) } ?? .null }).serialized()]
        if let compiled { metadata["lstmkit.compile"] = compiled.json.serialized() }
        if let tokenizer { metadata["lstmkit.tokenizer"] = tokenizer.toJSON().serialized() }
        var tensors: [TensorRecord] = []
        for (key, p) in zip(weightNames, params) {
            tensors.append(TensorRecord(name: key, shape: p.shape, values: p.value))
        }
        try Safetensors.write(path: path, metadata: metadata, tensors: tensors)
    }

    static func load(path: String) throws -> Model {
        let (metadata, tensors) = try Safetensors.read(path: path)
        func corrupt(_ what: String) -> LSTMKitError {
            LSTMKitError(.format, "\(path) is not a usable lstmkit model: \(what)")
        }
        guard let format = metadata["lstmkit.format"] else { throw corrupt("no lstmkit metadata (a safetensors file from elsewhere?)") }
        guard format == Model.formatVersion else { throw corrupt("format version \(format), this library reads \(Model.formatVersion)") }
        func parsed(_ key: String) throws -> JSON? {
            guard let text = metadata[key] else { return nil }
            do { return try JSON.parse(text) } catch let e as LSTMKitError { throw corrupt("\(key): \(e.message)") }
        }
        let model: Model
        do {
            guard let config = try parsed("lstmkit.config") else { throw corrupt("no model configuration") }
            model = try Model(config: config, seed: 0)
            guard let shapeJSON = try parsed("lstmkit.built_input_shape") else { throw corrupt("no input shape") }
            try model.build(input: parseFeatureShape(shapeJSON, what: "built input shape", dropFirst: false))
            if let compile = try parsed("lstmkit.compile") { try model.compile(compile) }
            if let tok = try parsed("lstmkit.tokenizer") { model.tokenizer = try Tokenizer.fromJSON(tok) }
        } catch let e as LSTMKitError where e.status != .format {
            throw corrupt(e.message)
        }
        var byName: [String: TensorRecord] = [:]
        for t in tensors { byName[t.name] = t }
        var used = 0
        for (key, p) in zip(model.weightNames, model.params) {
            guard let t = byName[key] else { throw corrupt("weight '\(key)' is missing") }
            guard t.shape == p.shape else { throw corrupt("weight '\(key)' has shape \(t.shape), the configuration needs \(p.shape)") }
            p.value = t.values
            used += 1
        }
        guard used == tensors.count else { throw corrupt("it holds \(tensors.count - used) weights the configuration does not use") }
        return model
    }
}
