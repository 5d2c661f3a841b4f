/// Saving and loading a model as one safetensors file: weights as "<layer>/<weight>" tensors in
/// Keras's order, and in the metadata the configuration, the compile settings, the input shape
/// the weights were built for, the tokenizer, the target tokenizer (a translation model's) and
/// the text padding predict_texts uses (Text/TextInput.swift). Once the optimizer has taken a step, its state
/// goes too, as Keras's model.save does: "optimizer/<layer>/<weight>/<slot>" tensors (Adam's m
/// and v, SGD's momentum, RMSprop's velocity/momentum/average_gradient, Adagrad's accumulator)
/// and the iteration count in the metadata, so a loaded model resumes training where it
/// stopped. Files without them (older ones, or never trained) load with a fresh optimizer.
extension Model {
    static let formatVersion = "1"
    static let optimizerIterationsKey = "lstmkit.optimizer_iterations"
    static func optimizerTensorName(_ weight: String, _ slot: String) -> String { "optimizer/\(weight)/\(slot)" }

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
        if let targetTokenizer { metadata["lstmkit.target_tokenizer"] = targetTokenizer.toJSON().serialized() }
        if let textPadding { metadata[TextPadding.metadataKey] = textPadding.json.serialized() }
        var tensors: [TensorRecord] = []
        for (key, p) in zip(weightNames, params) {
            tensors.append(TensorRecord(name: key, shape: p.shape, values: p.value))
        }
        if let optimizer = compiled?.optimizer, optimizer.iterations > 0 {
            metadata[Model.optimizerIterationsKey] = String(optimizer.iterations)
            // Only the trainable weights have optimizer state, as in Keras.
            let trainable = trainableWeights
            for slot in optimizer.slotNames {
                let values = optimizer.slotValues(slot)
                guard values.count == trainable.count else {
                    throw LSTMKitError(.internal, "optimizer slot '\(slot)' has \(values.count) entries for \(trainable.count) trainable weights")
                }
                for ((key, p), v) in zip(trainable, values) {
                    tensors.append(TensorRecord(name: Model.optimizerTensorName(key, slot), shape: p.shape, values: v))
                }
            }
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
            model = try Model(config: config, seed: 0, weightsFollow: true)   // every weight is checked below
            guard let shapeJSON = try parsed("lstmkit.built_input_shape") else { throw corrupt("no input shape") }
            try model.build(input: parseFeatureShape(shapeJSON, what: "built input shape", dropFirst: false))
            if let compile = try parsed("lstmkit.compile") { try model.compile(compile) }
            if let tok = try parsed("lstmkit.tokenizer") { model.tokenizer = try Tokenizer.fromJSON(tok) }
            if let tok = try parsed("lstmkit.target_tokenizer") { model.targetTokenizer = try Tokenizer.fromJSON(tok) }
            if let padding = try parsed(TextPadding.metadataKey) { try model.setTextPadding(TextPadding(json: padding)) }
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
        if let text = metadata[Model.optimizerIterationsKey] {
            guard let optimizer = model.compiled?.optimizer else { throw corrupt("optimizer state without compile settings") }
            guard let iterations = Int(text), iterations >= 0, iterations <= 1 << 53 else {
                throw corrupt("\(Model.optimizerIterationsKey) '\(text)' is not an iteration count")
            }
            var slots: [String: [[Float]]] = [:]
            for slot in optimizer.slotNames {
                var values: [[Float]] = []
                for (key, p) in model.trainableWeights {
                    let name = Model.optimizerTensorName(key, slot)
                    guard let t = byName[name] else { throw corrupt("optimizer state '\(name)' is missing") }
                    guard t.shape == p.shape else { throw corrupt("optimizer state '\(name)' has shape \(t.shape), its weight has \(p.shape)") }
                    // Values are not checked, like the weights: training can reach an infinite
                    // second moment with finite weights, and a model that saved must load. The
                    // next fit then stops with NUMERIC, as it would have without the save.
                    values.append(t.values)
                    used += 1
                }
                slots[slot] = values
            }
            optimizer.restore(iterations: iterations, slots: slots, params: model.trainableParams)
        }
        guard used == tensors.count else { throw corrupt("it holds \(tensors.count - used) weights the configuration does not use") }
        return model
    }
}
