/// `count` weights drawn uniformly from (-limit, limit); zeros, drawing nothing, when the rng
/// builds weights that are replaced right after (Rng.weightsDiscarded).
func uniformWeights(_ count: Int, limit: Float, rng: inout Rng) -> [Float] {
    if rng.weightsDiscarded { return [Float](repeating: 0, count: count) }
    return (0..<count).map { _ in rng.uniform(-limit, limit) }
}

/// Keras's glorot_uniform for a (fanIn, fanOut) matrix.
func glorotUniform(_ fanIn: Int, _ fanOut: Int, rng: inout Rng) -> [Float] {
    uniformWeights(fanIn * fanOut, limit: (6.0 / Float(fanIn + fanOut)).squareRoot(), rng: &rng)
}

/// Keras's orthogonal initializer for a (rows, cols) matrix: a Gaussian matrix of the taller
/// orientation, orthonormalised (QR with positive diagonal, here modified Gram-Schmidt run twice
/// for stability), transposed back when rows < cols.
func orthogonal(rows: Int, cols: Int, rng: inout Rng) -> [Float] {
    if rng.weightsDiscarded { return [Float](repeating: 0, count: rows * cols) }
    let tall = max(rows, cols), wide = min(rows, cols)
    // columns of a (tall, wide) matrix, one after another, in Double: one flat buffer, not an
    // array per column, and a dot product that does not wait on each addition, because this
    // runs at every build of a model and is cubic in the units
    var columns = [Double](repeating: 0, count: tall * wide)
    for i in 0..<tall { for j in 0..<wide { columns[j * tall + i] = Double(rng.normal()) } }
    columns.withUnsafeMutableBufferPointer { buf in
        let q = buf.baseAddress!
        for j in 0..<wide {
            let qj = q + j * tall
            for _ in 0..<2 {
                for k in 0..<j {
                    let qk = q + k * tall
                    let dot = dotProduct(qk, qj, tall)
                    for i in 0..<tall { qj[i] -= dot * qk[i] }
                }
            }
            var norm = 0.0
            for i in 0..<tall { norm += qj[i] * qj[i] }
            norm = norm.squareRoot()
            if norm < 1e-12 { norm = 1 }
            for i in 0..<tall { qj[i] /= norm }
        }
    }
    var out = [Float](repeating: 0, count: rows * cols)
    for r in 0..<rows {
        for c in 0..<cols {
            // rows >= cols: out = Q (tall x wide); else out = Q^T
            out[r * cols + c] = Float(rows >= cols ? columns[c * tall + r] : columns[r * tall + c])
        }
    }
    return out
}

/// Four partial sums: one running sum waits on each addition, four run side by side.
@inline(__always)
private func dotProduct(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
    var acc = SIMD4<Double>(repeating: 0)
    var i = 0
    while i + 4 <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD4<Double>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD4<Double>.self)
        i += 4
    }
    var dot = acc.sum()
    while i < n { dot += a[i] * b[i]; i += 1 }
    return dot
}
