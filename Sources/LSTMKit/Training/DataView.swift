/// A borrowed caller array (from the C API or a test): dtype, shape and a raw pointer. Valid
/// only during the call that received it.
struct DataView {
    enum DType { case float32, int32 }
    let dtype: DType
    let shape: [Int]
    let base: UnsafeRawPointer

    var rows: Int { shape[0] }
    var rowSize: Int { shape.dropFirst().reduce(1, *) }
    var count: Int { shape.reduce(1, *) }

    @inline(__always)
    func value(_ i: Int) -> Float {
        switch dtype {
        case .float32: return base.load(fromByteOffset: i * 4, as: Float.self)
        case .int32: return Float(base.load(fromByteOffset: i * 4, as: Int32.self))
        }
    }

    /// Copies the given rows into a Float tensor of shape (indices.count, shape[1...]).
    func gather(_ indices: ArraySlice<Int>) -> Tensor {
        let r = rowSize
        return Tensor(shape: [indices.count] + Array(shape.dropFirst())) { out in
            for (k, row) in indices.enumerated() {
                let dst = out + k * r
                switch dtype {
                case .float32:
                    dst.update(from: base.assumingMemoryBound(to: Float.self) + row * r, count: r)
                case .int32:
                    let src = base.assumingMemoryBound(to: Int32.self) + row * r
                    for j in 0..<r { dst[j] = Float(src[j]) }
                }
            }
        }
    }

    /// First element outside [lower, upper] (the values are finite already); nil when all are in.
    func firstOutside(_ lower: Float, _ upper: Float) -> (index: Int, value: Float)? {
        for i in 0..<count {
            let v = value(i)
            if v < lower || v > upper { return (i, v) }
        }
        return nil
    }

    /// First element that is not finite, or for ids not an integer in 0..<limit; nil when all are good.
    func firstInvalid(idLimit: Int?) -> (index: Int, value: Float)? {
        if dtype == .int32, let limit = idLimit {
            let p = base.assumingMemoryBound(to: Int32.self)
            for i in 0..<count where p[i] < 0 || Int(p[i]) >= limit { return (i, Float(p[i])) }
            return nil
        }
        for i in 0..<count {
            let v = value(i)
            if !v.isFinite { return (i, v) }
            if let limit = idLimit, v < 0 || v >= Float(limit) || v != v.rounded() { return (i, v) }
        }
        return nil
    }
}
