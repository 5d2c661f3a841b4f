/// Forward-only passes on one model from several threads at once (predict, evaluate, the steps
/// of streams: CAPI/StateAPI.swift). A layer keeps its pass's activations in itself, so two
/// passes cannot share a layer stack; each takes one:
/// - the primary stacks, the model's own layers and the worker copies fit uses (Training/
///   Parallel.swift), for one pass at a time, its batches split over the worker pool as before;
/// - while they are taken, an inference copy: one stack of layers of its own, its weights
///   copied from the model's (refreshed only when the model's change, Param.copyValues), whose
///   recurrent layers share the model's projection tables. A pass on a copy runs its parts one
///   after the other on the calling thread: the rows are cut into the same parts either way, so
///   the results are the same bits, and the pool is busy with the primary pass anyway.
/// Copies are kept for the next pass; there are at most as many as passes ever ran at once.
/// The weights are read only meanwhile: what writes them (fit, set_weight, compile) has the
/// handle to itself (CAPI/Boundary.swift, HandleEntry).
/// A stateful model's carried states live in its own layers, so its predicts take the primary
/// stacks, one at a time (the handle makes them exclusive); a stream's steps take a copy and
/// clear its carried states (they bring their own).
final class InferenceCopies {
    fileprivate let lock = Mutex()
    fileprivate var primaryBusy = false
    fileprivate var idle: [[Layer]] = []
    /// Copies made so far (for tests and benchmarks).
    fileprivate(set) var made = 0
}

extension Model {
    /// A new stack of the model's layers, built for its input shape, with zero weights (copy
    /// them in with refreshWeights).
    func makeLayerCopy() throws -> [Layer] {
        guard let input = builtInput else { throw LSTMKitError(.internal, "layer copies requested before the model was built") }
        var copyRng = Rng(seed: 0)
        copyRng.weightsDiscarded = true   // the model's weights are copied in
        let copy: [Layer]
        if let graph {
            copy = try layers.map { try LayerRegistry.makeLayer(like: $0) }
            try graph.build(copy, input: input, rng: &copyRng)
        } else {
            var shape = input
            var built: [Layer] = []
            for layer in layers {
                let twin = try LayerRegistry.makeLayer(like: layer)
                try twin.build(input: shape, rng: &copyRng)
                shape = try twin.outputShape(for: shape)
                built.append(twin)
            }
            copy = built
        }
        for (mine, theirs) in zip(layers, copy) { mine.shareDerivedData(with: theirs) }
        return copy
    }

    /// Gives a copy the model's current weights (copying only those that changed).
    func refreshWeights(_ copy: [Layer]) {
        for (mine, theirs) in zip(params, copy.flatMap { $0.params }) { theirs.copyValues(from: mine) }
    }

    /// Runs body with layer stacks for a forward-only pass in `parts` parts: run(w) calls its
    /// argument for every part w with the stack to use, in parallel on the worker pool when the
    /// primary stacks were free, else one after the other on a copy.
    func withInferenceStacks<R>(parts: Int, _ body: (_ run: (_ part: (Int, [Layer]) -> Void) -> Void) throws -> R) throws -> R {
        let primary = inference.lock.withLock { () -> Bool in
            if inference.primaryBusy { return false }
            inference.primaryBusy = true
            return true
        }
        if primary {
            defer { inference.lock.withLock { inference.primaryBusy = false } }
            let stacks = try stacks(parts)
            return try body { part in WorkerPool.shared.run(parts: parts) { w in part(w, stacks[w]) } }
        }
        return try withInferenceCopy { copy in
            try body { part in for w in 0..<parts { part(w, copy) } }
        }
    }

    /// Runs body with an inference copy of the layers to itself (never the model's own layers).
    func withInferenceCopy<R>(_ body: ([Layer]) throws -> R) throws -> R {
        var copy = inference.lock.withLock { inference.idle.popLast() }
        if copy == nil {
            copy = try makeLayerCopy()
            inference.lock.withLock { inference.made += 1 }
        }
        let stack = copy!
        defer { inference.lock.withLock { inference.idle.append(stack) } }
        refreshWeights(stack)
        return try body(stack)
    }

    /// Whether predict and evaluate may run beside other calls that only read the model: once
    /// it is built (the first build creates the weights), and never with a stateful layer, whose
    /// carried states each predict advances. Reads only what does not change after creation
    /// besides builtInput, which has its own lock.
    var runsPassesConcurrently: Bool { builtInput != nil && statefulLayers.isEmpty }

    /// Inference copies made so far.
    var inferenceCopiesMade: Int { inference.lock.withLock { inference.made } }
}
