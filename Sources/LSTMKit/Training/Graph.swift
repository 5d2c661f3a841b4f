import Glibc

/// A functional model's layers as a graph (Keras's Model(inputs, outputs)): node i is the one
/// call of layer i, in topological order, and names the tensors it reads. This is what lets an
/// encoder hand its states to a decoder:
///
///     {"class_name": "Functional", "name": "seq2seq",
///      "layers": [
///        {"class_name": "InputLayer", "name": "src", "config": {"batch_shape": [null, 12]}},
///        {"class_name": "Embedding", "name": "emb", "config": {...}, "inbound_nodes": [["src", 0, 0]]},
///        {"class_name": "LSTM", "name": "enc", "config": {"units": 64, "return_state": true},
///         "inbound_nodes": [["emb", 0, 0]]},
///        {"class_name": "RepeatVector", "name": "rep", "config": {"n": 9}, "inbound_nodes": [["enc", 0, 0]]},
///        {"class_name": "LSTM", "name": "dec", "config": {"units": 64, "return_sequences": true},
///         "inbound_nodes": [["rep", 0, 0]], "initial_state": [["enc", 0, 1], ["enc", 0, 2]]},
///        ...],
///      "input_layers": [["src", 0, 0]], "output_layers": [["out", 0, 0]]}
///
/// A reference is Keras's keras_history [layer name, node index, tensor index]; each layer is
/// called once, so the node index is always 0. One input and one output (the C API passes one x
/// and one y); every layer must lead to the output, which is therefore the last layer listed.
/// Forward keeps only the output shapes (for zero gradients of unused outputs); the layers keep
/// what their own backward needs, as in a Sequential model.
final class Graph {
    /// A tensor: output `tensor` of node `node`; node -1 is the model's input.
    struct Ref: Equatable {
        let node: Int
        let tensor: Int
    }
    struct Node {
        let inputs: [Ref]          // the inbound tensors, then the initial states
        let initialStates: Int     // how many of inputs are initial_state
        let outputCount: Int
    }

    let inputName: String
    let nodes: [Node]
    let output: Ref
    /// Output shapes of each node from the last forward through a layer stack (the model's own
    /// or a worker's copy), for the zero gradients of outputs nothing consumed.
    private var traces: [ObjectIdentifier: [[[Int]]]] = [:]
    private let lock = Mutex()

    private init(inputName: String, nodes: [Node], output: Ref) {
        self.inputName = inputName
        self.nodes = nodes
        self.output = output
    }

    /// A configuration describes a functional model when it says so or lists its inputs.
    static func describes(_ top: [String: JSON]) -> Bool {
        top["input_layers"] != nil || top["output_layers"] != nil || top["class_name"]?.stringValue == "Functional"
    }

    /// How many tensors a layer's call gives.
    static func outputCount(of layer: Layer) -> Int {
        if let r = layer as? RecurrentLayer { return 1 + (r.returnState ? r.stateCount : 0) }
        if let b = layer as? Bidirectional { return b.merge == .none ? 2 : 1 }
        return 1
    }

    /// The graph, its layers in node order and the declared input shape.
    static func parse(_ top: [String: JSON]) throws -> (Graph, [Layer], FeatureShape) {
        guard let list = top["layers"]?.arrayValue else { throw LSTMKitError(.badConfig, "model config needs a 'layers' list") }
        var inputName: String? = nil, inputShape: FeatureShape? = nil
        var index: [String: Int] = [:]          // layer name -> node (-1: the input)
        var layers: [Layer] = [], nodes: [Node] = []

        func ref(_ v: JSON, _ what: String) throws -> Ref {
            guard let a = v.arrayValue, a.count == 3 || a.count == 2, let name = a[0].stringValue,
                  let t = a[a.count - 1].intValue, a.count == 2 || a[1].intValue != nil else {
                throw LSTMKitError(.badConfig, "\(what): a tensor reference is [layer name, node index, tensor index], got \(v.serialized())")
            }
            if a.count == 3 && a[1].intValue != 0 {
                throw LSTMKitError(.badConfig, "\(what): '\(name)' is called once here (node index 0); layers shared between calls are not supported")
            }
            guard let node = index[name] else {
                throw LSTMKitError(.badConfig, "\(what): '\(name)' is not a layer defined before it")
            }
            let count = node < 0 ? 1 : nodes[node].outputCount
            guard t >= 0 && t < count else {
                throw LSTMKitError(.badConfig, "\(what): '\(name)' has \(count) output\(count == 1 ? "" : "s"), tensor index \(t) is out of range")
            }
            return Ref(node: node, tensor: t)
        }
        func refs(_ v: JSON?, _ what: String) throws -> [Ref] {
            guard let v, !v.isNull else { return [] }
            guard let a = v.arrayValue else { throw LSTMKitError(.badConfig, "\(what) must be a list of tensor references") }
            return try a.map { try ref($0, what) }
        }

        for (i, entry) in list.enumerated() {
            guard var cls = entry["class_name"]?.stringValue else {
                throw LSTMKitError(.badConfig, "layer \(i): 'class_name' (a string) is required")
            }
            cls = LayerRegistry.canonical(cls)
            let cfg = try ConfigReader(entry["config"], className: cls)
            guard let name = try entry["name"]?.stringValue ?? cfg.string("name", default: nil), !name.isEmpty else {
                throw LSTMKitError(.badConfig, "layer \(i): every layer of a functional model needs a 'name'")
            }
            guard !name.contains("/") else { throw LSTMKitError(.badConfig, "layer \(i): a layer name may not contain '/'") }
            guard index[name] == nil else { throw LSTMKitError(.badConfig, "layer \(i): duplicate layer name '\(name)'") }
            if cls == "InputLayer" {
                guard inputName == nil else {
                    throw LSTMKitError(.badConfig, "layer \(i): a functional model here has one input (the C API passes one x)")
                }
                guard let shape = try cfg.inputShape() else { throw LSTMKitError(.badConfig, "layer \(i): InputLayer '\(name)' needs a shape") }
                try cfg.refuseUnknownKeys(extra: LayerRegistry.inputLayerKeys)
                inputName = name
                inputShape = shape
                index[name] = -1
                continue
            }
            let inbound = try refs(entry["inbound_nodes"], "layer '\(name)': inbound_nodes")
            let states = try refs(entry["initial_state"], "layer '\(name)': initial_state")
            let layer = try LayerRegistry.makeGraphLayer(cls, name, cfg)
            if layer is Concatenate {
                guard inbound.count >= 2 else { throw LSTMKitError(.badConfig, "layer '\(name)': Concatenate needs at least 2 inbound tensors") }
            } else if inbound.count != 1 {
                throw LSTMKitError(.badConfig, "layer '\(name)': takes 1 inbound tensor, got \(inbound.count)")
            }
            if !states.isEmpty {
                guard let r = layer as? RecurrentLayer else {
                    throw LSTMKitError(.badConfig, "layer '\(name)': initial_state is for LSTM, GRU and SimpleRNN")
                }
                guard states.count == r.stateCount else {
                    throw LSTMKitError(.badConfig, "layer '\(name)': initial_state needs \(r.stateCount) tensor\(r.stateCount == 1 ? "" : "s") (\(r.stateCount == 2 ? "h and c" : "h")), got \(states.count)")
                }
                guard !r.stateful else {
                    throw LSTMKitError(.badConfig, "layer '\(name)': a stateful layer takes its initial state from the previous batch, not from initial_state")
                }
            }
            if entry["initial_state"] != nil, !(entry["initial_state"]!.isNull), states.isEmpty, !(layer is RecurrentLayer) {
                throw LSTMKitError(.badConfig, "layer '\(name)': initial_state is for LSTM, GRU and SimpleRNN")
            }
            index[name] = nodes.count
            nodes.append(Node(inputs: inbound + states, initialStates: states.count, outputCount: outputCount(of: layer)))
            layers.append(layer)
        }
        guard let inputName, let inputShape else { throw LSTMKitError(.badConfig, "a functional model needs an InputLayer") }
        guard !nodes.isEmpty else { throw LSTMKitError(.badConfig, "a model needs at least one layer") }

        let ins = try refs(top["input_layers"], "input_layers"), outs = try refs(top["output_layers"], "output_layers")
        guard ins.count == 1, ins[0].node == -1 else {
            throw LSTMKitError(.badConfig, "input_layers must name the one InputLayer, [[\"\(inputName)\", 0, 0]]")
        }
        guard outs.count == 1 else {
            throw LSTMKitError(.badConfig, "output_layers must name exactly one output tensor (the C API returns one y), got \(outs.count)")
        }
        let output = outs[0]
        guard output.node == nodes.count - 1 else {
            throw LSTMKitError(.badConfig, "the output layer '\(layers[max(output.node, 0)].name)' must be listed last (layers are listed in call order and all lead to the output)")
        }
        var used = [Bool](repeating: false, count: nodes.count)
        used[output.node] = true
        for i in stride(from: nodes.count - 1, through: 0, by: -1) where used[i] {
            for r in nodes[i].inputs where r.node >= 0 { used[r.node] = true }
        }
        if let unused = used.firstIndex(of: false) {
            throw LSTMKitError(.badConfig, "layer '\(layers[unused].name)' does not lead to the model's output")
        }
        let readers = nodes.indices.filter { nodes[$0].inputs.contains { $0.node == -1 } }
        let embeddings = readers.filter { layers[$0] is Embedding }
        guard embeddings.isEmpty || embeddings.count == readers.count else {
            throw LSTMKitError(.badConfig, "the input '\(inputName)' feeds an Embedding (token ids) and other layers (floats); use one kind")
        }
        for i in readers where nodes[i].inputs.suffix(nodes[i].initialStates).contains(where: { $0.node == -1 }) {
            throw LSTMKitError(.badConfig, "layer '\(layers[i].name)': the model's input cannot be an initial state")
        }
        return (Graph(inputName: inputName, nodes: nodes, output: output), layers, inputShape)
    }

    /// The Embedding reading the model's input, if the input is token ids.
    func inputEmbedding(_ layers: [Layer]) -> Embedding? {
        nodes.indices.first { nodes[$0].inputs[0].node == -1 && layers[$0] is Embedding }.map { layers[$0] as! Embedding }
    }

    static func outputShapes(_ layer: Layer, _ inputs: [FeatureShape]) throws -> [FeatureShape] {
        if let m = layer as? MultiIOLayer { return try m.outputShapes(for: inputs) }
        return [try layer.outputShape(for: inputs[0])]
    }

    /// Walks the nodes for an input shape: visit(i, input shapes of node i) (to build it), then
    /// its output shapes. Returns every node's output shapes.
    @discardableResult
    func walkShapes(_ layers: [Layer], input: FeatureShape,
                    _ visit: (Int, [FeatureShape]) throws -> Void = { _, _ in }) throws -> [[FeatureShape]] {
        var shapes: [[FeatureShape]] = []
        for (i, node) in nodes.enumerated() {
            let ins = node.inputs.map { $0.node < 0 ? input : shapes[$0.node][$0.tensor] }
            try visit(i, ins)
            shapes.append(try Graph.outputShapes(layers[i], ins))
        }
        return shapes
    }

    /// Each node's input shapes and output shapes as far as they can be worked out: the walk stops
    /// after the first node whose outputs cannot be (its outputs nil).
    func partialShapes(_ layers: [Layer], input: FeatureShape) -> [(inputs: [FeatureShape], outputs: [FeatureShape]?)] {
        var shapes: [[FeatureShape]] = [], out: [(inputs: [FeatureShape], outputs: [FeatureShape]?)] = []
        for (i, node) in nodes.enumerated() {
            let ins = node.inputs.map { $0.node < 0 ? input : shapes[$0.node][$0.tensor] }
            let outs = try? Graph.outputShapes(layers[i], ins)
            out.append((ins, outs))
            guard let outs else { break }
            shapes.append(outs)
        }
        return out
    }

    /// Creates every layer's weights for the input shape, checking that the layers fit together.
    func build(_ layers: [Layer], input: FeatureShape, rng: inout Rng) throws {
        var r = rng
        try walkShapes(layers, input: input) { i, ins in
            if let m = layers[i] as? MultiIOLayer { try m.build(inputs: ins, rng: &r) } else { try layers[i].build(input: ins[0], rng: &r) }
        }
        rng = r
    }

    func outputShape(_ layers: [Layer], input: FeatureShape) throws -> FeatureShape {
        let shapes = try walkShapes(layers, input: input)
        return shapes[output.node][output.tensor]
    }

    // ---- forward and backward ----

    /// x: the model's input (B, ...) -> the output tensor. layers: the model's or a worker's copy.
    func forward(_ x: Tensor, layers: [Layer], training: Bool, backwardFollows: Bool, rng: inout Rng) -> Tensor {
        var outs: [[Tensor]] = [], masks: [[[Float]?]] = []
        func get(_ r: Ref) -> (Tensor, [Float]?) { r.node < 0 ? (x, nil) : (outs[r.node][r.tensor], masks[r.node][r.tensor]) }
        for (i, node) in nodes.enumerated() {
            let layer = layers[i], ins = node.inputs.map(get)
            let source = node.initialStates == 0 && node.inputs[0].node >= 0 ? layers[node.inputs[0].node] as? Embedding : nil
            layer.prepareForward(backwardFollows: backwardFollows, inputEmbedding: source)
            if let m = layer as? MultiIOLayer {
                let (o, mk) = m.forward(ins.map { $0.0 }, masks: ins.map { $0.1 }, training: training, rng: &rng)
                outs.append(o)
                masks.append(mk)
            } else {
                let (y, mk) = layer.forward(ins[0].0, mask: ins[0].1, training: training, rng: &rng)
                outs.append([y])
                masks.append([mk])
            }
        }
        let shapes = outs.map { $0.map { $0.shape } }
        lock.withLock { traces[ObjectIdentifier(layers[0])] = shapes }
        return get(output).0
    }

    /// grad: dL/d(output), or dL/d(logits) of the output Dense when fused.
    func backward(_ grad: [Float], fused: Bool, layers: [Layer]) {
        let shapes = lock.withLock { traces[ObjectIdentifier(layers[0])]! }
        var grads: [[Tensor?]] = nodes.map { [Tensor?](repeating: nil, count: $0.outputCount) }
        func add(_ r: Ref, _ g: Tensor) {
            guard r.node >= 0, !g.data.isEmpty else { return }   // the model's input, or not differentiable
            if var sum = grads[r.node][r.tensor] {
                grads[r.node][r.tensor] = nil
                sum.data.withUnsafeMutableBufferPointer { s in g.data.withUnsafeBufferPointer { for k in 0..<s.count { s[k] += $0[k] } } }
                grads[r.node][r.tensor] = sum
            } else {
                grads[r.node][r.tensor] = g
            }
        }
        let last = nodes.count - 1
        for i in stride(from: last, through: 0, by: -1) {
            let layer = layers[i]
            let inGrads: [Tensor]
            if i == last && fused, let dense = layer as? Dense {
                inGrads = [dense.backward(preactivationGrad: grad)]
            } else {
                if i == last { add(output, Tensor(shape: shapes[i][output.tensor], data: grad)) }
                let dys = grads[i]
                if dys.allSatisfy({ $0 == nil }) { continue }   // nothing downstream is differentiable
                let filled = dys.enumerated().map { $1 ?? Tensor(zeros: shapes[i][$0]) }
                if let m = layer as? MultiIOLayer { inGrads = m.backward(filled) } else { inGrads = [layer.backward(filled[0])] }
            }
            grads[i] = []
            for (r, g) in zip(nodes[i].inputs, inGrads) { add(r, g) }
        }
    }

    // ---- description ----

    func config(_ layers: [Layer], name: String, input: FeatureShape) -> JSON {
        func refJSON(_ r: Ref) -> JSON {
            .array([.string(r.node < 0 ? inputName : layers[r.node].name), .number(0), .number(Double(r.tensor))])
        }
        var list: [JSON] = [.object(["class_name": "InputLayer", "name": .string(inputName),
                                     "config": .object(["name": .string(inputName),
                                                        "batch_shape": .array([.null] + input.map { $0.map { .number(Double($0)) } ?? .null })])])]
        for (layer, node) in zip(layers, nodes) {
            var entry: [String: JSON] = ["class_name": .string(layer.className), "name": .string(layer.name),
                                         "config": layer.savedConfig,
                                         "inbound_nodes": .array(node.inputs.dropLast(node.initialStates).map(refJSON))]
            if node.initialStates > 0 { entry["initial_state"] = .array(node.inputs.suffix(node.initialStates).map(refJSON)) }
            list.append(.object(entry))
        }
        return .object(["class_name": "Functional", "name": .string(name), "layers": .array(list),
                        "input_layers": .array([.array([.string(inputName), .number(0), .number(0)])]),
                        "output_layers": .array([refJSON(output)])])
    }

    /// "Connected to" of Keras's functional summary: "lstm[0][1], ..."
    func connections(_ i: Int, _ layers: [Layer]) -> String {
        nodes[i].inputs.map { "\($0.node < 0 ? inputName : layers[$0.node].name)[0][\($0.tensor)]" }.joined(separator: ", ")
    }
}

