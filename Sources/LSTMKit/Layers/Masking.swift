/// Keras's Masking: a timestep whose features all equal mask_value is masked for the layers after
/// it, and its features are zeroed (output = input * mask). The incoming mask is replaced, as in
/// Keras.
final class Masking: Layer {
    let name: String
    var className: String { "Masking" }
    let maskValue: Float
    var trainable = true
    var params: [Param] { [] }
    var isBuilt: Bool { true }
    private var keep: [Float] = []   // (B, T) the mask of the last forward

    init(name: String, config: ConfigReader) throws {
        self.name = name
        maskValue = try config.float("mask_value", default: 0)
    }

    var config: JSON { .object(["name": .string(name), "mask_value": .number(Double(maskValue))]) }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard input.count == 2, input[1] != nil else {
            throw LSTMKitError(.invalidArgument, "\(name): expects input of shape (batch, timesteps, features), got rank \(input.count + 1)")
        }
        return input
    }
    func build(input: FeatureShape, rng: inout Rng) throws { _ = try outputShape(for: input) }

    // x: (B, T, D) -> (B, T, D) and mask (B, T)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let rows = x.shape[0] * x.shape[1], d = x.shape[2]
        var y = x
        keep = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            for j in 0..<d where x.data[r * d + j] != maskValue { keep[r] = 1; break }
            if keep[r] == 0 { for j in 0..<d { y.data[r * d + j] = 0 } }
        }
        return (y, keep)
    }

    func backward(_ dy: Tensor) -> Tensor {
        var dx = dy
        let d = dy.count / max(keep.count, 1)
        for r in 0..<keep.count where keep[r] == 0 { for j in 0..<d { dx.data[r * d + j] = 0 } }
        return dx
    }
}
