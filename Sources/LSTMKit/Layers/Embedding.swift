/// Embedding: integer ids (B, T) -> vectors (B, T, D). Ids arrive as exact Float values, already
/// validated against inputDim by the model. With maskZero, id 0 yields a (B, T) mask for the
/// layers after it.
final class Embedding: Layer {
    let name: String
    var className: String { "Embedding" }
    let inputDim: Int
    let outputDim: Int
    let maskZero: Bool
    var trainable = true
    private(set) var params: [Param] = []
    /// (B*T) ids of the last forward, for backward and for the recurrent layer reading them
    private(set) var ids: [Int32] = []

    init(name: String, config: ConfigReader) throws {
        self.name = name
        // ids travel as Float, exact up to 2^24
        inputDim = try config.int("input_dim", max: 1 << 24)
        outputDim = try config.int("output_dim", max: 1 << 16)
        maskZero = try config.bool("mask_zero", default: false)
        // input_length is the model's (Keras 2: the first layer's input shape); sparse only
        // changes how Keras hands the gradient to the optimizer; lora_alpha means nothing
        // without lora_rank.
        config.acceptWeightOptions(["embeddings"])
        config.accept(["input_length", "sparse", "lora_alpha"])
        try config.requireDefault("lora_rank", { _ in false }, "LoRA is not implemented")
        try config.requireDefault("quantization_config", { _ in false }, "quantization is not implemented")
        guard inputDim.multipliedReportingOverflow(by: outputDim).partialValue <= 1 << 31 else {
            throw LSTMKitError(.noMemory, "\(name): \(inputDim) x \(outputDim) embeddings exceed 2^31 weights")
        }
    }

    var config: JSON {
        .object(["name": .string(name), "input_dim": .number(Double(inputDim)),
                 "output_dim": .number(Double(outputDim)), "mask_zero": .bool(maskZero)])
    }

    var isBuilt: Bool { !params.isEmpty }

    func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard input.count == 1 else {
            throw LSTMKitError(.invalidArgument, "\(name): expects input of shape (batch, timesteps), got rank \(input.count + 1)")
        }
        return input + [outputDim]
    }

    func build(input: FeatureShape, rng: inout Rng) throws {
        if isBuilt { return }
        // Keras's default embeddings_initializer: uniform(-0.05, 0.05)
        params = [Param("embeddings", [inputDim, outputDim], uniformWeights(inputDim * outputDim, limit: 0.05, rng: &rng),
                        lookups: true)]
    }

    // x: (B, T) ids as Float   ->   y: (B, T, D)
    func forward(_ x: Tensor, mask: [Float]?, training: Bool, rng: inout Rng) -> (Tensor, [Float]?) {
        let n = x.count, d = outputDim
        ids = x.data.map { Int32($0) }
        let y = params[0].withValue { w in
            Tensor(shape: x.shape + [d]) { out in
                for i in 0..<n { copyRow(out + i * d, w.baseAddress! + Int(ids[i]) * d, d) }
            }
        }
        let outMask: [Float]? = maskZero ? ids.map { $0 == 0 ? 0 : 1 } : mask
        return (y, outMask)
    }

    // dy: (B, T, D); gradient rows are scattered into the embeddings' gradient.
    func backward(_ dy: Tensor) -> Tensor {
        let d = outputDim
        dy.data.withUnsafeBufferPointer { g in
            params[0].grad.withUnsafeMutableBufferPointer { gw in
            params[0].lookupSquares!.withUnsafeMutableBufferPointer { sq in
                for (i, id) in ids.enumerated() {
                    let row = Int(id) * d, src = g.baseAddress! + i * d
                    for j in 0..<d {
                        gw[row + j] += src[j]
                        sq[row + j] += src[j] * src[j]
                    }
                }
            }}
        }
        return Tensor(shape: [], data: [])
    }
}
