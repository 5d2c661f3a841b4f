import Glibc
import CLSTMKitABI

// The C entry points for Tokenizer and pad_sequences.

private func withTokenizer<R>(_ h: OpaquePointer?, _ body: (Tokenizer) throws -> R) throws -> R {
    try HandleRegistry.with(h, as: Tokenizer.self, "tokenizer", .read, body)
}

/// The n caller texts as UTF-8 byte buffers (borrowed).
private func texts(_ p: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int) throws -> [UnsafeBufferPointer<UInt8>] {
    try require(n >= 0, "n is negative")
    if n == 0 { return [] }
    let p = try requirePointer(p, "texts")
    return try (0..<n).map { i in
        let s = try requirePointer(p[i], "texts[\(i)]")
        return UnsafeBufferPointer(start: UnsafeRawPointer(s).assumingMemoryBound(to: UInt8.self), count: strlen(s))
    }
}

@_cdecl("lstmkit_tokenizer_create")
public func lstmkit_tokenizer_create(_ options: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    apiCall {
        let out = try requirePointer(out, "out")
        out.pointee = nil
        let json = try parseJSONArgument(options, "options_json", allowNull: true) ?? .object([:])
        out.pointee = HandleRegistry.register(Tokenizer(options: try Tokenizer.options(fromJSON: json)))
    }
}

@_cdecl("lstmkit_tokenizer_free")
public func lstmkit_tokenizer_free(_ h: OpaquePointer?) {
    HandleRegistry.release(h, as: Tokenizer.self)
}

@_cdecl("lstmkit_tokenizer_fit")
public func lstmkit_tokenizer_fit(_ h: OpaquePointer?, _ p: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int) -> Int32 {
    apiCall {
        let docs = try texts(p, n)
        // fit(texts:) checks every text before counting any, so a bad text changes nothing.
        try withTokenizer(h) { try $0.fit(texts: docs) }
    }
}

@_cdecl("lstmkit_tokenizer_texts_to_sequences")
public func lstmkit_tokenizer_texts_to_sequences(_ h: OpaquePointer?, _ p: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int,
                                                 _ ids: UnsafeMutablePointer<Int32>?, _ capacity: Int,
                                                 _ count: UnsafeMutablePointer<Int>?,
                                                 _ offsets: UnsafeMutablePointer<Int64>?) -> Int32 {
    apiCall {
        let docs = try texts(p, n)
        let seqs = try withTokenizer(h) { t in try docs.map { try t.sequence(for: $0) } }
        let total = seqs.reduce(0) { $0 + $1.count }
        guard let out = try outputBuffer(ids, capacity: capacity, count: total, count) else {
            // No ids at all is not only a query: the offsets (all zero) are still the answer.
            if total == 0, let offsets { for i in 0...seqs.count { offsets[i] = 0 } }
            return
        }
        let offsets = try requirePointer(offsets, "offsets")
        var pos = 0
        for (i, s) in seqs.enumerated() {
            offsets[i] = Int64(pos)
            s.withUnsafeBufferPointer { (out + pos).update(from: $0.baseAddress!, count: s.count) }
            pos += s.count
        }
        offsets[seqs.count] = Int64(pos)
    }
}

@_cdecl("lstmkit_tokenizer_to_json")
public func lstmkit_tokenizer_to_json(_ h: OpaquePointer?, _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                      _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    apiCall { try writeText(withTokenizer(h) { $0.toJSON().serialized() }, buf, capacity, needed) }
}

@_cdecl("lstmkit_tokenizer_from_json")
public func lstmkit_tokenizer_from_json(_ json: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    apiCall {
        let out = try requirePointer(out, "out")
        out.pointee = nil
        out.pointee = HandleRegistry.register(try Tokenizer.fromJSON(parseJSONArgument(json, "json")!))
    }
}

@_cdecl("lstmkit_pad_sequences")
public func lstmkit_pad_sequences(_ ids: UnsafePointer<Int32>?, _ offsets: UnsafePointer<Int64>?, _ n: Int,
                                  _ maxlen: Int64, _ padding: Int32, _ truncating: Int32, _ value: Int32,
                                  _ out: UnsafeMutablePointer<Int32>?, _ capacity: Int) -> Int32 {
    apiCall {
        guard let pad = PadSide(rawValue: padding) else { throw LSTMKitError(.invalidArgument, "padding must be LSTMKIT_PAD_PRE (0) or LSTMKIT_PAD_POST (1), got \(padding)") }
        guard let trunc = PadSide(rawValue: truncating) else { throw LSTMKitError(.invalidArgument, "truncating must be LSTMKIT_PAD_PRE (0) or LSTMKIT_PAD_POST (1), got \(truncating)") }
        try require(n >= 0, "n is negative")
        try require(maxlen >= 1 && maxlen <= 1 << 30, "maxlen must be 1 to 2^30, got \(maxlen)")
        let offsets = try requirePointer(offsets, "offsets")
        let total = Int(offsets[n])
        try require(total >= 0, "offsets[n] is negative")
        let idBuf = total == 0 ? UnsafeBufferPointer<Int32>(start: nil, count: 0)
                               : UnsafeBufferPointer(start: try requirePointer(ids, "ids"), count: total)
        let (cells, overflow) = n.multipliedReportingOverflow(by: Int(maxlen))
        try require(!overflow, "n * maxlen overflows")
        let outPtr = try requirePointer(out, "out")
        try require(capacity >= cells, .bufferTooSmall, "out holds \(capacity) values, \(cells) are needed")
        try padSequences(ids: idBuf, offsets: UnsafeBufferPointer(start: offsets, count: n + 1), maxlen: Int(maxlen),
                         padding: pad, truncating: trunc, value: value, into: UnsafeMutableBufferPointer(start: outPtr, count: cells))
    }
}
