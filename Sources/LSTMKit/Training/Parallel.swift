/// Data parallelism inside a batch: the rows are split into one part per worker thread, and each
/// part runs forward and backward through its own copy of the layers (the layers keep their
/// activations for backward, so two threads cannot share one). Copies hold the model's weights
/// (refreshed before each batch, which copies them once per optimizer step) and their own
/// gradients, which are summed into the model's before the optimizer step.
/// A batch is cut into the same parts every time, so results depend on the seed and on the
/// number of threads, not on timing.
extension Model {
    /// Below this many rows per part, a thread's GEMMs get too thin to pay for the split.
    static let minRowsPerPart = 8

    /// Contiguous, nearly equal ranges covering 0..<rows, at most `parts` of them.
    static func split(_ rows: Int, into parts: Int) -> [Range<Int>] {
        let n = max(1, min(parts, rows / minRowsPerPart))
        return (0..<n).map { k in (k * rows / n)..<((k + 1) * rows / n) }
    }

    /// The layer stacks for parts 0..<count: the model's own, then worker copies, created on
    /// first use and given the model's current weights.
    func stacks(_ count: Int) throws -> [[Layer]] {
        guard count > 1 else { return [layers] }
        while workerLayers.count < count - 1 { workerLayers.append(try makeLayerCopy()) }
        let own = params
        for copy in workerLayers.prefix(count - 1) {
            for (mine, theirs) in zip(own, copy.flatMap { $0.params }) { theirs.copyValues(from: mine) }
        }
        return [layers] + Array(workerLayers.prefix(count - 1))
    }

    private func add(_ source: [Float], into target: inout [Float]) {
        target.withUnsafeMutableBufferPointer { dst in
            source.withUnsafeBufferPointer { src in
                for i in 0..<dst.count { dst[i] += src[i] }
            }
        }
    }

    /// Adds the gradients of the worker copies 1..<count into the model's own.
    func sumWorkerGradients(_ count: Int) {
        guard count > 1 else { return }
        let own = params
        for copy in workerLayers.prefix(count - 1) {
            for (mine, theirs) in zip(own, copy.flatMap { $0.params }) {
                add(theirs.grad, into: &mine.grad)
                if let squares = theirs.lookupSquares { add(squares, into: &mine.lookupSquares!) }
            }
        }
    }
}
