import CKernels

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

/// A trainable weight with its gradient. Backward passes accumulate into `grad`; the trainer
/// zeroes every gradient once before each batch.
final class Param {
    let name: String          // Keras's weight name: kernel, recurrent_kernel, bias, embeddings
    let shape: [Int]
    /// The values on a cache line (FloatBuffer): a batch-1 step's product reads the whole
    /// recurrent kernel, 1.3-1.6x faster aligned (bench/NOTES-perf.md, section 6).
    private let storage = FloatBuffer()
    /// Changes whenever the values may have, to a number no weight has had before: what is
    /// derived from the values (a ProjectionTable, a worker's copy) compares it with the version
    /// it was made from.
    private(set) var version = lk_next_generation()
    /// (source's version, own version) after the last copyValues.
    private var copiedFrom: (UInt64, UInt64)? = nil
    var grad: [Float]
    /// For a weight read by row lookups (Embedding): the sum over lookups of each lookup's
    /// squared gradient, accumulated beside grad. Keras 3's TensorFlow backend hands such
    /// gradients to the optimizer as IndexedSlices with one slice per lookup, and Adam, RMSprop
    /// and Adagrad square the slices before summing them; the optimizers here use this in place
    /// of grad^2 so the tutorials train as they do in Keras (see the README).
    var lookupSquares: [Float]?

    init(_ name: String, _ shape: [Int], _ value: [Float], lookups: Bool = false) {
        self.name = name
        self.shape = shape
        self.grad = [Float](repeating: 0, count: value.count)
        self.lookupSquares = lookups ? grad : nil
        storage.resize(value.count)
        storage.p.update(from: value, count: value.count)
    }
    var count: Int { storage.count }

    /// A copy of the values; setting replaces them all (the count must stay).
    var value: [Float] {
        get { withValue { Array($0) } }
        set {
            precondition(newValue.count == count, "weight '\(name)' has \(count) values, got \(newValue.count)")
            withMutableValue { $0.baseAddress!.update(from: newValue, count: count) }
        }
    }

    func withValue<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.p, count: count))
    }

    func withMutableValue<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        version = lk_next_generation()
        return try body(UnsafeMutableBufferPointer(start: storage.p, count: count))
    }

    /// Makes the values equal to source's (same count), copying only when they may differ: a
    /// worker's copy of the weights is refreshed before every batch, and predict's batches leave
    /// it as it is.
    func copyValues(from source: Param) {
        if let (s, own) = copiedFrom, s == source.version, own == version { return }
        precondition(source.count == count, "weight '\(name)': copying \(source.count) values into \(count)")
        withMutableValue { $0.baseAddress!.update(from: source.storage.p, count: count) }
        copiedFrom = (source.version, version)
    }

    /// Zeroes the gradient (and the lookup squares), as before every batch.
    func zeroGradient() {
        grad.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        lookupSquares?.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

/// Shapes of activations without the batch dimension; nil is a length not known yet (Keras's None).
typealias FeatureShape = [Int?]

/// One layer of a Sequential model. Forward and backward live side by side in each layer's file;
/// forward keeps whatever backward needs, so one forward must precede each backward.
protocol Layer: AnyObject {
    var name: String { get }
    var className: String { get }
    /// Weights in Keras's get_weights() order; empty until built.
    var params: [Param] { get }
    /// The Keras-style config that recreates this layer (without weights).
    var config: JSON { get }
    /// Output shape for an input shape; throws if the input cannot feed this layer.
    func outputShape(for input: FeatureShape) throws -> FeatureShape
    /// Creates the weights for the given input shape, reproducibly from rng.
    func build(input: FeatureShape, rng: inout Rng) throws
    var isBuilt: Bool { get }
    /// mask: (B, T) of 0/1, or nil. Returns the output and the mask passed to the next layer.
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?)
    /// dy has the output's shape; returns dL/dx (empty for layers whose input is not differentiable).
    func backward(_ dy: Tensor) -> Tensor
}

/// A layer that takes several inputs or gives several outputs, which only the functional graph
/// (Training/Graph.swift) can connect: a recurrent layer with initial_state or return_state,
/// Bidirectional with merge_mode None, Concatenate. Masks travel with each tensor (nil = none).
protocol MultiIOLayer: Layer {
    func outputShapes(for inputs: [FeatureShape]) throws -> [FeatureShape]
    func build(inputs: [FeatureShape], rng: inout Rng) throws
    func forward(_ xs: [Tensor], masks: [[Float]?], training: Bool, rng: inout Rng) -> ([Tensor], [[Float]?])
    /// dys: one gradient per output, nil where none reaches it. Returns one gradient per input
    /// (empty where the input is not differentiable).
    func backward(_ dys: [Tensor?]) -> [Tensor]
}

/// `count` weights drawn uniformly from (-limit, limit); zeros, drawing nothing, when the rng
/// builds weights that are replaced right after (Rng.weightsDiscarded).
func uniformWeights(_ count: Int, limit: Float, rng: inout Rng) -> [Float] {
    if rng.weightsDiscarded { return [Float](repeating: 0, count: count) }
    return (0..<count).map { _ in rng.uniform(-limit, limit) }
}

/// Keras's glorot_uniform for a (fanIn, fanOut) matrix.
func glorotUniform(_ fanIn: Int, _ fanOut: Int, rng: inout Rng) -> [Float] {
    uniformWeights(fanIn * fanOut, limit: (6.0 / Float(fanIn + fanOut)).squareRoot(), rng: &rng)
}

/// Keras's orthogonal initializer for a (rows, cols) matrix: a Gaussian matrix of the taller
/// orientation, orthonormalised (QR with positive diagonal, here modified Gram-Schmidt run twice
/// for stability), transposed back when rows < cols.
func orthogonal(rows: Int, cols: Int, rng: inout Rng) -> [Float] {
    if rng.weightsDiscarded { return [Float](repeating: 0, count: rows * cols) }
    let tall = max(rows, cols), wide = min(rows, cols)
    // columns of a (tall, wide) matrix, one after another, in Double; one flat buffer, not an
    // array per column, and a dot product that does not wait on each addition: an LSTM(256)'s
    // recurrent kernel took 170 ms before, at every build and load of the model
    var columns = [Double](repeating: 0, count: tall * wide)
    for i in 0..<tall { for j in 0..<wide { columns[j * tall + i] = Double(rng.normal()) } }
    columns.withUnsafeMutableBufferPointer { buf in
        let q = buf.baseAddress!
        for j in 0..<wide {
            let qj = q + j * tall
            for _ in 0..<2 {
                for k in 0..<j {
                    let qk = q + k * tall
                    let dot = dotProduct(qk, qj, tall)
                    for i in 0..<tall { qj[i] -= dot * qk[i] }
                }
            }
            var norm = 0.0
            for i in 0..<tall { norm += qj[i] * qj[i] }
            norm = norm.squareRoot()
            if norm < 1e-12 { norm = 1 }
            for i in 0..<tall { qj[i] /= norm }
        }
    }
    var out = [Float](repeating: 0, count: rows * cols)
    for r in 0..<rows {
        for c in 0..<cols {
            // rows >= cols: out = Q (tall x wide); else out = Q^T
            out[r * cols + c] = Float(rows >= cols ? columns[c * tall + r] : columns[r * tall + c])
        }
    }
    return out
}

/// Four partial sums: one running sum waits on each addition, four run side by side.
@inline(__always)
private func dotProduct(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
    var acc = SIMD4<Double>(repeating: 0)
    var i = 0
    while i + 4 <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD4<Double>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD4<Double>.self)
        i += 4
    }
    var dot = acc.sum()
    while i < n { dot += a[i] * b[i]; i += 1 }
    return dot
}

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
