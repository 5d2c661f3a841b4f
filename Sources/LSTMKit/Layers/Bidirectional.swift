/// Keras's Bidirectional over LSTM, GRU or SimpleRNN: a forward copy of the layer and a backward
/// copy with go_backwards=True, both built from the wrapped layer's config. Their weights are
/// named forward_<layer>/... and backward_<layer>/... and listed forward first, as Keras 3 does.
/// With return_sequences the backward output is flipped back to timestep order before merging,
/// so both halves of step t describe timestep t, and, as Keras forces zero_output_for_mask on
/// both copies then, masked steps output zeros rather than repeating the previous output.
///
/// Keras 3 saves the forward copy (named forward_<layer>) as 'layer'; the prefix is dropped when
/// reading it back. A 'backward_layer' entry, which Keras also writes, must be that same layer
/// going backwards (the only backward copy here): one that differs in any other key is refused. A wrapped layer with go_backwards=True is refused, as
/// Keras refuses it (both copies would run the same way).
///
/// merge_mode None gives two outputs (forward, then backward in timestep order), which only the
/// functional graph can pass on: it is accepted only when `allowTwoOutputs` is set (LayerRegistry.makeGraphLayer does).
final class Bidirectional: Layer, MultiIOLayer {
    enum Merge: String { case concat, sum, mul, ave, none }

    let name: String
    var className: String { "Bidirectional" }
    let merge: Merge
    let forwardLayer: RecurrentLayer
    let backwardLayer: RecurrentLayer
    private let innerClass: String
    private let innerConfig: [String: JSON]   // the wrapped layer's config as given, for config
    private var yF: [Float] = []               // (B, [T,] H) forward output, kept for merge_mode mul
    private var yB: [Float] = []               // (B, [T,] H) backward output in timestep order

    func prepareForward(backwardFollows: Bool, inputEmbedding: Embedding?) {
        forwardLayer.prepareForward(backwardFollows: backwardFollows, inputEmbedding: inputEmbedding)
        backwardLayer.prepareForward(backwardFollows: backwardFollows, inputEmbedding: inputEmbedding)
    }

    func shareDerivedData(with copy: Layer) {
        guard let copy = copy as? Bidirectional else { return }
        forwardLayer.shareDerivedData(with: copy.forwardLayer)
        backwardLayer.shareDerivedData(with: copy.backwardLayer)
    }

    init(name: String, config: ConfigReader, allowTwoOutputs: Bool = false) throws {
        self.name = name
        guard let layer = config.value("layer"), let cls = layer["class_name"]?.stringValue else {
            throw LSTMKitError(.badConfig, "\(name): 'layer' must be {\"class_name\": ..., \"config\": {...}}")
        }
        guard ["LSTM", "GRU", "SimpleRNN"].contains(cls) else {
            throw LSTMKitError(.badConfig, "\(name): can wrap LSTM, GRU or SimpleRNN, not '\(cls)'")
        }
        var inner = layer["config"]?.objectValue ?? [:]
        if let v = layer["config"], !v.isNull, v.objectValue == nil {
            throw LSTMKitError(.badConfig, "\(name): the wrapped layer's 'config' must be a JSON object")
        }
        switch config.value("merge_mode") {
        case nil: merge = .concat
        case .string(let s)?:
            guard let m = Merge(rawValue: s), m != .none else {
                throw LSTMKitError(.badConfig, "\(name): unknown merge_mode '\(s)' (concat, sum, mul, ave)")
            }
            merge = m
        case .null? where allowTwoOutputs: merge = .none
        case .null?:
            throw LSTMKitError(.badConfig, "\(name): merge_mode None returns two outputs, which a Sequential model cannot pass on; use concat, sum, mul or ave")
        default: throw LSTMKitError(.badConfig, "\(name): 'merge_mode' must be a string")
        }
        if let back = config.value("backward_layer"), !back.isNull {
            guard back["class_name"]?.stringValue == cls, let backConfig = back["config"]?.objectValue else {
                throw LSTMKitError(.badConfig, "\(name): 'backward_layer' must be the wrapped \(cls) going backwards; a different backward layer is not supported")
            }
            for key in Set(backConfig.keys).union(inner.keys).sorted() where !["name", "go_backwards"].contains(key) {
                guard backConfig[key]?.serialized() == inner[key]?.serialized() else {
                    throw LSTMKitError(.badConfig, "\(name): 'backward_layer' differs from 'layer' in '\(key)'; a backward layer other than the wrapped one going backwards is not supported")
                }
            }
        }
        var innerName = inner["name"]?.stringValue ?? LayerRegistry.snakeCase(cls)
        if innerName.hasPrefix("forward_") && innerName.count > 8 { innerName.removeFirst(8) }
        inner["name"] = .string(innerName)
        innerClass = cls
        innerConfig = inner
        if inner["go_backwards"]?.boolValue == true {
            throw LSTMKitError(.badConfig, "\(name): the wrapped layer must not set go_backwards (the backward copy already runs backwards)")
        }
        for key in ["return_state", "stateful"] where inner[key]?.boolValue == true {
            throw LSTMKitError(.badConfig, "\(name): the wrapped layer's \(key)=true is not supported inside Bidirectional")
        }
        var fwd = inner, bwd = inner
        fwd["name"] = .string("forward_\(innerName)")
        bwd["name"] = .string("backward_\(innerName)")
        bwd["go_backwards"] = true
        forwardLayer = try LayerRegistry.make(cls, "forward_\(innerName)", ConfigReader(.object(fwd), className: cls)) as! RecurrentLayer
        backwardLayer = try LayerRegistry.make(cls, "backward_\(innerName)", ConfigReader(.object(bwd), className: cls)) as! RecurrentLayer
        forwardLayer.weightPrefix = "forward_\(innerName)/"
        backwardLayer.weightPrefix = "backward_\(innerName)/"
        forwardLayer.zeroOutputForMask = forwardLayer.returnSequences
        backwardLayer.zeroOutputForMask = backwardLayer.returnSequences
    }

    var config: JSON {
        var inner = forwardLayer.savedConfig.objectValue!
        inner["name"] = innerConfig["name"]
        inner["zero_output_for_mask"] = nil   // Bidirectional's own choice, from return_sequences
        return .object(["name": .string(name), "merge_mode": merge == .none ? .null : .string(merge.rawValue),
                        "layer": .object(["class_name": .string(innerClass), "config": .object(inner)])])
    }

    var params: [Param] { forwardLayer.params + backwardLayer.params }
    var trainable = true
    var trainableParams: [Param] { trainable ? forwardLayer.trainableParams + backwardLayer.trainableParams : [] }
    var isBuilt: Bool { forwardLayer.isBuilt && backwardLayer.isBuilt }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        var shape = try forwardLayer.outputShape(for: input)
        if merge == .concat { shape[shape.count - 1] = 2 * forwardLayer.units }
        return shape
    }

    func build(input: FeatureShape, rng: inout Rng) throws {
        try forwardLayer.build(input: input, rng: &rng)
        try backwardLayer.build(input: input, rng: &rng)
    }

    // x: (B, T, D) -> (B, [T,] H) per direction, merged to (B, [T,] 2H) for concat, (B, [T,] H) otherwise
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let (f, outMask) = forwardLayer.forward(x, mask: mask, training: training, rng: &rng)
        var (bk, _) = backwardLayer.forward(x, mask: mask, training: training, rng: &rng)
        if forwardLayer.returnSequences { bk = reverseTime(bk) }
        let h = forwardLayer.units, rows = f.count / h
        var y: Tensor
        switch merge {
        case .concat:
            y = Tensor(zeros: Array(f.shape.dropLast()) + [2 * h])
            for r in 0..<rows {
                for j in 0..<h {
                    y.data[r * 2 * h + j] = f.data[r * h + j]
                    y.data[r * 2 * h + h + j] = bk.data[r * h + j]
                }
            }
        case .sum: y = f; for i in 0..<y.count { y.data[i] += bk.data[i] }
        case .ave: y = f; for i in 0..<y.count { y.data[i] = (y.data[i] + bk.data[i]) * 0.5 }
        case .mul: y = f; for i in 0..<y.count { y.data[i] *= bk.data[i] }
        case .none: preconditionFailure("merge_mode None has two outputs: the graph calls forward(_:masks:)")
        }
        if merge == .mul { yF = f.data; yB = bk.data } else { yF = []; yB = [] }
        return (y, outMask)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let h = forwardLayer.units
        let shape = Array(dy.shape.dropLast()) + [h]
        var df = Tensor(zeros: shape), db = Tensor(zeros: shape)
        switch merge {
        case .concat:
            for r in 0..<(df.count / h) {
                for j in 0..<h {
                    df.data[r * h + j] = dy.data[r * 2 * h + j]
                    db.data[r * h + j] = dy.data[r * 2 * h + h + j]
                }
            }
        case .sum: df = dy; db = dy
        case .ave: for i in 0..<df.count { df.data[i] = dy.data[i] * 0.5 }; db = df
        case .mul: for i in 0..<df.count { df.data[i] = dy.data[i] * yB[i]; db.data[i] = dy.data[i] * yF[i] }
        case .none: preconditionFailure("merge_mode None has two outputs: the graph calls backward([dy])")
        }
        return backwardHalves(df, db)
    }

    /// df, db: gradients of the two halves in timestep order -> dx
    private func backwardHalves(_ df: Tensor, _ db: Tensor) -> Tensor {
        var dx = forwardLayer.backward(df)
        let dxB = backwardLayer.backward(forwardLayer.returnSequences ? reverseTime(db) : db)
        for i in 0..<dx.count { dx.data[i] += dxB.data[i] }
        return dx
    }

    // ---- in the functional graph: one input; two outputs with merge_mode None, else one ----

    func outputShapes(for inputs: [FeatureShape]) throws -> [FeatureShape] {
        guard inputs.count == 1 else { throw LSTMKitError(.invalidArgument, "\(name): takes one input, got \(inputs.count)") }
        let shape = try outputShape(for: inputs[0])
        return merge == .none ? [shape, shape] : [shape]
    }

    func build(inputs: [FeatureShape], rng: inout Rng) throws { try build(input: inputs[0], rng: &rng) }

    private var halfShape: [Int] = []

    func forward(_ xs: [Tensor], masks: [[Float]?], training: Bool, rng: inout Rng) -> ([Tensor], [[Float]?]) {
        guard merge == .none else {
            let (y, m) = forward(xs[0], mask: masks[0], training: training, rng: &rng)
            return ([y], [m])
        }
        let (f, outMask) = forwardLayer.forward(xs[0], mask: masks[0], training: training, rng: &rng)
        var (bk, _) = backwardLayer.forward(xs[0], mask: masks[0], training: training, rng: &rng)
        if forwardLayer.returnSequences { bk = reverseTime(bk) }
        halfShape = f.shape
        return ([f, bk], [outMask, outMask])
    }

    func backward(_ dys: [Tensor?]) -> [Tensor] {
        guard merge == .none else { return [backward(dys[0]!)] }
        return [backwardHalves(dys[0] ?? Tensor(zeros: halfShape), dys.count > 1 ? dys[1] ?? Tensor(zeros: halfShape) : Tensor(zeros: halfShape))]
    }
}

/// (B, T, H) -> the same with the time axis reversed.
func reverseTime(_ x: Tensor) -> Tensor {
    let b = x.shape[0], t = x.shape[1], h = x.count / max(b * t, 1)
    var y = x
    for i in 0..<b {
        for s in 0..<t {
            for j in 0..<h { y.data[(i * t + s) * h + j] = x.data[(i * t + t - 1 - s) * h + j] }
        }
    }
    return y
}
