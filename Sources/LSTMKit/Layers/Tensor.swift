/// A dense float32 array, row-major, batch dimension first.
struct Tensor {
    var shape: [Int]
    var data: [Float]

    init(shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }
    init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }
    /// A tensor whose elements `fill` writes, every one of them: for layer outputs a copy fills
    /// anyway, which would otherwise be zeroed first (megabytes a batch).
    init(shape: [Int], filling fill: (UnsafeMutablePointer<Float>) -> Void) {
        self.shape = shape
        let n = shape.reduce(1, *)
        self.data = [Float](unsafeUninitializedCapacity: n) { buffer, count in
            if n > 0 { fill(buffer.baseAddress!) }
            count = n
        }
    }
    var count: Int { data.count }
}

/// Shapes of activations without the batch dimension; nil is a length not known yet (Keras's None).
typealias FeatureShape = [Int?]

/// Transposes the two leading axes of a (P, Q, R) buffer into (Q, P, R).
func swapLeadingAxes(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ p: Int, _ q: Int, _ r: Int) {
    for i in 0..<p {
        for j in 0..<q {
            (dst + (j * p + i) * r).update(from: src + (i * q + j) * r, count: r)
        }
    }
}

/// dst[0..<n] = src[0..<n] for the short rows of the sequence loops (an embedding's 32 floats):
/// inline 8-wide copies, where memmove's call and dispatch cost more than the copy itself.
@inline(__always)
func copyRow(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n {
        UnsafeMutableRawPointer(dst + j).storeBytes(of: UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self),
                                                    as: SIMD8<Float>.self)
        j += 8
    }
    while j < n { dst[j] = src[j]; j += 1 }
}
