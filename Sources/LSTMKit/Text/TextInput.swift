/// Text in one call (lstmkit_model_predict_texts): the model's own tokenizer turns texts into
/// token ids (texts_to_sequences), and the padding settings saved with the model turn those into
/// rows of one length (pad_sequences), which predict then runs on.

/// Keras's pad_sequences arguments for a model's texts, saved in its file as
/// "lstmkit.text_padding": {"maxlen": 600 or null, "padding": "pre", "truncating": "pre", "value": 0}.
/// A file without them gets Keras's defaults with the model's input length.
struct TextPadding: Equatable {
    /// nil: the model's input length (fixed by its configuration or the data it was trained on).
    var maxlen: Int?
    var padding: PadSide = .pre
    var truncating: PadSide = .pre
    var value: Int32 = 0

    static let metadataKey = "lstmkit.text_padding"
    static let maxLength = 1 << 30

    var json: JSON {
        func side(_ s: PadSide) -> JSON { .string(s == .pre ? "pre" : "post") }
        return .object(["maxlen": maxlen.map { .number(Double($0)) } ?? .null, "padding": side(padding),
                        "truncating": side(truncating), "value": .number(Double(value))])
    }

    /// The inverse of `json` (for a model file: every failure is BAD_CONFIG, which load turns
    /// into FORMAT naming the file).
    init(json: JSON) throws {
        func bad(_ message: String) -> LSTMKitError { LSTMKitError(.badConfig, "text padding: " + message) }
        guard let o = json.objectValue else { throw bad("not an object") }
        for key in o.keys where !["maxlen", "padding", "truncating", "value"].contains(key) {
            throw bad("unknown key \"\(key)\"")
        }
        func integer(_ v: JSON, _ range: ClosedRange<Double>) -> Int? {
            guard let d = v.doubleValue, range.contains(d), d.rounded(.towardZero) == d else { return nil }
            return Int(d)
        }
        func side(_ key: String) throws -> PadSide {
            guard let v = o[key] else { return .pre }
            switch v.stringValue {
            case "pre": return .pre
            case "post": return .post
            default: throw bad("\(key) must be \"pre\" or \"post\"")
            }
        }
        if let v = o["maxlen"], !v.isNull {
            guard let n = integer(v, 1...Double(TextPadding.maxLength)) else { throw bad("maxlen must be null or an integer 1 to 2^30") }
            maxlen = n
        }
        padding = try side("padding")
        truncating = try side("truncating")
        if let v = o["value"] {
            guard let n = integer(v, Double(Int32.min)...Double(Int32.max)) else { throw bad("value must be a 32-bit integer") }
            value = Int32(n)
        }
    }

    init(maxlen: Int?, padding: PadSide, truncating: PadSide, value: Int32) {
        self.maxlen = maxlen
        self.padding = padding
        self.truncating = truncating
        self.value = value
    }
}

/// Token id rows for predict: n * maxlen ids, and each text's id count before padding.
struct TextRows {
    let ids: [Int32]
    let maxlen: Int
    let lengths: [Int]
}

extension Model {
    /// The sequence length predict_texts pads to: the saved maxlen, else the model's input length;
    /// nil when neither is known.
    var textMaxlen: Int? {
        if let m = textPadding?.maxlen { return m }
        guard let shape = expectedInput, shape.count == 1 else { return nil }
        return shape[0]
    }

    /// The length the configuration (or the build) fixes, which every input must have.
    private var fixedLength: Int? {
        guard let shape = declaredInput, shape.count == 1 else { return nil }
        return shape[0]
    }

    private func requireTextInput() throws -> Embedding {
        guard let embedding = inputEmbedding, expectedInput.map({ $0.count == 1 }) ?? true else {
            throw LSTMKitError(.invalidArgument, "model '\(name)' does not start with an Embedding taking (samples, timesteps) token ids, so it takes no texts")
        }
        return embedding
    }

    /// Checks the settings against the model before keeping them (saved with it).
    func setTextPadding(_ p: TextPadding) throws {
        let embedding = try requireTextInput()
        if let m = p.maxlen, let fixed = fixedLength, m != fixed {
            throw LSTMKitError(.invalidArgument, "maxlen is \(m), but model '\(name)' takes sequences of \(fixed) ids; pass \(fixed) or -1 (the model's length)")
        }
        guard p.value >= 0 && Int(p.value) < embedding.inputDim else {
            throw LSTMKitError(.invalidArgument, "the padding value \(p.value) is not a token id in 0..<\(embedding.inputDim) (Embedding input_dim)")
        }
        textPadding = p
    }

    /// texts_to_sequences with the model's tokenizer, then pad_sequences with its text padding.
    /// A text that gives no id (empty, or every word unknown to a tokenizer without oov_token)
    /// becomes a row of padding, as in Keras; its length of 0 tells the caller.
    func textRows(_ texts: [UnsafeBufferPointer<UInt8>]) throws -> TextRows {
        guard let tokenizer else {
            throw LSTMKitError(.wrongState, "model '\(name)' has no tokenizer to read texts with: attach the one it was trained with (lstmkit_model_set_tokenizer, or model.save(path, tokenizer=...) in Python) and save the model with it")
        }
        let embedding = try requireTextInput()
        guard let maxlen = textMaxlen else {
            throw LSTMKitError(.wrongState, "model '\(name)' has no input length and no text padding maxlen was saved with it: set one (lstmkit_model_set_text_padding, or model.save(path, padding=dict(maxlen=...)) in Python)")
        }
        let settings = textPadding ?? TextPadding(maxlen: nil, padding: .pre, truncating: .pre, value: 0)
        try require(!texts.isEmpty, "n is 0; give at least one text")
        var flat: [Int32] = []
        var offsets: [Int64] = [0]
        offsets.reserveCapacity(texts.count + 1)
        for (i, text) in texts.enumerated() {
            let seq: [Int32]
            do {
                seq = try tokenizer.sequenceFresh(for: text)
            } catch let e as LSTMKitError {
                throw LSTMKitError(e.status, "texts[\(i)]: \(e.message)")
            }
            if let bad = seq.first(where: { Int($0) >= embedding.inputDim }) {
                throw LSTMKitError(.invalidArgument, "texts[\(i)] gives token id \(bad), but the model's Embedding takes ids 0..<\(embedding.inputDim): its tokenizer knows more words than the model (fit it with num_words=\(embedding.inputDim))")
            }
            flat += seq
            offsets.append(Int64(flat.count))
        }
        let (cells, overflow) = texts.count.multipliedReportingOverflow(by: maxlen)
        guard !overflow, cells <= 1 << 40 else { throw LSTMKitError(.noMemory, "\(texts.count) texts of \(maxlen) ids are too many to address") }
        var rows = [Int32](repeating: 0, count: cells)
        try flat.withUnsafeBufferPointer { ids in
            try offsets.withUnsafeBufferPointer { offs in
                try rows.withUnsafeMutableBufferPointer { out in
                    try padSequences(ids: ids, offsets: offs, maxlen: maxlen, padding: settings.padding,
                                     truncating: settings.truncating, value: settings.value, into: out)
                }
            }
        }
        let lengths = (0..<texts.count).map { Int(offsets[$0 + 1] - offsets[$0]) }
        return TextRows(ids: rows, maxlen: maxlen, lengths: lengths)
    }
}
