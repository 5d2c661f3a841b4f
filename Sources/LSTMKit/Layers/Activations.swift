/// Activation functions that Dense supports, named as in Keras.
enum Activation: String {
    case linear, relu, sigmoid, tanh, softmax

    static func parse(_ name: String?, layer: String) throws -> Activation {
        guard let name else { return .linear }
        guard let a = Activation(rawValue: name) else {
            throw LSTMKitError(.badConfig, "\(layer): unknown activation '\(name)' (linear, relu, sigmoid, tanh, softmax)")
        }
        return a
    }
}

/// The element-wise activations shared by Dense and Conv1D, over a (rows, width) buffer.
/// Softmax works on the last axis (width), as Keras does.
func applyActivation(_ activation: Activation, _ p: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
    let n = rows * width
    switch activation {
    case .linear: break
    case .relu: for i in 0..<n where p[i] < 0 { p[i] = 0 }
    case .sigmoid: sigmoidInPlace(p, n)
    case .tanh: tanhInPlace(p, n)
    case .softmax: if width > 0 { softmaxRowsInPlace(p, rows: rows, width: width) }
    }
}

/// dL/dy -> dL/dz through the activation, from the activated output y (same (rows, width) layout).
func activationBackward(_ activation: Activation, dy: [Float], y: [Float], width: Int) -> [Float] {
    var dz = dy
    switch activation {
    case .linear: break
    case .relu: for i in 0..<dz.count where y[i] <= 0 { dz[i] = 0 }
    case .sigmoid: for i in 0..<dz.count { dz[i] *= y[i] * (1 - y[i]) }
    case .tanh: for i in 0..<dz.count { dz[i] *= 1 - y[i] * y[i] }
    case .softmax:
        for r in 0..<(dz.count / width) {
            var dot: Float = 0
            for j in 0..<width { dot += dy[r * width + j] * y[r * width + j] }
            for j in 0..<width { dz[r * width + j] = y[r * width + j] * (dy[r * width + j] - dot) }
        }
    }
    return dz
}

extension ConfigReader {
    /// An integer given either plainly or as a one-element list, as Keras's 1D layers store
    /// kernel_size, strides, pool_size and dilation_rate ((3,) in a saved config).
    func int1D(_ key: String, default def: Int? = nil, max: Int = 1 << 20) throws -> Int {
        if let v = value(key), let items = v.arrayValue {
            guard items.count == 1, let i = items[0].intValue, i >= 1, i <= max else {
                throw LSTMKitError(.badConfig, "\(className): '\(key)' must be a positive integer or a list of one")
            }
            return i
        }
        return try int(key, default: def, max: max)
    }

    /// One of the allowed strings (compared lower-cased).
    func choice(_ key: String, default def: String, _ allowed: [String]) throws -> String {
        let s = (try string(key, default: def) ?? def).lowercased()
        guard allowed.contains(s) else {
            throw LSTMKitError(.badConfig, "\(className): '\(key)' must be one of \(allowed.joined(separator: ", ")), got '\(s)'")
        }
        return s
    }
}
