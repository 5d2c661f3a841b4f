import Glibc

/// What Model needs from an optimizer: one update of every parameter from its gradient, and the
/// config that recreates it.
protocol Optimizer: AnyObject {
    var config: JSON { get }
    /// Updates applied so far (Keras's optimizer.iterations).
    var iterations: Int { get }
    func step(_ params: [Param])
    /// The per-parameter slot names this optimizer keeps (Adam: m, v), in a fixed order; the
    /// model file stores each as "optimizer/<weight>/<slot>" (Training/ModelFile.swift).
    var slotNames: [String] { get }
    /// The slots by name, one array per parameter in the model's order; empty before the first step.
    func slotValues(_ name: String) -> [[Float]]
    /// Puts back a saved state: the iteration count and every slot (all of slotNames, each one
    /// array per parameter, shapes checked by the caller), as if the steps had been taken here.
    func restore(iterations: Int, slots: [String: [[Float]]], params: [Param])
}

/// Builds an optimizer from compile's "optimizer": a name ("adam", "SGD", ...), a flat object
/// {"class_name": "sgd", "learning_rate": ...} or Keras's serialized form
/// {"class_name": "SGD", "config": {...}}.
func makeOptimizer(_ json: JSON?) throws -> Optimizer {
    var name = "adam"   // what this engine has always used when compile names none
    var config: JSON? = nil
    switch json {
    case nil, .null?: break
    case .string(let s)?: name = s
    case .object(let o)?:
        name = o["class_name"]?.stringValue ?? o["name"]?.stringValue ?? "adam"
        if let inner = o["config"], inner.objectValue != nil {
            // Keras's serialized form: what is beside the config only says where the class is.
            for key in o.keys.sorted() where !["class_name", "config", "module", "registered_name"].contains(key) {
                throw LSTMKitError(.badConfig, "optimizer: unknown key '\(key)' beside 'config' (class_name, config, module, registered_name)")
            }
            config = inner
        } else {
            var rest = o
            rest["class_name"] = nil
            config = .object(rest)
        }
        // "name" inside a config is the optimizer's own name, which we do not keep.
        if var c = config?.objectValue { c["name"] = nil; config = .object(c) }
    default: throw LSTMKitError(.badConfig, "'optimizer' must be a name or an object")
    }
    switch name.lowercased() {
    case "adam": return try Adam(config: config)
    case "sgd": return try SGD(config: config)
    case "rmsprop": return try RMSprop(config: config)
    case "adagrad": return try Adagrad(config: config)
    default: throw LSTMKitError(.badConfig, "unknown optimizer '\(name)' (adam, sgd, rmsprop, adagrad)")
    }
}

/// A learning rate: a constant, or Keras's ExponentialDecay evaluated at the optimizer's
/// iteration count before the update (0 on the first step):
/// initial * decay_rate ^ (step / decay_steps), the exponent floored when staircase.
enum LearningRate {
    case constant(Float)
    case exponentialDecay(initial: Float, decaySteps: Int, decayRate: Float, staircase: Bool)

    init(_ json: JSON?, default def: Float) throws {
        guard let json, !json.isNull else { self = .constant(def); return }
        if let d = json.doubleValue {
            guard d.isFinite && d >= 0 else { throw LSTMKitError(.badConfig, "'learning_rate' must be a non-negative number") }
            self = .constant(Float(d))
            return
        }
        guard let o = json.objectValue, let cls = o["class_name"]?.stringValue else {
            throw LSTMKitError(.badConfig, "'learning_rate' must be a number or a schedule {\"class_name\": \"ExponentialDecay\", \"config\": {...}}")
        }
        guard cls == "ExponentialDecay" else {
            throw LSTMKitError(.badConfig, "unknown learning rate schedule '\(cls)' (ExponentialDecay)")
        }
        var fields = o["config"]?.objectValue ?? o
        fields["class_name"] = nil
        if o["config"]?.objectValue != nil {
            for key in o.keys.sorted() where !["class_name", "config", "module", "registered_name"].contains(key) {
                throw LSTMKitError(.badConfig, "ExponentialDecay: unknown key '\(key)' beside 'config' (class_name, config, module, registered_name)")
            }
        } else {
            fields["module"] = nil
            fields["registered_name"] = nil
        }
        let c = try ConfigReader(.object(fields), className: "ExponentialDecay")
        guard fields["initial_learning_rate"] != nil, fields["decay_steps"] != nil, fields["decay_rate"] != nil else {
            throw LSTMKitError(.badConfig, "ExponentialDecay needs initial_learning_rate, decay_steps and decay_rate")
        }
        self = .exponentialDecay(initial: try c.float("initial_learning_rate", default: 0, min: 0),
                                 decaySteps: try c.int("decay_steps", max: 1 << 40),
                                 decayRate: try c.float("decay_rate", default: 1, min: 0),
                                 staircase: try c.bool("staircase", default: false))
        try c.refuseUnknownKeys(extra: ["name"])
    }

    func value(at step: Int) -> Float {
        switch self {
        case .constant(let lr): return lr
        case .exponentialDecay(let initial, let decaySteps, let decayRate, let staircase):
            var p = Float(step) / Float(decaySteps)
            if staircase { p = p.rounded(.down) }
            return initial * powf(decayRate, p)
        }
    }

    var json: JSON {
        switch self {
        case .constant(let lr): return jsonNumber(lr)
        case .exponentialDecay(let initial, let decaySteps, let decayRate, let staircase):
            return .object(["class_name": "ExponentialDecay",
                            "config": .object(["initial_learning_rate": jsonNumber(initial),
                                               "decay_steps": jsonNumber(decaySteps),
                                               "decay_rate": jsonNumber(decayRate),
                                               "staircase": .bool(staircase)])])
        }
    }
}

/// The part every Keras 3 optimizer shares: the learning rate (or schedule), gradient clipping
/// and the iteration count. step() clips the gradients in place (they are zeroed before every
/// batch), runs the subclass's update with the learning rate of the current iteration, then
/// counts the iteration, in the order of Keras's BaseOptimizer.apply.
class OptimizerBase: Optimizer {
    let className: String
    let learningRate: LearningRate
    let clipnorm: Float?
    let clipvalue: Float?
    let globalClipnorm: Float?
    private(set) var iterations = 0

    init(_ c: ConfigReader, className: String, defaultLearningRate: Float) throws {
        self.className = className
        learningRate = try LearningRate(c.value("learning_rate"), default: defaultLearningRate)
        func positive(_ key: String) throws -> Float? {
            guard let v = c.value(key), !v.isNull else { return nil }
            let f = try c.float(key, default: 0, min: 0)
            return f > 0 ? f : nil
        }
        clipnorm = try positive("clipnorm")
        clipvalue = try positive("clipvalue")
        globalClipnorm = try positive("global_clipnorm")
        if [clipnorm, clipvalue, globalClipnorm].compactMap({ $0 }).count > 1 {
            throw LSTMKitError(.badConfig, "\(className): only one of clipnorm, clipvalue and global_clipnorm can be set")
        }
        // The rest of what Keras's optimizers take: refused unless at the default, as they
        // change the updates and are not implemented; ema_* mean nothing without use_ema,
        // jit_compile and is_legacy_optimizer nothing here. Then any other key is unknown.
        func zero(_ v: JSON) -> Bool { v.doubleValue == 0 }
        try c.requireDefault("weight_decay", zero, "weight decay is not implemented")
        try c.requireDefault("use_ema", { $0.boolValue == false }, "the moving average of the weights is not implemented")
        try c.requireDefault("loss_scale_factor", { $0.doubleValue == 1 }, "loss scaling is not implemented")
        try c.requireDefault("gradient_accumulation_steps", { $0.doubleValue == 1 }, "gradient accumulation is not implemented")
        try c.requireDefault("decay", zero, "Keras 2's per-step learning rate decay is not implemented; use an ExponentialDecay learning_rate")
        c.accept(["ema_momentum", "ema_overwrite_frequency", "jit_compile", "is_legacy_optimizer"])
        try c.refuseUnknownKeys()
    }

    /// The subclass's own hyperparameters, for config.
    var hyperparameters: [String: JSON] { [:] }

    var config: JSON {
        var o = hyperparameters
        o["class_name"] = .string(className)
        o["learning_rate"] = learningRate.json
        if let clipnorm { o["clipnorm"] = jsonNumber(clipnorm) }
        if let clipvalue { o["clipvalue"] = jsonNumber(clipvalue) }
        if let globalClipnorm { o["global_clipnorm"] = jsonNumber(globalClipnorm) }
        return .object(o)
    }

    /// Creates the per-parameter slots (called when the parameter list first arrives).
    func createSlots(_ params: [Param]) {}
    /// The weights the slots were made for, in order: a different list (a layer frozen or
    /// unfrozen) makes new slots.
    private var slotOwners: [ObjectIdentifier]? = nil

    var slotNames: [String] { [] }
    func slotValues(_ name: String) -> [[Float]] { [] }
    /// Sets one slot (all parameters); called by restore after createSlots.
    func setSlot(_ name: String, _ values: [[Float]]) {}

    func restore(iterations: Int, slots: [String: [[Float]]], params: [Param]) {
        createSlots(params)
        slotOwners = params.map(ObjectIdentifier.init)
        for (name, values) in slots { setSlot(name, values) }
        self.iterations = iterations
    }

    /// One variable's update: w -= f(g) with the optimizer's state k, at learning rate lr.
    /// g2, where given, replaces g * g (Param.lookupSquares).
    func update(_ k: Int, _ w: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
                _ g2: UnsafeBufferPointer<Float>?, lr: Float) {}

    func step(_ params: [Param]) {
        clip(params)
        let owners = params.map(ObjectIdentifier.init)
        if slotOwners != owners {
            createSlots(params)
            slotOwners = owners
        }
        let lr = learningRate.value(at: iterations)
        for (k, p) in params.enumerated() {
            p.grad.withUnsafeBufferPointer { g in
                p.withMutableValue { w in
                    if let squares = p.lookupSquares {
                        squares.withUnsafeBufferPointer { update(k, w, g, $0, lr: lr) }
                    } else {
                        update(k, w, g, nil, lr: lr)
                    }
                }
            }
        }
        iterations += 1
    }

    private func scaleLookupSquares(_ p: Param, _ scale: Float) {
        guard p.lookupSquares != nil else { return }
        for i in 0..<p.count { p.lookupSquares![i] *= scale * scale }
    }

    /// Keras 3's _clip_gradients: clipnorm per variable (g * c / max(|g|, c)), else
    /// global_clipnorm over all variables (g * min(1, c / |all g|)), else clipvalue element-wise.
    private func clip(_ params: [Param]) {
        func norm(_ p: Param) -> Double { p.grad.reduce(0.0) { $0 + Double($1) * Double($1) } }
        if let c = clipnorm {
            for p in params {
                let n = Float(norm(p).squareRoot())
                if n <= c { continue }
                let scale = c / n
                for i in 0..<p.count { p.grad[i] *= scale }
                scaleLookupSquares(p, scale)
            }
        } else if let c = globalClipnorm {
            let n = Float(params.reduce(0.0) { $0 + norm($1) }.squareRoot())
            if n <= c { return }
            let scale = c / n
            for p in params {
                for i in 0..<p.count { p.grad[i] *= scale }
                scaleLookupSquares(p, scale)
            }
        } else if let c = clipvalue {
            for p in params { for i in 0..<p.count { p.grad[i] = min(max(p.grad[i], -c), c) } }
        }
    }
}

/// A Float hyperparameter as the decimal it was written as (0.01, not 0.009999999776).
func jsonNumber(_ f: Float) -> JSON { .number(Double("\(f)") ?? Double(f)) }

/// An integer hyperparameter.
func jsonNumber(_ i: Int) -> JSON { .number(Double(i)) }

private func zerosLike(_ params: [Param], _ value: Float = 0) -> [[Float]] {
    params.map { [Float](repeating: value, count: $0.count) }
}

/// Keras 3's Adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
/// w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps), t = iterations + 1.
final class Adam: OptimizerBase {
    let beta1: Float
    let beta2: Float
    let epsilon: Float
    private var m: [[Float]] = []
    private var v: [[Float]] = []

    init(config: JSON?) throws {
        let c = try ConfigReader(config, className: "Adam")
        beta1 = try c.float("beta_1", default: 0.9, min: 0, max: 1, maxInclusive: false)
        beta2 = try c.float("beta_2", default: 0.999, min: 0, max: 1, maxInclusive: false)
        epsilon = try c.float("epsilon", default: 1e-7, min: 0)
        guard try !c.bool("amsgrad", default: false) else { throw LSTMKitError(.badConfig, "Adam: amsgrad is not supported") }
        try super.init(c, className: "adam", defaultLearningRate: 0.001)
    }

    override var hyperparameters: [String: JSON] {
        ["beta_1": jsonNumber(beta1), "beta_2": jsonNumber(beta2), "epsilon": jsonNumber(epsilon)]
    }
    override func createSlots(_ params: [Param]) { m = zerosLike(params); v = m }
    override var slotNames: [String] { ["m", "v"] }
    override func slotValues(_ name: String) -> [[Float]] { name == "m" ? m : name == "v" ? v : [] }
    override func setSlot(_ name: String, _ values: [[Float]]) {
        if name == "m" { m = values } else if name == "v" { v = values }
    }

    override func update(_ k: Int, _ w: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
                         _ g2: UnsafeBufferPointer<Float>?, lr: Float) {
        let t = Double(iterations + 1)
        let alpha = Float(Double(lr) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
        let b1 = beta1, b2 = beta2, eps = epsilon
        m[k].withUnsafeMutableBufferPointer { mk in
        v[k].withUnsafeMutableBufferPointer { vk in
            for i in 0..<w.count {
                let gi = g[i]
                mk[i] += (gi - mk[i]) * (1 - b1)
                vk[i] += ((g2?[i] ?? gi * gi) - vk[i]) * (1 - b2)
                w[i] -= alpha * mk[i] / (vk[i].squareRoot() + eps)
            }
        }}
    }
}

/// Keras 3's SGD: without momentum w -= lr g; with momentum m = momentum m - lr g, then
/// w += m, or with nesterov w += momentum m - lr g.
final class SGD: OptimizerBase {
    let momentum: Float
    let nesterov: Bool
    private var m: [[Float]] = []

    init(config: JSON?) throws {
        let c = try ConfigReader(config, className: "SGD")
        momentum = try c.float("momentum", default: 0, min: 0, max: 1)
        nesterov = try c.bool("nesterov", default: false)
        try super.init(c, className: "sgd", defaultLearningRate: 0.01)
    }

    override var hyperparameters: [String: JSON] { ["momentum": jsonNumber(momentum), "nesterov": .bool(nesterov)] }
    override func createSlots(_ params: [Param]) { if momentum > 0 { m = zerosLike(params) } }
    override var slotNames: [String] { momentum > 0 ? ["momentum"] : [] }
    override func slotValues(_ name: String) -> [[Float]] { name == "momentum" ? m : [] }
    override func setSlot(_ name: String, _ values: [[Float]]) { if name == "momentum" { m = values } }

    override func update(_ k: Int, _ w: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
                         _ g2: UnsafeBufferPointer<Float>?, lr: Float) {
        if momentum == 0 {
            for i in 0..<w.count { w[i] -= lr * g[i] }
            return
        }
        let mu = momentum
        m[k].withUnsafeMutableBufferPointer { mk in
            for i in 0..<w.count {
                mk[i] = mu * mk[i] - lr * g[i]
                w[i] += nesterov ? mu * mk[i] - lr * g[i] : mk[i]
            }
        }
    }
}

/// Keras 3's RMSprop: v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g and the
/// denominator is v - a^2 + eps, else v + eps; step = lr g / sqrt(denominator); with momentum
/// m = momentum m + step and w -= m, else w -= step.
final class RMSprop: OptimizerBase {
    let rho: Float
    let momentum: Float
    let epsilon: Float
    let centered: Bool
    private var velocity: [[Float]] = []
    private var moment: [[Float]] = []
    private var average: [[Float]] = []

    init(config: JSON?) throws {
        let c = try ConfigReader(config, className: "RMSprop")
        rho = try c.float("rho", default: 0.9, min: 0, max: 1)
        momentum = try c.float("momentum", default: 0, min: 0, max: 1)
        epsilon = try c.float("epsilon", default: 1e-7, min: 0)
        centered = try c.bool("centered", default: false)
        try super.init(c, className: "rmsprop", defaultLearningRate: 0.001)
    }

    override var hyperparameters: [String: JSON] {
        ["rho": jsonNumber(rho), "momentum": jsonNumber(momentum),
         "epsilon": jsonNumber(epsilon), "centered": .bool(centered)]
    }
    override func createSlots(_ params: [Param]) {
        velocity = zerosLike(params)
        if momentum > 0 { moment = velocity }
        if centered { average = velocity }
    }
    override var slotNames: [String] { ["velocity"] + (momentum > 0 ? ["momentum"] : []) + (centered ? ["average_gradient"] : []) }
    override func slotValues(_ name: String) -> [[Float]] {
        switch name {
        case "velocity": return velocity
        case "momentum": return moment
        case "average_gradient": return average
        default: return []
        }
    }
    override func setSlot(_ name: String, _ values: [[Float]]) {
        switch name {
        case "velocity": velocity = values
        case "momentum": moment = values
        case "average_gradient": average = values
        default: break
        }
    }

    override func update(_ k: Int, _ w: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
                         _ g2: UnsafeBufferPointer<Float>?, lr: Float) {
        let rho = rho, mu = momentum, eps = epsilon, centered = centered
        // The slots are moved out while updated, so no copy is made; absent ones (no momentum,
        // not centered) are a one-element dummy that the loop never touches.
        var v = velocity[k], a = centered ? average[k] : [0], m = mu > 0 ? moment[k] : [0]
        velocity[k] = []
        if centered { average[k] = [] }
        if mu > 0 { moment[k] = [] }
        v.withUnsafeMutableBufferPointer { v in
        a.withUnsafeMutableBufferPointer { a in
        m.withUnsafeMutableBufferPointer { m in
            for i in 0..<w.count {
                let gi = g[i]
                v[i] = rho * v[i] + (1 - rho) * (g2?[i] ?? gi * gi)
                var denominator = v[i] + eps
                if centered {
                    a[i] = rho * a[i] + (1 - rho) * gi
                    denominator = v[i] - a[i] * a[i] + eps
                }
                let increment = lr * gi / denominator.squareRoot()
                if mu > 0 {
                    m[i] = mu * m[i] + increment
                    w[i] -= m[i]
                } else {
                    w[i] -= increment
                }
            }
        }}}
        velocity[k] = v
        if centered { average[k] = a }
        if mu > 0 { moment[k] = m }
    }
}

/// Keras 3's Adagrad: accumulator starts at initial_accumulator_value; acc += g^2;
/// w -= lr g / sqrt(acc + eps).
final class Adagrad: OptimizerBase {
    let initialAccumulator: Float
    let epsilon: Float
    private var accumulator: [[Float]] = []

    init(config: JSON?) throws {
        let c = try ConfigReader(config, className: "Adagrad")
        initialAccumulator = try c.float("initial_accumulator_value", default: 0.1, min: 0)
        epsilon = try c.float("epsilon", default: 1e-7, min: 0)
        try super.init(c, className: "adagrad", defaultLearningRate: 0.001)
    }

    override var hyperparameters: [String: JSON] {
        ["initial_accumulator_value": jsonNumber(initialAccumulator), "epsilon": jsonNumber(epsilon)]
    }
    override func createSlots(_ params: [Param]) { accumulator = zerosLike(params, initialAccumulator) }
    override var slotNames: [String] { ["accumulator"] }
    override func slotValues(_ name: String) -> [[Float]] { name == "accumulator" ? accumulator : [] }
    override func setSlot(_ name: String, _ values: [[Float]]) { if name == "accumulator" { accumulator = values } }

    override func update(_ k: Int, _ w: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
                         _ g2: UnsafeBufferPointer<Float>?, lr: Float) {
        accumulator[k].withUnsafeMutableBufferPointer { acc in
            for i in 0..<w.count {
                acc[i] += g2?[i] ?? g[i] * g[i]
                w[i] -= lr * g[i] / (acc[i] + epsilon).squareRoot()
            }
        }
    }
}
