/// Keras's compile metrics. A metric's history key is the identifier as given ("acc" stays
/// "acc"), and repeated names get "_1", "_2", as Keras's CompileMetrics does. Each metric is a
/// mean over rows (samples, times timesteps for sequence outputs) of a per-row value.
struct Metric {
    enum Kind: Equatable {
        /// "accuracy"/"acc": binary, sparse categorical or categorical, chosen from the shapes
        /// as Keras 3 does (last output dimension 1 -> binary; one target per row -> sparse).
        case accuracy
        case binaryAccuracy, categoricalAccuracy, sparseCategoricalAccuracy
        case topK(Int), sparseTopK(Int)
        case meanAbsoluteError, meanSquaredError
    }

    let name: String
    let kind: Kind

    private static let byName: [String: Kind] = [
        "accuracy": .accuracy, "acc": .accuracy,
        "binary_accuracy": .binaryAccuracy, "BinaryAccuracy": .binaryAccuracy,
        "categorical_accuracy": .categoricalAccuracy, "CategoricalAccuracy": .categoricalAccuracy,
        "sparse_categorical_accuracy": .sparseCategoricalAccuracy, "SparseCategoricalAccuracy": .sparseCategoricalAccuracy,
        "top_k_categorical_accuracy": .topK(5), "TopKCategoricalAccuracy": .topK(5),
        "sparse_top_k_categorical_accuracy": .sparseTopK(5), "SparseTopKCategoricalAccuracy": .sparseTopK(5),
        "mae": .meanAbsoluteError, "MAE": .meanAbsoluteError, "mean_absolute_error": .meanAbsoluteError,
        "MeanAbsoluteError": .meanAbsoluteError,
        "mse": .meanSquaredError, "MSE": .meanSquaredError, "mean_squared_error": .meanSquaredError,
        "MeanSquaredError": .meanSquaredError,
    ]

    /// Metrics from compile's list of identifiers, named as Keras names them.
    static func parse(_ identifiers: [String]) throws -> [Metric] {
        var seen: [String: Int] = [:]
        return try identifiers.map { id in
            guard let kind = byName[id] ?? (id.lowercased() == "accuracy" || id.lowercased() == "acc" ? .accuracy : nil) else {
                throw LSTMKitError(.badConfig, "unknown metric '\(id)' (\(byName.keys.filter { $0.first!.isLowercase }.sorted().joined(separator: ", ")))")
            }
            var name = id
            if let k = seen[id] {
                name = "\(id)_\(k)"
                seen[id] = k + 1
            } else {
                seen[id] = 1
            }
            return Metric(name: name, kind: kind)
        }
    }

    /// Sum over rows of the per-row value. p: (rows, width); y: (rows, width), or (rows) class ids
    /// when the loss is sparse.
    func sum(p: [Float], y: [Float], rows: Int, width: Int) -> Double {
        let sparseY = y.count == rows && width > 1
        func truth(_ r: Int) -> Int { sparseY ? Int(y[r]) : argmax(y, r * width, width) }
        switch kind {
        case .accuracy:
            if width == 1 { return binaryAccuracy(p, y, rows, width) }
            return countWhere(rows) { argmax(p, $0 * width, width) == truth($0) }
        case .binaryAccuracy:
            return binaryAccuracy(p, y, rows, width)
        case .categoricalAccuracy, .sparseCategoricalAccuracy:
            return countWhere(rows) { argmax(p, $0 * width, width) == truth($0) }
        case .topK(let k), .sparseTopK(let k):
            // in_top_k: the target's score is beaten by fewer than k others (ties count as in).
            return countWhere(rows) { r in
                let target = truth(r)
                guard target >= 0 && target < width else { return false }
                let score = p[r * width + target]
                var above = 0
                for j in 0..<width where p[r * width + j] > score { above += 1 }
                return above < k
            }
        case .meanAbsoluteError, .meanSquaredError:
            var total = 0.0
            for r in 0..<rows {
                var s = 0.0
                for j in 0..<width {
                    let e = Double(p[r * width + j]) - Double(sparseY ? y[r] : y[r * width + j])
                    s += kind == .meanAbsoluteError ? abs(e) : e * e
                }
                total += s / Double(width)
            }
            return total
        }
    }

    /// Keras's binary_accuracy: the mean over the last axis of (y_true == (p > 0.5)).
    private func binaryAccuracy(_ p: [Float], _ y: [Float], _ rows: Int, _ width: Int) -> Double {
        var c = 0
        for i in 0..<min(p.count, y.count) where y[i] == (p[i] > 0.5 ? 1 : 0) { c += 1 }
        return Double(c) / Double(width)
    }

    private func countWhere(_ rows: Int, _ test: (Int) -> Bool) -> Double {
        var c = 0
        for r in 0..<rows where test(r) { c += 1 }
        return Double(c)
    }
}
