import Glibc

/// Sizes that would not fit in memory are refused up front with LSTMKIT_E_NO_MEMORY: Swift
/// cannot recover from a failed allocation, so in a library loaded into someone else's process
/// "try it and see" would take that process down. The budget is the machine's physical memory,
/// or the address-space / data rlimit when one is lower, or LSTMKIT_MEMORY_LIMIT (bytes) when the
/// host process sets a lower one in its environment (read at each check).
enum MemoryBudget {
    static var bytes: Int {
        if let text = getenv("LSTMKIT_MEMORY_LIMIT"), let limit = Int(String(cString: text)), limit > 0 {
            return min(limit, machine)
        }
        return machine
    }

    private static let machine: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        var budget = pages > 0 && pageSize > 0 ? pages.multipliedReportingOverflow(by: pageSize).partialValue : 1 << 34
        if budget <= 0 { budget = 1 << 34 }
        var lim = rlimit()
        for resource in [RLIMIT_AS, RLIMIT_DATA] {
            // RLIM_INFINITY is all ones, which the comparison treats as "no lower limit".
            if getrlimit(__rlimit_resource_t(resource.rawValue), &lim) == 0 && lim.rlim_cur < UInt64(budget) {
                budget = Int(lim.rlim_cur)
            }
        }
        return budget
    }()

    static func describe(_ bytes: Int) -> String {
        let gib = Double(bytes) / Double(1 << 30)
        return gib >= 0.1 ? "\((gib * 10).rounded() / 10) GiB" : "\(bytes / (1 << 20)) MiB"
    }

    /// Saturating arithmetic for estimates: anything that overflows is "too much" anyway.
    static func mul(_ a: Int, _ b: Int) -> Int {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        return o || p < 0 ? Int.max : p
    }
    static func add(_ a: Int, _ b: Int) -> Int {
        let (s, o) = a.addingReportingOverflow(b)
        return o ? Int.max : s
    }
}

extension Model {
    /// Weights each layer would create for `input` (without batch), computed without building.
    /// Layers not listed here are counted as having no weights.
    static func plannedParams(_ layer: Layer, input: FeatureShape) -> Int {
        let last = input.last.flatMap { $0 } ?? 1
        typealias B = MemoryBudget
        switch layer {
        case let e as Embedding: return B.mul(e.inputDim, e.outputDim)
        case let l as LSTM: return B.mul(B.add(B.add(last, l.units), 1), B.mul(4, l.units))
        case let d as Dense: return B.mul(B.add(last, d.useBias ? 1 : 0), d.units)
        default: return 0
        }
    }

    /// Each layer with its (first) input shape and output shape, as far as the shapes can be
    /// worked out (build reports the layer that does not fit); the last output is nil when it
    /// cannot be.
    func layerShapes(input: FeatureShape) -> [(Layer, FeatureShape, FeatureShape?)] {
        var out: [(Layer, FeatureShape, FeatureShape?)] = []
        if let graph {
            return graph.partialShapes(layers, input: input).enumerated().map { i, node in
                (layers[i], node.inputs[0], node.outputs?[0])
            }
        }
        var shape = input
        for layer in layers {
            let next = try? layer.outputShape(for: shape)
            out.append((layer, shape, next))
            guard let next else { break }
            shape = next
        }
        return out
    }

    /// Refuses to build weights that could not be trained in memory: each weight needs its value,
    /// its gradient and Adam's two moments (16 bytes), and LSTM's orthogonal initialiser a
    /// temporary copy in double precision.
    func checkWeightBudget(input: FeatureShape) throws {
        var total = 0
        for (layer, shape, _) in layerShapes(input: input) {
            var bytes = MemoryBudget.mul(Model.plannedParams(layer, input: shape), 16)
            if let l = layer as? LSTM { bytes = MemoryBudget.add(bytes, MemoryBudget.mul(MemoryBudget.mul(l.units, l.units), 32)) }
            total = MemoryBudget.add(total, bytes)
        }
        guard total <= MemoryBudget.bytes else {
            throw LSTMKitError(.noMemory, "model '\(name)' would need \(MemoryBudget.describe(total)) for its weights, more than the \(MemoryBudget.describe(MemoryBudget.bytes)) available")
        }
    }

    /// Refuses a batch whose activations (kept for backward) would not fit in memory.
    func checkBatchBudget(batch: Int, features: FeatureShape) throws {
        typealias B = MemoryBudget
        var perSample = features.reduce(1) { B.mul($0, $1 ?? 1) }   // the gathered input rows
        for (layer, shape, next) in layerShapes(input: features) {
            guard let next else { break }
            let out = next.reduce(1) { B.mul($0, $1 ?? 1) }
            if let l = layer as? LSTM {
                // gates (4H), cell and hidden state per step, and their gradients
                let steps = shape.first.flatMap { $0 } ?? 1
                perSample = B.add(perSample, B.mul(B.mul(steps, l.units), 12))
            }
            perSample = B.add(perSample, B.mul(out, 3))   // output, its gradient, a mask or logits
        }
        let total = B.mul(B.mul(perSample, 4), batch)
        guard total <= B.bytes else {
            throw LSTMKitError(.noMemory, "a batch of \(batch) samples would need \(B.describe(total)) of activations, more than the \(B.describe(B.bytes)) available; use a smaller batch_size")
        }
    }
}
