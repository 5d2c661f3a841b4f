/// One stream's place in a sequence (CAPI/StateAPI.swift): the states (h, and LSTM's c) each
/// recurrent layer of the model ended the last step with, one row each. The model is shared,
/// read only: many streams step on one model at once, each pass on an inference copy of the
/// layers (Training/Inference.swift).
///
/// A step is the model's forward-only pass over the step's timesteps, every recurrent layer
/// starting from the stream's states instead of zeros; so its arithmetic is predict's, row for
/// row, and the output after the last step is bitwise what predict gives for the whole sequence
/// at once as a batch of one row (float32; predict's products of independent rows are
/// lk_rows_gemm's, the same bits whatever the number of timesteps). Until its first step a
/// stream has zero states and passes none, as predict starts, since predict skips the
/// recurrent product of the first timestep (zero) and adding that zero could flip the sign of
/// a zero preactivation.
///
/// Supported: a Sequential model whose layers are causal (the output at a timestep depends on
/// that timestep and those before it only): Embedding, Masking, LSTM, GRU, SimpleRNN (not
/// go_backwards; return_sequences or not, stateful or not: a stream carries its own states),
/// Dense, Dropout, SpatialDropout1D and TimeDistributed(Dense) while the timesteps last; after
/// the recurrent layer that returns only its last output, Dense and Dropout.
final class StreamState {
    let model: Model
    /// For the model's handle rules: a step reads the model as predict does (HandleEntry .shared).
    let modelEntry: HandleEntry
    /// Per layer of the model: the recurrent layers' states, (stateCount) tensors of (1, H); nil
    /// for other layers, and for all before the first step.
    fileprivate(set) var states: [[Tensor]?]
    fileprivate(set) var stepped = false

    init(model: Model, modelEntry: HandleEntry) {
        self.model = model
        self.modelEntry = modelEntry
        states = Array(repeating: nil, count: model.layers.count)
    }

    func copy() -> StreamState {
        let c = StreamState(model: model, modelEntry: modelEntry)
        c.states = states
        c.stepped = stepped
        return c
    }

    func reset() {
        states = Array(repeating: nil, count: model.layers.count)
        stepped = false
    }
}

extension Model {
    /// Throws INVALID_ARGUMENT naming the first layer a stream cannot step through (or
    /// WRONG_STATE for a model without weights yet).
    func checkStreamable() throws {
        guard graph == nil else {
            throw LSTMKitError(.invalidArgument, "streams (lstmkit_state_create) support Sequential models only; '\(name)' is a functional model")
        }
        var timesteps = true   // the layer's input still has a time axis
        var recurrent = 0
        for layer in layers {
            let what = "layer '\(layer.name)' (\(layer.className))"
            func refuse(_ why: String) -> LSTMKitError {
                LSTMKitError(.invalidArgument, "a stream cannot step through \(what): \(why)")
            }
            switch layer {
            case let r as RecurrentLayer:
                guard timesteps else { throw refuse("it follows a recurrent layer that returns only its last output (return_sequences=false), so it has no timesteps to step") }
                guard !r.goBackwards else { throw refuse("go_backwards reads the sequence from its end, which a stream has not seen yet") }
                recurrent += 1
                timesteps = r.returnSequences
            case is Embedding, is Masking, is SpatialDropout1D:
                guard timesteps else { throw refuse("it needs timesteps, which the recurrent layer before it does not return") }
            case is Dense, is Dropout:
                break   // per timestep, or on the last output
            case let t as TimeDistributed:
                guard timesteps, t.layer is Dense || t.layer is Dropout else {
                    throw refuse("only TimeDistributed(Dense) and TimeDistributed(Dropout) are per timestep")
                }
            case is Bidirectional:
                throw refuse("its backward half reads the sequence from its end, which a stream has not seen yet")
            default:
                throw refuse("its output at a timestep depends on later timesteps or on the whole sequence; streams support Embedding, Masking, LSTM, GRU, SimpleRNN, Dense, Dropout, SpatialDropout1D and TimeDistributed(Dense)")
            }
        }
        guard recurrent > 0 else {
            throw LSTMKitError(.invalidArgument, "a stream needs a recurrent layer (LSTM, GRU or SimpleRNN) to carry its state; '\(name)' has none")
        }
        guard builtInput != nil else {
            throw LSTMKitError(.wrongState, "the model has no weights yet: give it an input_shape, or fit or predict once before creating a stream")
        }
    }

    /// The output shape (with batch 1) of a step over x: (1, k, ...) or (1, ...), as predict of x.
    func stepShape(_ x: DataView) throws -> [Int] {
        guard x.shape.count >= 2, x.rows == 1 else {
            throw LSTMKitError(.invalidArgument, "a stream steps one sequence: x must have shape (1, timesteps\(inputIsIds ? "" : ", features")), got \(x.shape)")
        }
        if inputIsIds && x.shape.count != 2 {
            throw LSTMKitError(.invalidArgument, "this model starts with Embedding and takes token ids of shape (1, timesteps), got \(x.shape)")
        }
        let features: FeatureShape = x.shape.dropFirst().map { $0 }
        if let built = builtInput, built.count != features.count || zip(built.dropFirst(), features.dropFirst()).contains(where: { $0 != nil && $0 != $1 }) {
            throw LSTMKitError(.invalidArgument, "the model takes steps of shape (1, timesteps\(built.dropFirst().map { ", \($0.map(String.init) ?? "None")" }.joined())), got \(x.shape)")
        }
        let idLimit = inputEmbedding?.inputDim
        if let bad = x.firstInvalid(idLimit: idLimit) {
            if let idLimit {
                throw LSTMKitError(.invalidArgument, "x[\(bad.index)] = \(bad.value) is not a token id in 0..<\(idLimit) (Embedding input_dim)")
            }
            throw LSTMKitError(.invalidArgument, "x[\(bad.index)] is \(bad.value); inputs must be finite")
        }
        return [1] + (try outputShape(for: features)).map { $0! }
    }

    /// One step of a stream over x (1, k[, D]): writes predict's output for x continuing from
    /// the stream's states into out (stepShape(x) elements) and moves the states on.
    func step(_ state: StreamState, x: DataView, into out: UnsafeMutablePointer<Float>) throws {
        let policy = compiled?.dtypePolicy ?? .float32
        try BLASLibrary.require()
        try BFloat16Products.require(policy)
        let floatMode = ComputeFloatMode.enter()
        defer { floatMode.leave() }
        let failures = BFloat16Failures()
        let (y, finals) = try withInferenceCopy { stack -> (Tensor, [[Tensor]?]) in
            for (i, layer) in stack.enumerated() {
                guard let r = layer as? RecurrentLayer else { continue }
                r.resetStates()   // a stateful layer's carried state is not the stream's
                r.initialState = state.stepped ? state.states[i] : nil
                r.keepsFinalStates = true
            }
            defer {
                for case let r as RecurrentLayer in stack {
                    r.initialState = nil
                    r.keepsFinalStates = false
                    r.resetStates()
                }
            }
            var rng = Rng(seed: 0)   // inference draws nothing
            let y = BFloat16Products.with(policy, failures: failures) {
                forward(x.gather([0]), training: false, backwardFollows: false, rng: &rng, through: stack)
            }
            return (y, stack.map { ($0 as? RecurrentLayer)?.finalStates })
        }
        try failures.throwIfAny()
        if let bad = y.data.firstIndex(where: { !$0.isFinite }) {
            throw LSTMKitError(.numeric, "output[\(bad)] is \(y.data[bad]) although the inputs and weights are finite: float32 overflowed (weights or inputs too large?); the stream's states were left as they were")
        }
        y.data.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
        state.states = finals
        state.stepped = true
    }
}
