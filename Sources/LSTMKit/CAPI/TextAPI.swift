import Glibc
import CLSTMKitABI

// The C entry points for text in one call: the text padding and target tokenizer saved with a
// model, predict_texts, and sequence_to_text. Argument checks and conversions only; the work is
// in Text/TextInput.swift and Text/Tokenizer.swift.

private func withModel<R>(_ h: OpaquePointer?, _ access: HandleEntry.Access = .read, _ body: (Model) throws -> R) throws -> R {
    try HandleRegistry.with(h, as: Model.self, "model", access, body)
}

private func padSide(_ v: Int32, _ what: String) throws -> PadSide {
    guard let side = PadSide(rawValue: v) else {
        throw LSTMKitError(.invalidArgument, "\(what) must be LSTMKIT_PAD_PRE (0) or LSTMKIT_PAD_POST (1), got \(v)")
    }
    return side
}

@_cdecl("lstmkit_model_set_text_padding")
public func lstmkit_model_set_text_padding(_ h: OpaquePointer?, _ maxlen: Int64, _ padding: Int32,
                                           _ truncating: Int32, _ value: Int32) -> Int32 {
    apiCall {
        try require(maxlen == -1 || (maxlen >= 1 && maxlen <= Int64(TextPadding.maxLength)),
                    "maxlen must be -1 (the model's input length) or 1 to 2^30, got \(maxlen)")
        let settings = TextPadding(maxlen: maxlen == -1 ? nil : Int(maxlen), padding: try padSide(padding, "padding"),
                                   truncating: try padSide(truncating, "truncating"), value: value)
        try withModel(h) { try $0.setTextPadding(settings) }
    }
}

@_cdecl("lstmkit_model_get_text_padding")
public func lstmkit_model_get_text_padding(_ h: OpaquePointer?, _ maxlen: UnsafeMutablePointer<Int64>?,
                                           _ padding: UnsafeMutablePointer<Int32>?, _ truncating: UnsafeMutablePointer<Int32>?,
                                           _ value: UnsafeMutablePointer<Int32>?) -> Int32 {
    apiCall {
        let (length, settings) = try withModel(h, .shared) { m in (m.textMaxlen, m.textPadding) }
        let s = settings ?? TextPadding(maxlen: nil, padding: .pre, truncating: .pre, value: 0)
        maxlen?.pointee = length.map { Int64($0) } ?? -1
        padding?.pointee = s.padding.rawValue
        truncating?.pointee = s.truncating.rawValue
        value?.pointee = s.value
    }
}

@_cdecl("lstmkit_model_set_target_tokenizer")
public func lstmkit_model_set_target_tokenizer(_ h: OpaquePointer?, _ t: OpaquePointer?) -> Int32 {
    apiCall {
        let copy = try t.map { try HandleRegistry.with($0, as: Tokenizer.self, "tokenizer") { $0.sharedCopy() } }
        try withModel(h) { $0.targetTokenizer = copy }
    }
}

@_cdecl("lstmkit_model_get_target_tokenizer")
public func lstmkit_model_get_target_tokenizer(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    apiCall {
        let out = try requirePointer(out, "out")
        out.pointee = nil
        if let t = try withModel(h, .shared, { $0.targetTokenizer?.copy() }) { out.pointee = HandleRegistry.register(t) }
    }
}

@_cdecl("lstmkit_model_predict_texts")
public func lstmkit_model_predict_texts(_ h: OpaquePointer?, _ p: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int,
                                        _ batchSize: Int64, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                        _ count: UnsafeMutablePointer<Int>?, _ outShape: UnsafeMutablePointer<Int64>?,
                                        _ shapeCapacity: Int32, _ outNdim: UnsafeMutablePointer<Int32>?,
                                        _ lengths: UnsafeMutablePointer<Int64>?) -> Int32 {
    apiCall {
        try require(n >= 1 && n <= 1 << 40, "n is \(n); give at least one text")
        let texts = try requirePointer(p, "texts")
        let docs = try (0..<n).map { i -> UnsafeBufferPointer<UInt8> in
            let s = try requirePointer(texts[i], "texts[\(i)]")
            return UnsafeBufferPointer(start: UnsafeRawPointer(s).assumingMemoryBound(to: UInt8.self), count: strlen(s))
        }
        try require(batchSize >= 1 && batchSize <= 1 << 24, "batch_size must be 1 to 2^24, got \(batchSize)")
        // As predict: beside other reading calls once the model is built and has no stateful
        // layer. The stored tokenizer is only read (its index is fresh: Tokenizer.sharedCopy).
        try HandleRegistry.with(h, as: Model.self, "model", { $0.runsPassesConcurrently ? .shared : .read }) { m in
            let rows = try m.textRows(docs)
            if let lengths { for (i, l) in rows.lengths.enumerated() { lengths[i] = Int64(l) } }
            try rows.ids.withUnsafeBufferPointer { ids in
                let xv = DataView(dtype: .int32, shape: [n, rows.maxlen], base: UnsafeRawPointer(ids.baseAddress!))
                let shape = try m.predictShape(x: xv, batchSize: Int(batchSize))
                try writeShape(shape, outShape, shapeCapacity, outNdim)
                let total = try elementCount(shape, "the output")
                guard let buf = try outputBuffer(out, capacity: capacity, count: total, count) else { return }
                try m.predict(x: xv, batchSize: Int(batchSize), into: buf)
            }
        }
    }
}

@_cdecl("lstmkit_tokenizer_sequence_to_text")
public func lstmkit_tokenizer_sequence_to_text(_ h: OpaquePointer?, _ ids: UnsafePointer<Int32>?, _ n: Int,
                                               _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                               _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    apiCall {
        try require(n >= 0 && n <= 1 << 40, "n is \(n); it must be 0 to 2^40")
        let idBuf = n == 0 ? UnsafeBufferPointer<Int32>(start: nil, count: 0)
                           : UnsafeBufferPointer(start: try requirePointer(ids, "ids"), count: n)
        var bytes = try HandleRegistry.with(h, as: Tokenizer.self, "tokenizer", .read) { $0.text(for: idBuf) }
        bytes.append(0)
        needed?.pointee = bytes.count
        if buf == nil && capacity == 0 { return }
        let buf = try requirePointer(buf, "buf")
        guard capacity >= bytes.count else {
            throw LSTMKitError(.bufferTooSmall, "the buffer holds \(capacity) bytes, \(bytes.count) are needed")
        }
        bytes.withUnsafeBufferPointer { UnsafeMutableRawPointer(buf).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
}
