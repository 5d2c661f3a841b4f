import Glibc

/// Keras's epsilon for clipping probabilities.
let lossEpsilon: Float = 1e-7

enum LossKind: String {
    case binaryCrossentropy = "binary_crossentropy"
    case categoricalCrossentropy = "categorical_crossentropy"
    case sparseCategoricalCrossentropy = "sparse_categorical_crossentropy"
    case meanSquaredError = "mean_squared_error"
    case meanAbsoluteError = "mean_absolute_error"

    static func parse(_ name: String) throws -> LossKind {
        // Keras's losses.get accepts these short and class names too.
        let aliases = ["mse": "mean_squared_error", "MSE": "mean_squared_error", "MeanSquaredError": "mean_squared_error",
                       "mae": "mean_absolute_error", "MAE": "mean_absolute_error", "MeanAbsoluteError": "mean_absolute_error",
                       "bce": "binary_crossentropy", "BCE": "binary_crossentropy", "BinaryCrossentropy": "binary_crossentropy",
                       "CategoricalCrossentropy": "categorical_crossentropy",
                       "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy"]
        guard let k = LossKind(rawValue: aliases[name] ?? name) else {
            throw LSTMKitError(.badConfig, "unknown loss '\(name)' (binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error, mean_absolute_error)")
        }
        return k
    }

    /// The activation whose logits this loss can take directly, as Keras's TensorFlow backend does
    /// when the output came from that activation: exact and free of the clipping plateau.
    var fusedActivation: Activation? {
        switch self {
        case .binaryCrossentropy: return .sigmoid
        case .categoricalCrossentropy, .sparseCategoricalCrossentropy: return .softmax
        default: return nil
        }
    }
}

/// Loss values and gradients. `rows` is the number of samples (times timesteps for sequence
/// outputs); `width` the size of the last axis of the prediction. y is dense like the prediction,
/// except for the sparse loss where it holds one class id per row. Reduction is Keras's
/// sum_over_batch_size: the mean over rows.
struct LossFunction {
    let kind: LossKind

    /// From the activated prediction p: returns the mean loss and dL/dp.
    func lossAndGrad(p: [Float], y: [Float], rows: Int, width: Int) -> (Double, [Float]) {
        var grad = [Float](repeating: 0, count: p.count)
        var total = 0.0
        let n = Float(rows)
        switch kind {
        case .binaryCrossentropy:
            for i in 0..<p.count {
                let pc = min(max(p[i], lossEpsilon), 1 - lossEpsilon)
                total -= Double(y[i] * logf(pc) + (1 - y[i]) * logf(1 - pc))
                let inside = p[i] > lossEpsilon && p[i] < 1 - lossEpsilon
                grad[i] = inside ? (pc - y[i]) / (pc * (1 - pc)) / (n * Float(width)) : 0
            }
            total /= Double(width)
        case .categoricalCrossentropy, .sparseCategoricalCrossentropy:
            // Keras rescales p to sum to 1 before clipping.
            for r in 0..<rows {
                let row = r * width
                var s: Float = 0
                for j in 0..<width { s += p[row + j] }
                for j in 0..<width {
                    let t = target(y, r, j, width)
                    if t == 0 { continue }
                    let q = p[row + j] / s
                    let qc = min(max(q, lossEpsilon), 1 - lossEpsilon)
                    total -= Double(t * logf(qc))
                    if q > lossEpsilon && q < 1 - lossEpsilon {
                        // d(-t log(p_j / s))/dp_k = -t/p_j [k = j] + t/s
                        grad[row + j] -= t / p[row + j] / n
                        for k in 0..<width { grad[row + k] += t / s / n }
                    }
                }
            }
        case .meanSquaredError:
            for i in 0..<p.count {
                let e = p[i] - y[i]
                total += Double(e * e)
                grad[i] = 2 * e / (n * Float(width))
            }
            total /= Double(width)
        case .meanAbsoluteError:
            for i in 0..<p.count {
                let e = p[i] - y[i]
                total += Double(abs(e))
                grad[i] = (e > 0 ? 1 : (e < 0 ? -1 : 0)) / (n * Float(width))
            }
            total /= Double(width)
        }
        return (total / Double(rows), grad)
    }

    /// From logits z of the fused activation: returns the mean loss and dL/dz.
    func lossAndGrad(logits z: [Float], probabilities p: [Float], y: [Float], rows: Int, width: Int) -> (Double, [Float]) {
        var grad = [Float](repeating: 0, count: z.count)
        var total = 0.0
        let n = Float(rows)
        switch kind {
        case .binaryCrossentropy:
            for i in 0..<z.count {
                // max(z, 0) - z y + log(1 + e^{-|z|}), as tf.nn.sigmoid_cross_entropy_with_logits
                total += Double(max(z[i], 0) - z[i] * y[i] + log1pf(expf(-abs(z[i]))))
                grad[i] = (p[i] - y[i]) / (n * Float(width))
            }
            total /= Double(width)
        default:
            for r in 0..<rows {
                let row = r * width
                var mx = z[row]
                for j in 0..<width { mx = max(mx, z[row + j]) }
                var s: Double = 0
                for j in 0..<width { s += Double(expf(z[row + j] - mx)) }
                let logSum = Double(mx) + log(s)
                var tsum: Float = 0
                for j in 0..<width {
                    let t = target(y, r, j, width)
                    tsum += t
                    if t != 0 { total -= Double(t) * (Double(z[row + j]) - logSum) }
                }
                for j in 0..<width { grad[row + j] = (tsum * p[row + j] - target(y, r, j, width)) / n }
            }
        }
        return (total / Double(rows), grad)
    }

    @inline(__always)
    private func target(_ y: [Float], _ r: Int, _ j: Int, _ width: Int) -> Float {
        kind == .sparseCategoricalCrossentropy ? (Int(y[r]) == j ? 1 : 0) : y[r * width + j]
    }
}

@inline(__always)
func argmax(_ a: [Float], _ start: Int, _ n: Int) -> Int {
    var best = 0
    for j in 1..<max(n, 1) where a[start + j] > a[start + best] { best = j }
    return best
}
