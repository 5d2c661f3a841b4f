/// Keras's Concatenate(axis=-1): joins its inputs along the last axis; the other dimensions must
/// agree. Only the functional graph can give a layer several inputs. A step of the output is
/// masked only where every input masks it, as Keras 3 computes it (an OR of the "keep" masks;
/// an input without a mask keeps every step). Keras 2 took the AND.
final class Concatenate: MultiIOLayer {
    let name: String
    var className: String { "Concatenate" }
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var widths: [Int] = []     // last dimension of each input, from the last forward
    private var inShapes: [[Int]] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        let axis = try config.int("axis", default: -1, min: -8, max: 8)
        guard axis == -1 else { throw LSTMKitError(.badConfig, "\(name): only axis=-1 is supported") }
    }

    var config: JSON { .object(["name": .string(name), "axis": .number(-1)]) }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        throw LSTMKitError(.invalidArgument, "\(name): Concatenate joins several inputs; call it on a list of tensors in a functional model")
    }
    func build(input: FeatureShape, rng: inout Rng) throws { _ = try outputShape(for: input) }
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        preconditionFailure("Concatenate runs in the graph only")
    }
    func backward(_ dy: Tensor) -> Tensor { preconditionFailure("Concatenate runs in the graph only") }

    func outputShapes(for inputs: [FeatureShape]) throws -> [FeatureShape] {
        guard inputs.count >= 2 else {
            throw LSTMKitError(.invalidArgument, "\(name): Concatenate needs at least 2 inputs, got \(inputs.count)")
        }
        let rank = inputs[0].count
        var last = 0
        for s in inputs {
            guard s.count == rank, Array(s.dropLast()) == Array(inputs[0].dropLast()), let w = s.last! else {
                throw LSTMKitError(.invalidArgument, "\(name): inputs must agree in every dimension but the last, with the last known; got \(inputs)")
            }
            last += w
        }
        return [Array(inputs[0].dropLast()) + [last]]
    }

    func build(inputs: [FeatureShape], rng: inout Rng) throws { _ = try outputShapes(for: inputs) }

    // xs: k tensors (R, w_k) over the same leading dimensions -> (R, sum w_k)
    func forward(_ xs: [Tensor], masks: [[Float]?], training: Bool, rng: inout Rng) -> ([Tensor], [[Float]?]) {
        widths = xs.map { $0.shape.last! }
        inShapes = xs.map { $0.shape }
        let total = widths.reduce(0, +), rows = xs[0].count / widths[0]
        var y = Tensor(zeros: Array(xs[0].shape.dropLast()) + [total])
        var offset = 0
        for (x, w) in zip(xs, widths) {
            for r in 0..<rows { for j in 0..<w { y.data[r * total + offset + j] = x.data[r * w + j] } }
            offset += w
        }
        var mask: [Float]? = nil
        if masks.allSatisfy({ $0 != nil }) {
            for m in masks { mask = mask.map { zip($0, m!).map { max($0, $1) } } ?? m }
        }
        return ([y], [mask])
    }

    func backward(_ dys: [Tensor?]) -> [Tensor] {
        let dy = dys[0]!, total = widths.reduce(0, +), rows = dy.count / total
        var out: [Tensor] = []
        var offset = 0
        for (shape, w) in zip(inShapes, widths) {
            var dx = Tensor(zeros: shape)
            for r in 0..<rows { for j in 0..<w { dx.data[r * w + j] = dy.data[r * total + offset + j] } }
            out.append(dx)
            offset += w
        }
        return out
    }
}
