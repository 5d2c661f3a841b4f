import XCTest
@testable import LSTMKit

/// Central finite differences in Float32 with a step of 1e-2 are good to about 1e-3 relative, so
/// the checks compare with a mixed tolerance and fail on a wrong sign, factor or index.
let fdStep: Float = 1e-2

func assertClose(_ analytic: Float, _ numeric: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    let diff = abs(Double(analytic) - numeric)
    let scale = max(abs(numeric), abs(Double(analytic)), 1e-2)
    XCTAssertLessThan(diff / scale, 2e-2, "\(what): analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
}

func randomTensor(_ shape: [Int], _ rng: inout Rng, scale: Float = 1) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, data: (0..<n).map { _ in rng.uniform(-scale, scale) })
}

/// Probe loss L = sum(w * layer(x)); checks dL/dparams and dL/dx (unless x holds ids).
/// With training, every forward draws its dropout masks from the same re-seeded rng, so the
/// probes and the analytic gradient see the same masks.
func checkLayerGradients(_ layer: Layer, x: Tensor, mask: [Float]? = nil, checkInput: Bool = true,
                         training: Bool = false, samples: Int = 24, seed: UInt64 = 1,
                         file: StaticString = #filePath, line: UInt = #line) {
    var rng = Rng(seed: seed)
    let (y0, _) = layer.forward(x, mask: mask, training: training, rng: &rng)
    let w = randomTensor(y0.shape, &rng)
    func probe(_ input: Tensor) -> Double {
        var r = Rng(seed: 0)
        let (y, _) = layer.forward(input, mask: mask, training: training, rng: &r)
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(w.data[i]) }
        return s
    }
    for p in layer.params { p.grad = [Float](repeating: 0, count: p.count) }
    _ = probe(x)
    let dx = layer.backward(w)
    for p in layer.params {
        for _ in 0..<samples {
            let i = rng.below(p.count)
            let orig = p.value[i]
            p.value[i] = orig + fdStep
            let lp = probe(x)
            p.value[i] = orig - fdStep
            let lm = probe(x)
            p.value[i] = orig
            assertClose(p.grad[i], (lp - lm) / Double(2 * fdStep), "\(layer.name)/\(p.name)[\(i)]", file: file, line: line)
        }
    }
    guard checkInput else { return }
    XCTAssertEqual(dx.shape, x.shape, "dx shape", file: file, line: line)
    for _ in 0..<samples {
        let i = rng.below(x.count)
        var xp = x, xm = x
        xp.data[i] += fdStep
        xm.data[i] -= fdStep
        assertClose(dx.data[i], (probe(xp) - probe(xm)) / Double(2 * fdStep), "\(layer.name) dx[\(i)]", file: file, line: line)
    }
}

/// weightsFollow: the caller sets every weight (the initializers are skipped; the orthogonal one
/// takes seconds for a wide layer in a debug build).
func makeLayer(_ cls: String, _ config: JSON, input: FeatureShape, seed: UInt64 = 7, weightsFollow: Bool = false) throws -> Layer {
    let layer = try LayerRegistry.classes[cls]!("test_\(cls.lowercased())", ConfigReader(config, className: cls))
    var rng = Rng(seed: seed)
    rng.weightsDiscarded = weightsFollow
    try layer.build(input: input, rng: &rng)
    return layer
}

/// Gradient of a sigmoid + binary crossentropy training loss through a whole model (fused, as
/// fit computes it) against finite differences of the same loss in inference mode, on
/// `samplesPerParam` random entries of every weight (or of those in `only`).
func checkModelGradients(_ m: Model, x: Tensor, y: [Float], samplesPerParam: Int, only: [Param]? = nil,
                         file: StaticString = #filePath, line: UInt = #line) {
    let loss = LossFunction(kind: .binaryCrossentropy)
    let rows = y.count
    func value() -> Double {
        var rng = Rng(seed: 0)
        let out = m.forward(x, training: false, rng: &rng)
        return loss.lossAndGrad(p: out.data, y: y, rows: rows, width: 1).0
    }
    guard let dense = m.fusedOutputLayer(for: .binaryCrossentropy) else {
        return XCTFail("the model must end in Dense(1, sigmoid)", file: file, line: line)
    }
    dense.keepsLogits = true   // as fit sets it
    var rng = Rng(seed: 0)
    let out = m.forward(x, training: true, rng: &rng)
    let (_, grad) = loss.lossAndGrad(logits: dense.logits, probabilities: out.data, y: y, rows: rows, width: 1)
    for p in m.params { p.grad = [Float](repeating: 0, count: p.count) }
    m.backward(grad, fused: true, outputShape: out.shape)
    var sampler = Rng(seed: 11)
    for p in only ?? m.params {
        for _ in 0..<samplesPerParam {
            let i = sampler.below(p.count)
            let orig = p.value[i]
            p.value[i] = orig + fdStep
            let lp = value()
            p.value[i] = orig - fdStep
            let lm = value()
            p.value[i] = orig
            assertClose(p.grad[i], (lp - lm) / Double(2 * fdStep), "\(p.name)[\(i)]", file: file, line: line)
        }
    }
}
