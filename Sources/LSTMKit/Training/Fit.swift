import Glibc

/// What fit reports after each batch and each epoch (values are running means over the epoch).
struct Progress {
    enum Event { case batchEnd, epochEnd }
    let event: Event
    let epoch: Int
    let epochs: Int
    let step: Int
    let steps: Int
    let elapsedSeconds: Double
    let names: [String]
    let values: [Double]
}

struct FitOptions {
    var epochs = 1
    var batchSize = 32
    /// Kept in Double as given: Keras computes floor(n * (1 - split)) in Python floats, and
    /// rounding 0.1 to Float first would move the boundary by one row.
    var validationSplit: Double = 0
    var shuffle = true
    var seed: UInt64 = 0
    /// Keras's initial_epoch: the epoch to start at (0-based), e.g. after loading a checkpoint;
    /// fit runs epochs initialEpoch..<epochs.
    var initialEpoch = 0

    init() {}
    init(json: JSON?) throws {
        let c = try ConfigReader(json, className: "fit options")
        // Our own format, so a misspelt option is an error rather than silently ignored.
        for key in c.json.keys where !["epochs", "batch_size", "validation_split", "shuffle", "seed", "initial_epoch"].contains(key) {
            throw LSTMKitError(.badConfig, "fit options: unknown option '\(key)' (epochs, batch_size, validation_split, shuffle, seed, initial_epoch)")
        }
        epochs = try c.int("epochs", default: 1, min: 0, max: 1 << 30)
        initialEpoch = try c.int("initial_epoch", default: 0, min: 0, max: 1 << 30)
        guard initialEpoch == 0 || initialEpoch < epochs else {
            throw LSTMKitError(.badConfig, "fit options: 'initial_epoch' \(initialEpoch) must be less than 'epochs' \(epochs), the epoch to stop before (Keras would silently train nothing)")
        }
        batchSize = try c.int("batch_size", default: 32, max: 1 << 24)
        if let v = json?["validation_split"], !v.isNull {
            guard let d = v.doubleValue, d >= 0, d < 1 else {
                throw LSTMKitError(.badConfig, "fit options: 'validation_split' must be a number in [0, 1)")
            }
            validationSplit = d
        }
        shuffle = try c.bool("shuffle", default: true)
        if let s = json?["seed"], !s.isNull {
            guard let d = s.doubleValue, d >= 0, d <= 9.007e15, d == d.rounded() else {
                throw LSTMKitError(.badConfig, "fit options: 'seed' must be a non-negative integer")
            }
            seed = UInt64(d)
        }
    }
}

@inline(__always)
func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { allFinite($0) }
}

@inline(__always)
func allFinite(_ b: UnsafeBufferPointer<Float>) -> Bool {
    // One branch-free pass: v * 0 is 0 for finite v and NaN for NaN or infinity.
    var acc: Float = 0
    for v in b { acc += v * 0 }
    return acc == 0
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

extension Model {
    /// Checks x (and y) against the model and builds it on first use. Returns the output shape
    /// for one sample.
    func prepare(x: DataView, y: DataView?) throws -> [Int] {
        guard x.shape.count >= 2 else {
            throw LSTMKitError(.invalidArgument, "x must have a batch dimension and at least one more, got shape \(x.shape)")
        }
        guard x.rows > 0 else { throw LSTMKitError(.invalidArgument, "x is empty") }
        let features: FeatureShape = x.shape.dropFirst().map { $0 }
        if inputIsIds && x.shape.count != 2 {
            throw LSTMKitError(.invalidArgument, "this model starts with Embedding and takes token ids of shape (samples, timesteps), got \(x.shape)")
        }
        try build(input: features)
        let out = try outputShape(for: features)
        let outShape = out.map { $0! }
        let idLimit = inputEmbedding?.inputDim
        if let bad = x.firstInvalid(idLimit: idLimit) {
            if let idLimit {
                throw LSTMKitError(.invalidArgument, "x[\(bad.index)] = \(bad.value) is not a token id in 0..<\(idLimit) (Embedding input_dim)")
            }
            throw LSTMKitError(.invalidArgument, "x[\(bad.index)] is \(bad.value); inputs must be finite")
        }
        if let y {
            guard y.rows == x.rows else {
                throw LSTMKitError(.invalidArgument, "x has \(x.rows) samples but y has \(y.rows)")
            }
            let ySample = Array(y.shape.dropFirst())
            if let compiled, compiled.loss.kind == .sparseCategoricalCrossentropy {
                let expected = Array(outShape.dropLast())
                guard ySample == expected || ySample == expected + [1] else {
                    throw LSTMKitError(.invalidArgument, "sparse_categorical_crossentropy takes class ids of shape \([x.rows] + expected), got y of shape \(y.shape)")
                }
                if let bad = y.firstInvalid(idLimit: outShape.last!) {
                    throw LSTMKitError(.invalidArgument, "y[\(bad.index)] = \(bad.value) is not a class id in 0..<\(outShape.last!)")
                }
            } else {
                guard ySample == outShape || (ySample.isEmpty && outShape == [1]) else {
                    throw LSTMKitError(.invalidArgument, "y has shape \(y.shape) but the model's output is \([x.rows] + outShape)")
                }
                if let bad = y.firstInvalid(idLimit: nil) {
                    throw LSTMKitError(.invalidArgument, "y[\(bad.index)] is \(bad.value); targets must be finite")
                }
                // Keras computes a loss from such labels without a word (negative for y > 1,
                // rewarding confident wrong answers); they are a data error.
                if compiled?.loss.kind == .binaryCrossentropy, let bad = y.firstOutside(0, 1) {
                    throw LSTMKitError(.invalidArgument, "y[\(bad.index)] is \(bad.value); binary_crossentropy takes labels in [0, 1]")
                }
            }
        }
        return outShape
    }

    /// The rows of a batch per worker thread. A stateful model runs on one: each row of a batch
    /// carries its state to the same row of the next, and the layers holding it are the model's.
    func partsOf(_ rows: Int) -> [Range<Int>] {
        statefulLayers.isEmpty ? Model.split(rows, into: WorkerPool.shared.threads) : [0..<rows]
    }

    /// A stateful model passes each batch's last states to the next batch row by row, so every
    /// batch must have the same number of rows as the states carried (Keras's fixed batch size).
    /// trainingRows, given for validation data, must give batches of the same size too.
    func checkStatefulBatches(rows: Int, batchSize: Int, what: String, trainingRows: Int? = nil) throws {
        let stateful = statefulLayers
        guard !stateful.isEmpty else { return }
        let batch = min(batchSize, rows)
        guard rows % batch == 0 else {
            throw LSTMKitError(.invalidArgument, "a stateful model needs batches of one size: \(what) has \(rows) samples, not a multiple of batch_size \(batchSize)")
        }
        if let trainingRows, min(batchSize, trainingRows) != batch {
            throw LSTMKitError(.invalidArgument, "a stateful model needs batches of one size: \(what) gives batches of \(batch) rows, the training data of \(min(batchSize, trainingRows))")
        }
        for layer in stateful {
            if let carried = layer.carriedBatch, carried != batch {
                throw LSTMKitError(.invalidArgument, "'\(layer.name)' is stateful and carries the states of batches of \(carried) rows; batches of \(batch) need reset_states() first")
            }
        }
    }

    /// OpenBLAS, and oneDNN when the policy computes in bfloat16: a missing one is a readable
    /// error before any work starts.
    private func requireLibraries(for policy: DTypePolicy) throws {
        try BLASLibrary.require()
        try BFloat16Products.require(policy)
    }

    private func requireCompiled() throws -> CompileSettings {
        guard let compiled else { throw LSTMKitError(.wrongState, "the model must be compiled before fit or evaluate") }
        return compiled
    }

    /// One batch (the given rows of x and y): the mean loss and each metric's sum over the samples; with
    /// `train`, also backward and the optimizer step. The rows are split over the worker threads
    /// (Training/Parallel.swift). A training step whose loss, gradients or updated weights are
    /// not finite throws .numeric and leaves the weights as they were before the batch.
    private func runBatch(x: DataView, y: DataView, rows idx: ArraySlice<Int>, outShape: [Int],
                          settings: CompileSettings, train: Bool, rng: inout Rng) throws -> (loss: Double, metrics: [Double]) {
        let parts = partsOf(idx.count)
        // One draw per batch whatever the split, so the shuffles that follow do not depend on the
        // number of threads.
        let batchSeed = rng.nextUInt64()
        let seeds = parts.indices.map { batchSeed &+ UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        let total = Double(idx.count)
        var results = [(loss: Double, metrics: [Double])](repeating: (0, []), count: parts.count)
        let failures = BFloat16Failures()
        func part(_ w: Int, _ stack: [Layer]) -> (loss: Double, metrics: [Double]) {
            let rows = idx[(idx.startIndex + parts[w].lowerBound)..<(idx.startIndex + parts[w].upperBound)]
            var partRng = Rng(seed: seeds[w])
            return BFloat16Products.with(settings.dtypePolicy, failures: failures) {
                runPart(x: x.gather(rows), y: y.gather(rows), share: Double(rows.count) / total,
                        stack: stack, outShape: outShape, settings: settings, train: train, rng: &partRng)
            }
        }
        if train {
            let stacks = try stacks(parts.count)
            results.withUnsafeMutableBufferPointer { out in
                WorkerPool.shared.run(parts: parts.count) { w in out[w] = part(w, stacks[w]) }
            }
        } else {
            // evaluate: concurrent calls on one model each take their own stacks (Training/Inference.swift)
            try withInferenceStacks(parts: parts.count) { run in
                results.withUnsafeMutableBufferPointer { out in run { w, stack in out[w] = part(w, stack) } }
            }
        }
        try failures.throwIfAny()
        let loss = results.reduce(0) { $0 + $1.loss }
        if !train && !loss.isFinite {
            // The inputs and weights are finite (both are checked), so the model overflowed.
            throw LSTMKitError(.numeric, "the loss is \(loss) on finite inputs: the model's output overflowed float32 (weights too large?)")
        }
        if train {
            guard loss.isFinite else { throw LSTMKitError(.numeric, "the loss became \(loss)") }
            sumWorkerGradients(parts.count)
            let params = trainableParams
            if let bad = params.first(where: { !allFinite($0.grad) }) {
                throw LSTMKitError(.numeric, "the gradient of '\(bad.name)' became NaN or infinite (loss \(loss))")
            }
            // A copy of the weights in case the step must be undone: O(weights) against the
            // batch's O(batch * weights).
            let before = params.map { $0.value }
            settings.optimizer.step(params)
            if let bad = params.firstIndex(where: { p in !p.withValue { allFinite($0) } }) {
                for (p, v) in zip(params, before) { p.value = v }
                throw LSTMKitError(.numeric, "the update made '\(params[bad].name)' NaN or infinite (loss \(loss); is the learning rate too large?)")
            }
        }
        let metrics = results.dropFirst().reduce(results[0].metrics) { sums, part in zip(sums, part.metrics).map { $0 + $1 } }
        return (loss, metrics)
    }

    /// One part of a batch through one layer stack. share is the part's fraction of the batch:
    /// the loss is a mean over the whole batch, so the part's loss and gradient are scaled by it.
    private func runPart(x: Tensor, y: Tensor, share: Double, stack: [Layer], outShape: [Int],
                         settings: CompileSettings, train: Bool, rng: inout Rng) -> (loss: Double, metrics: [Double]) {
        let width = outShape.last!
        let kind = settings.loss.kind
        let fused = fusedOutputLayer(for: kind, in: stack)
        fused?.keepsLogits = true   // for this pass's loss only: predict leaves them
        defer { fused?.keepsLogits = false }
        let out = forward(x, training: train, backwardFollows: train, rng: &rng, through: stack)
        let rows = out.count / width
        var (loss, grad): (Double, [Float])
        if let fused {
            (loss, grad) = settings.loss.lossAndGrad(logits: fused.logits, probabilities: out.data, y: y.data, rows: rows, width: width)
        } else {
            (loss, grad) = settings.loss.lossAndGrad(p: out.data, y: y.data, rows: rows, width: width)
        }
        // per-row sums rescaled to samples, so sequence outputs average over steps too
        let metrics = settings.metrics.map { $0.sum(p: out.data, y: y.data, rows: rows, width: width) * Double(x.shape[0]) / Double(rows) }
        if train && loss.isFinite {
            for layer in stack { for p in layer.params { p.zeroGradient() } }
            if share != 1 {
                let scale = Float(share)
                for i in 0..<grad.count { grad[i] *= scale }
            }
            backward(grad, fused: fused != nil, outputShape: out.shape, through: stack)
        }
        return (loss * share, metrics)
    }

    /// validation: data to evaluate at the end of every epoch (Keras's validation_data); it
    /// takes the place of validation_split, as in Keras.
    func fit(x: DataView, y: DataView, options: FitOptions, validation: (x: DataView, y: DataView)? = nil,
             progress: ((Progress) -> Bool)?) throws {
        let settings = try requireCompiled()
        try requireLibraries(for: settings.dtypePolicy)
        let floatMode = ComputeFloatMode.enter()
        defer { floatMode.leave() }
        let outShape = try prepare(x: x, y: y)
        noteTrainingInput(x.shape.dropFirst().map { $0 })
        let n = x.rows
        let split = validation == nil ? options.validationSplit : 0
        let nTrain = split > 0 ? Int((Double(n) * (1 - options.validationSplit)).rounded(.down)) : n
        guard nTrain > 0 else {
            throw LSTMKitError(.invalidArgument, "validation_split \(options.validationSplit) leaves no training samples out of \(n)")
        }
        guard split == 0 || nTrain < n else {
            throw LSTMKitError(.invalidArgument, "validation_split \(options.validationSplit) leaves no validation samples out of \(n)")
        }
        let bs = options.batchSize
        try checkBatchBudget(batch: min(bs, n), features: x.shape.dropFirst().map { $0 })
        if let validation {
            let valShape = try prepare(x: validation.x, y: validation.y)
            guard valShape == outShape else {
                throw LSTMKitError(.invalidArgument, "the validation data gives outputs of shape \(valShape), the training data \(outShape)")
            }
            try checkBatchBudget(batch: min(bs, validation.x.rows), features: validation.x.shape.dropFirst().map { $0 })
            try checkStatefulBatches(rows: validation.x.rows, batchSize: bs, what: "the validation data", trainingRows: nTrain)
        }
        try checkStatefulBatches(rows: nTrain, batchSize: bs, what: "the training data")
        if nTrain < n { try checkStatefulBatches(rows: n - nTrain, batchSize: bs, what: "the validation split", trainingRows: nTrain) }
        let steps = (nTrain + bs - 1) / bs
        let names = ["loss"] + settings.metrics.map { $0.name }
        let validates = nTrain < n || validation != nil
        let epochNames = names + (validates ? names.map { "val_" + $0 } : [])

        for epoch in options.initialEpoch..<max(options.initialEpoch, options.epochs) {
            let start = monotonicSeconds()
            // Each epoch's shuffle and dropout come from (seed, epoch) alone, not from the epochs
            // before it, so fit(initial_epoch: k) on a checkpoint saved after epoch k - 1 repeats
            // what an uninterrupted run would have done from there.
            var rng = Rng(seed: Rng.derive(options.seed, Int64(epoch)))
            var order = Array(0..<nTrain)
            if options.shuffle { rng.shuffle(&order) }
            var lossSum = 0.0, seen = 0
            var metricSums = [Double](repeating: 0, count: settings.metrics.count)
            for step in 0..<steps {
                let idx = order[(step * bs)..<min(nTrain, (step + 1) * bs)]
                let loss: Double, metrics: [Double]
                do {
                    (loss, metrics) = try runBatch(x: x, y: y, rows: idx, outShape: outShape, settings: settings, train: true, rng: &rng)
                } catch let e as LSTMKitError where e.status == .numeric {
                    throw LSTMKitError(.numeric, "\(e.message) at epoch \(epoch + 1), batch \(step + 1); training stopped and the weights of the previous batch were kept")
                }
                lossSum += loss * Double(idx.count)
                for k in metricSums.indices { metricSums[k] += metrics[k] }
                seen += idx.count
                let values = [lossSum / Double(seen)] + metricSums.map { $0 / Double(seen) }
                if let progress, floatMode.callingOut({ progress(Progress(event: .batchEnd, epoch: epoch, epochs: options.epochs, step: step + 1,
                                                   steps: steps, elapsedSeconds: monotonicSeconds() - start,
                                                   names: names, values: values)) }) {
                    throw LSTMKitError(.cancelled, "training stopped by the progress callback at epoch \(epoch + 1), batch \(step + 1)")
                }
            }
            var values = [lossSum / Double(seen)] + metricSums.map { $0 / Double(seen) }
            if let validation {
                values += try evaluate(x: validation.x, y: validation.y, rows: 0..<validation.x.rows, batchSize: bs,
                                       settings: settings, outShape: outShape)
            } else if nTrain < n {
                let val = try evaluate(x: x, y: y, rows: nTrain..<n, batchSize: bs, settings: settings, outShape: outShape)
                values += val
            }
            if let progress, floatMode.callingOut({ progress(Progress(event: .epochEnd, epoch: epoch, epochs: options.epochs, step: steps,
                                               steps: steps, elapsedSeconds: monotonicSeconds() - start,
                                               names: epochNames, values: values)) }) {
                if epoch + 1 < options.epochs {
                    throw LSTMKitError(.cancelled, "training stopped by the progress callback after epoch \(epoch + 1)")
                }
            }
        }
    }

    /// [loss, metrics...] over the rows given, in inference mode.
    private func evaluate(x: DataView, y: DataView, rows: Range<Int>, batchSize: Int,
                          settings: CompileSettings, outShape: [Int]) throws -> [Double] {
        var lossSum = 0.0
        var metricSums = [Double](repeating: 0, count: settings.metrics.count)
        var rng = Rng(seed: 0)
        var start = rows.lowerBound
        let all = Array(rows)
        while start < rows.upperBound {
            let end = min(rows.upperBound, start + batchSize)
            let idx = all[(start - rows.lowerBound)..<(end - rows.lowerBound)]
            let (loss, metrics) = try runBatch(x: x, y: y, rows: idx, outShape: outShape,
                                               settings: settings, train: false, rng: &rng)
            lossSum += loss * Double(idx.count)
            for k in metricSums.indices { metricSums[k] += metrics[k] }
            start = end
        }
        let n = Double(rows.count)
        return [lossSum / n] + metricSums.map { $0 / n }
    }

    func evaluate(x: DataView, y: DataView, batchSize: Int) throws -> [Double] {
        let settings = try requireCompiled()
        let outShape = try prepare(x: x, y: y)
        try checkBatchBudget(batch: min(batchSize, x.rows), features: x.shape.dropFirst().map { $0 })
        try checkStatefulBatches(rows: x.rows, batchSize: batchSize, what: "x")
        try requireLibraries(for: settings.dtypePolicy)
        let floatMode = ComputeFloatMode.enter()
        defer { floatMode.leave() }
        return try evaluate(x: x, y: y, rows: 0..<x.rows, batchSize: batchSize, settings: settings, outShape: outShape)
    }

    /// Output shape (with batch) predict will produce for x.
    /// Checks first that a batch fits in memory, so the caller is not asked for a buffer in vain.
    func predictShape(x: DataView, batchSize: Int) throws -> [Int] {
        let shape = [x.rows] + (try prepare(x: x, y: nil))
        try checkBatchBudget(batch: min(batchSize, x.rows), features: x.shape.dropFirst().map { $0 })
        return shape
    }

    /// Inference over x in batches, written into out (predictShape(x) elements).
    func predict(x: DataView, batchSize: Int, into out: UnsafeMutablePointer<Float>) throws {
        let outShape = try prepare(x: x, y: nil)
        try checkBatchBudget(batch: min(batchSize, x.rows), features: x.shape.dropFirst().map { $0 })
        try checkStatefulBatches(rows: x.rows, batchSize: batchSize, what: "x")
        let per = outShape.reduce(1, *)
        let policy = compiled?.dtypePolicy ?? .float32
        try requireLibraries(for: policy)
        let floatMode = ComputeFloatMode.enter()
        defer { floatMode.leave() }
        var start = 0
        let all = Array(0..<x.rows)
        while start < x.rows {
            let end = min(x.rows, start + batchSize)
            let parts = partsOf(end - start)
            let first = start
            var nonFinite = [Int?](repeating: nil, count: parts.count)   // per part: first bad element
            let failures = BFloat16Failures()
            // concurrent predicts on one model each take their own stacks (Training/Inference.swift)
            try withInferenceStacks(parts: parts.count) { run in
                nonFinite.withUnsafeMutableBufferPointer { bad in
                    run { w, stack in
                        var rng = Rng(seed: 0)   // inference draws nothing
                        let rows = all[(first + parts[w].lowerBound)..<(first + parts[w].upperBound)]
                        let y = BFloat16Products.with(policy, failures: failures) { forward(x.gather(rows), training: false, backwardFollows: false, rng: &rng, through: stack) }
                        if !allFinite(y.data) { bad[w] = y.data.firstIndex { !$0.isFinite } }
                        (out + (first + parts[w].lowerBound) * per).update(from: y.data, count: y.count)
                    }
                }
            }
            try failures.throwIfAny()
            if let (w, i) = nonFinite.enumerated().lazy.compactMap({ w, i in i.map { (w, $0) } }).first {
                let element = (first + parts[w].lowerBound) * per + i
                throw nonFiniteOutput(x: x, sample: element / per, value: out[element], element: element, policy: policy)
            }
            start = end
        }
    }

    /// The error for a NaN or infinite output from finite inputs and weights (both are checked):
    /// float32 overflowed in some layer, which it names for a Sequential model by running the
    /// sample again one layer at a time (not for a stateful one: that would advance its states).
    private func nonFiniteOutput(x: DataView, sample: Int, value: Float, element: Int, policy: DTypePolicy) -> LSTMKitError {
        var culprit = ""
        if graph == nil && statefulLayers.isEmpty {
            // on a copy: other predicts may be using the model's own layers
            culprit = (try? withInferenceCopy { stack -> String in
                var rng = Rng(seed: 0)
                var h = x.gather([sample])
                var mask: [Float]? = nil
                var previous: Layer? = nil
                RowsExact.set(true)
                defer { RowsExact.set(false) }
                for layer in stack {
                    layer.prepareForward(backwardFollows: false, inputEmbedding: previous as? Embedding)
                    // this rerun only names a layer: a failed product here changes nothing reported
                    (h, mask) = BFloat16Products.with(policy, failures: BFloat16Failures()) { layer.forward(h, mask: mask, training: false, rng: &rng) }
                    previous = layer
                    if !allFinite(h.data) { return " in layer '\(layer.name)' (\(layer.className))" }
                }
                return ""
            }) ?? ""
        }
        return LSTMKitError(.numeric, "output[\(element)] (sample \(sample)) is \(value) although the inputs and weights are finite: float32 overflowed\(culprit) (weights or inputs too large?)")
    }
}
