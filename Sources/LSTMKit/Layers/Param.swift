import CKernels

/// A trainable weight with its gradient. Backward passes accumulate into `grad`; the trainer
/// zeroes every gradient once before each batch.
final class Param {
    let name: String          // Keras's weight name: kernel, recurrent_kernel, bias, embeddings
    let shape: [Int]
    /// The values start on a cache line (FloatBuffer): a batch-1 step's product streams the
    /// whole recurrent kernel, and aligned rows avoid split loads (bench/NOTES-perf.md, section 6).
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

    /// The version of the values themselves: a copy's (copyValues) that has not changed since
    /// is its source's, so the copies of one weight share what is derived from it (a
    /// ProjectionTable shared by the inference copies of a layer).
    var valuesVersion: UInt64 {
        if let (s, own) = copiedFrom, own == version { return s }
        return version
    }

    /// Zeroes the gradient (and the lookup squares), as before every batch.
    func zeroGradient() {
        grad.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        lookupSquares?.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
