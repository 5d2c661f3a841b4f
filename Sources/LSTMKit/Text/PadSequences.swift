/// Which end of a sequence `padSequences` pads or truncates (LSTMKIT_PAD_PRE / _POST).
public enum PadSide: Int32, Sendable {
    case pre = 0, post = 1
}

/// Keras pad_sequences over ragged sequences given as flat ids + offsets (n+1 entries, offsets[n] = ids.count).
/// Writes n*maxlen values into out (row-major). Keras semantics: empty sequence -> row all `value`;
/// truncating pre keeps the last maxlen ids, post the first; padding pre right-aligns, post left-aligns.
/// Everything is validated before anything is written, so on error `out` is untouched.
public func padSequences(ids: UnsafeBufferPointer<Int32>, offsets: UnsafeBufferPointer<Int64>, maxlen: Int,
                         padding: PadSide, truncating: PadSide, value: Int32,
                         into out: UnsafeMutableBufferPointer<Int32>) throws {
    try require(maxlen >= 1, .invalidArgument, "pad_sequences: maxlen must be >= 1 (got \(maxlen))")
    try require(!offsets.isEmpty, .invalidArgument, "pad_sequences: offsets needs n+1 entries, got none")
    let n = offsets.count - 1
    try require(offsets[0] == 0, .invalidArgument, "pad_sequences: offsets[0] must be 0 (got \(offsets[0]))")
    for k in 0..<n where offsets[k + 1] < offsets[k] {
        throw LSTMKitError(.invalidArgument,
                           "pad_sequences: offsets must be non-decreasing (offsets[\(k + 1)] = \(offsets[k + 1]) < offsets[\(k)] = \(offsets[k]))")
    }
    try require(offsets[n] == Int64(ids.count),
                .invalidArgument, "pad_sequences: offsets[n] must equal the number of ids (\(offsets[n]) != \(ids.count))")
    let (needed, overflow) = n.multipliedReportingOverflow(by: maxlen)
    try require(!overflow, .invalidArgument, "pad_sequences: n * maxlen overflows")
    try require(out.count >= needed, .invalidArgument, "pad_sequences: output holds \(out.count) values, needs n * maxlen = \(needed)")
    guard needed > 0, let dst = out.baseAddress else { return }

    dst.update(repeating: value, count: needed)
    guard let src = ids.baseAddress else { return }  // no ids: every row is padding
    for k in 0..<n {
        let start = Int(offsets[k]), length = Int(offsets[k + 1]) - start
        let kept = min(length, maxlen)
        if kept == 0 { continue }
        let from = truncating == .pre ? start + length - kept : start
        let to = k * maxlen + (padding == .pre ? maxlen - kept : 0)
        (dst + to).update(from: src + from, count: kept)
    }
}
