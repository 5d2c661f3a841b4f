import Glibc

/// Adam with Keras's defaults and update rule (epsilon added to sqrt(v), bias correction folded
/// into the learning rate).
final class Adam {
    let learningRate: Float
    let beta1: Float
    let beta2: Float
    let epsilon: Float
    private(set) var iterations = 0
    private var m: [[Float]] = []
    private var v: [[Float]] = []

    init(config: JSON?) throws {
        let c = try LayerConfig(config, className: "Adam")
        learningRate = try c.float("learning_rate", default: 0.001, min: 0)
        beta1 = try c.float("beta_1", default: 0.9, min: 0, max: 1, maxInclusive: false)
        beta2 = try c.float("beta_2", default: 0.999, min: 0, max: 1, maxInclusive: false)
        epsilon = try c.float("epsilon", default: 1e-7, min: 0)
    }

    var config: JSON {
        .object(["class_name": "adam", "learning_rate": .number(Double(learningRate)),
                 "beta_1": .number(Double(beta1)), "beta_2": .number(Double(beta2)),
                 "epsilon": .number(Double(epsilon))])
    }

    func step(_ params: [Param]) {
        if m.count != params.count {
            m = params.map { [Float](repeating: 0, count: $0.count) }
            v = m
        }
        iterations += 1
        let t = Double(iterations)
        let lr = Float(Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
        let b1 = beta1, b2 = beta2, eps = epsilon
        for (k, p) in params.enumerated() {
            let n = p.count
            p.grad.withUnsafeBufferPointer { g in
            p.value.withUnsafeMutableBufferPointer { w in
            m[k].withUnsafeMutableBufferPointer { mk in
            v[k].withUnsafeMutableBufferPointer { vk in
                for i in 0..<n {
                    let gi = g[i]
                    mk[i] += (gi - mk[i]) * (1 - b1)
                    vk[i] += (gi * gi - vk[i]) * (1 - b2)
                    w[i] -= lr * mk[i] / (vk[i].squareRoot() + eps)
                }
            }}}}
        }
    }
}
