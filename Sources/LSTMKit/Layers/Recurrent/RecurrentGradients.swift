import CKernels

/// The buffers backward keeps from batch to batch (T = steps, B' = internal rows, D = input,
/// H = units, G = gates).
struct BackwardBuffers {
    /// (T, B', G*H) dL/d(input-side preactivation), unless the cell writes it over z (dZ).
    let dZStore = FloatBuffer()
    /// (T, B', G*H) dL/d(recurrent-side), when the cell says it differs (recurrentGradIsSeparate).
    let dRSeparate = FloatBuffer()
    /// (G*H, H) the recurrent kernel transposed, row by row.
    let kernelT = FloatBuffer()
    let dhBuf = FloatBuffer()       // (B', H) dL/dh_s of the step being processed
    let dhPrevBuf = FloatBuffer()   // (B', H) what flows into step s-1
    let dxT = FloatBuffer()         // (T, B', D) input gradient, time-major
    let dZSum = FloatBuffer()       // (B', G*H) dZ summed over the steps, for a repeated input
    /// (G*H) the bias gradient, summed step by step while each step's dZ is in cache rather than
    /// reading the whole (T, B', G*H) from memory again after the loop.
    let dBias = FloatBuffer()
    /// Chunks of computed entries made contiguous for the weight GEMMs (gatheredWeightGradients).
    let gatherX = FloatBuffer(), gatherH = FloatBuffer(), gatherZ = FloatBuffer(), gatherR = FloatBuffer()
}

/// Backward through time: the step loop (the cell's backwardStep per step, dh U^T, masked rows
/// and padding rows), then the weight gradients as GEMMs over the computed entries and dx = dZ W^T.
extension RecurrentLayer {
    func backward(_ dy: Tensor) -> Tensor {
        precondition(zRingSteps == 0 && stateTimes == steps + 1, "\(name): backward after a forward-only pass")
        let bi = batch, b = plan.perm.count, t = steps, d = inputDim, h = units, gh = gateCount * h
        dZ.resize(t * bi * gh)
        if recurrentGradIsSeparate { grads.dRSeparate.resize(t * bi * gh) }
        if plan.runs == nil && !gateGradsOverwriteZ {
            // masked rows inside the computed steps leave their rows alone, and those must be zero.
            // A skipping plan writes every row it reads: forEachRun reads only computed entries,
            // and with a shared row every row of every step is written (stepped back, zeroed as
            // dead, or gathered), which the dx GEMM over the whole buffer relies on.
            dZ.zero()
            if recurrentGradIsSeparate { grads.dRSeparate.zero() }
        }
        grads.dhBuf.resize(bi * h)
        grads.dhPrevBuf.resize(bi * h)
        let dhs = grads.dhBuf.p        // dL/dh_s for the step being processed
        let dprev = grads.dhPrevBuf.p  // what flows into step s-1
        dprev.update(repeating: 0, count: bi * h)
        if !returnSequences {
            dy.data.withUnsafeBufferPointer { dyp in
                for i in 0..<b { (dprev + i * h).update(from: dyp.baseAddress! + plan.perm[i] * h, count: h) }
            }
        }
        // U^T row by row, for dh U^T (below) and the cells' own use (LSTM's padding map)
        grads.kernelT.resize(gh * h)
        params[1].withValue { up in
            for r in 0..<h { for c in 0..<gh { grads.kernelT.p[c * h + r] = up[r * gh + c] } }
        }
        prepareBackward()
        var liveEnd = b   // rows at and above it are in their padding with a zero gradient
        deadPaddingSteps = 0
        for (k, g) in finalStateGrads.enumerated() {
            guard let g, g.count == b * h else { continue }
            g.data.withUnsafeBufferPointer { gp in
                for i in 0..<b {
                    let src = gp.baseAddress! + plan.perm[i] * h
                    let dst = k == 0 ? dprev + i * h : cellStateGrad(k, row: i)
                    for j in 0..<h { dst[j] += src[j] }
                }
            }
        }

        // With the cell's shared padding form, the padding rows' input gradients are computed in
        // the step loop and the dx GEMM below covers only the computed entries.
        let reduced = sharedRow != nil && hasSharedPaddingBackward
        grads.dxT.resize(t * bi * d)
        grads.dBias.resize(gh)
        grads.dBias.zero()
        params[1].withValue { up in
        dy.data.withUnsafeBufferPointer { dyp in
            let U = up.baseAddress!
            recurrentKernel16 = kernel16.refresh(params[1], rows: h, cols: gh)
            // dh U^T reads U^T stored row by row, which oneDNN multiplies faster than U read
            // transposed (bench/NOTES-perf.md section 8); the bfloat16 copy keeps U's layout
            recurrentKernelT = recurrentKernel16 == nil ? transposedRecurrentKernel : nil
            defer { recurrentKernel16 = nil; recurrentKernelT = nil }
            for s in stride(from: t - 1, through: 0, by: -1) {
                dhs.update(from: dprev, count: bi * h)
                if returnSequences {
                    // dy is batch-major in processing order
                    for i in 0..<b where !(zeroOutputForMask && isMasked(s, i)) {
                        let src = dyp.baseAddress! + (plan.perm[i] * t + s) * h, dst = dhs + i * h
                        for j in 0..<h { dst[j] += src[j] }
                    }
                }
                dprev.update(repeating: 0, count: bi * h)
                // With a shared row every row steps back, those in their padding on its values. A
                // padding row whose gradient has underflowed to exactly zero (denormals are flushed)
                // stays zero for the rest of its padding, since without return_sequences nothing
                // more is added to it: skipping it from there on is exact (a sizeable share
                // of the IMDB recipe's padding entries early in training).
                if sharedRow != nil && !returnSequences {
                    while liveEnd > plan.active[s] && gradientIsZero(liveEnd - 1, dh: dhs) { liveEnd -= 1 }
                }
                if sharedRow != nil { deadPaddingSteps += b - liveEnd }
                let padding = plan.active[s]..<max(plan.active[s], liveEnd)
                if reduced, let sh = sharedRow {
                    // the cell's own form for the padding rows, which also writes their dx
                    if padding.isEmpty {
                        (dZ.p + (s * bi + sh) * gh).update(repeating: 0, count: gh)
                    } else {
                        backwardSharedPadding(s, rows: padding, shared: sh, dh: dhs, dhPrev: dprev,
                                              dx: grads.dxT.p + s * bi * d)
                    }
                }
                let rows = sharedRow == nil || reduced ? 0..<plan.active[s] : 0..<liveEnd
                if !rows.isEmpty {
                    backwardStep(s, rows: rows, dh: dhs, dhPrev: dprev, U)
                    if gateGradsOverwriteZ, let m = stepMask {
                        for i in rows where m[s * bi + i] == 0 { (dZ.p + (s * bi + i) * gh).update(repeating: 0, count: gh) }
                    }
                    if !stateIsZero(before: s) {   // else dprev is the gradient of a zero state nobody reads
                        addRecurrentGrad(dR.p + s * bi * gh, rows: rows, cols: 0..<genericRecurrentColumns, into: dprev, U)
                    }
                }
                if reduced {
                    // rows past liveEnd are dead padding: no input gradient
                    (grads.dxT.p + (s * bi + padding.upperBound) * d).update(repeating: 0, count: (b - padding.upperBound) * d)
                } else if let sh = sharedRow {
                    gatherPaddingGradients(s, live: plan.active[s]..<liveEnd, into: sh)
                }
                if let m = stepMask {
                    // masked rows carried h unchanged, so their gradient carries on unchanged too
                    for i in 0..<bi where m[s * bi + i] == 0 {
                        for j in 0..<h { dprev[i * h + j] += dhs[i * h + j] }
                    }
                }
                if !repeatedInput {
                    // the step's computed entries, as forEachRun has them: rows 0..<active[s] and the
                    // shared row within its steps; their dZ is final now
                    lk_add_row_sums(grads.dBias.p, dZ.p + s * bi * gh, plan.active[s], gh)
                    if let sh = sharedRow, s < plan.sharedSteps { lk_add_row_sums(grads.dBias.p, dZ.p + (s * bi + sh) * gh, 1, gh) }
                }
            }
        }}
        if startState != nil {
            // what flows out of step 0 is the initial states' gradient (no plan: row i is x's row i)
            initialStateGrads = (0..<stateCount).map { k in
                Tensor(shape: [b, h], data: Array(UnsafeBufferPointer(start: k == 0 ? dprev : cellStateGrad(k, row: 0), count: b * h)))
            }
        } else {
            initialStateGrads = []
        }

        // Weight gradients as GEMMs over all (T*B) rows.
        if repeatedInput {
            // x is the same at every step, so the kernel's gradient is x0^T (sum over steps of dZ)
            grads.dZSum.resize(bi * gh)
            grads.dZSum.p.update(from: dZ.p, count: bi * gh)
            for s in 1..<t {
                let src = dZ.p + s * bi * gh
                for j in 0..<(bi * gh) { grads.dZSum.p[j] += src[j] }
            }
            params[0].grad.withUnsafeMutableBufferPointer { gw in
                sgemm(transA: true, m: d, n: gh, k: bi, a: xT.p, lda: d, b: grads.dZSum.p, ldb: gh, beta: 1, c: gw.baseAddress!, ldc: gh)
            }
            recurrentKernelGradient()
        } else if plan.runs != nil && steps >= plan.perm.count && inMasks.count == 0 && recMasks.count == 0 {
            gatheredWeightGradients()
        } else {
            params[0].grad.withUnsafeMutableBufferPointer { gw in
                if inMasks.count == 0 || maskGroups == 1 {
                    plan.forEachRun { first, count, stride in
                        sgemm(transA: true, m: d, n: gh, k: count, a: xT.p + first * d, lda: stride * d, b: dZ.p + first * gh,
                              ldb: stride * gh, beta: 1, c: gw.baseAddress!, ldc: gh)
                    }
                } else {
                    wide.resize(t * bi * max(d, h))
                    for k in 0..<gateCount {
                        multiplyRows(xT.p, by: inMasks.p + k * bi * d, into: wide.p, steps: t, batch: bi, width: d)
                        sgemm(transA: true, m: d, n: h, k: t * bi, a: wide.p, lda: d, b: dZ.p + k * h, ldb: gh,
                              beta: 1, c: gw.baseAddress! + k * h, ldc: gh)
                    }
                }
            }
            recurrentKernelGradient()
        }
        params[2].grad.withUnsafeMutableBufferPointer { gb in
            if repeatedInput {
                for i in 0..<bi {
                    let row = grads.dZSum.p + i * gh
                    for j in 0..<gh { gb[j] += row[j] }
                }
                return
            }
            for j in 0..<gh { gb[j] += grads.dBias.p[j] }
        }
        finishBackward()

        // dx = dZ W^T (times the input masks), back to batch-major and timestep order.
        params[0].withValue { wp in
            let W = wp.baseAddress!
            if inMasks.count == 0 || maskGroups == 1 {
                if sharedRow != nil && !reduced {
                    // every real row has its own gate gradients at every step (the shared row's
                    // input gradient, computed along, is not returned)
                    sgemm(transB: true, m: t * bi, n: d, k: gh, a: dZ.p, lda: gh, b: W, ldb: gh, beta: 0, c: grads.dxT.p, ldc: d)
                } else {
                    // Steps not computed have no input gradient, except under the cell's shared
                    // padding form, which wrote the padding entries in the step loop.
                    if plan.runs != nil && !reduced { grads.dxT.zero() }
                    plan.forEachRun { first, count, stride in
                        sgemm(transB: true, m: count, n: d, k: gh, a: dZ.p + first * gh, lda: stride * gh, b: W, ldb: gh,
                              beta: 0, c: grads.dxT.p + first * d, ldc: stride * d)
                    }
                }
                if inMasks.count > 0 { multiplyRows(grads.dxT.p, by: inMasks.p, into: grads.dxT.p, steps: t, batch: bi, width: d) }
            } else {
                grads.dxT.zero()
                wide.resize(t * bi * max(d, h))
                for k in 0..<gateCount {
                    sgemm(transB: true, m: t * bi, n: d, k: h, a: dZ.p + k * h, lda: gh, b: W + k * h, ldb: gh,
                          beta: 0, c: wide.p, ldc: d)
                    let m = inMasks.p + k * bi * d
                    for r in 0..<(t * bi) {
                        let mr = m + (r % bi) * d, src = wide.p + r * d, dst = grads.dxT.p + r * d
                        for j in 0..<d { dst[j] += src[j] * mr[j] }
                    }
                }
            }
        }
        let dx = Tensor(shape: [b, t, d], data: [Float](unsafeUninitializedCapacity: b * t * d) { buf, n in
            for s in 0..<t {
                let dst = goBackwards ? t - 1 - s : s
                for i in 0..<b { copyRow(buf.baseAddress! + (plan.perm[i] * t + dst) * d, grads.dxT.p + (s * bi + i) * d, d) }
            }
            n = b * t * d
        })
        return dx
    }

    /// dhPrev[rows] += dR[rows, cols] U[:, cols]^T, each gate's part times its recurrent mask; dRs and
    /// dhPrev point at row 0 of the step.
    func addRecurrentGrad(_ dRs: UnsafePointer<Float>, rows: Range<Int>, cols: Range<Int>,
                                into dhPrev: UnsafeMutablePointer<Float>, _ U: UnsafePointer<Float>) {
        let b = rows.count, h = units, gh = gateCount * h
        let dRs = dRs + rows.lowerBound * gh, dhPrev = dhPrev + rows.lowerBound * h
        if cols.isEmpty { return }
        let u16 = recurrentKernel16, uT = recurrentKernelT
        // dst = beta dst + dRs[:, c0..<c0+n] U[:, c0..<c0+n]^T, from the row-major copy of U^T where
        // backward made one (see backward), else reading U transposed (the bfloat16 copy's layout)
        func product(_ c0: Int, _ n: Int, beta: Float, into dst: UnsafeMutablePointer<Float>) {
            if let uT {
                sgemm(m: b, n: h, k: n, a: dRs + c0, lda: gh, b: uT + c0 * h, ldb: h, beta: beta, c: dst, ldc: h)
            } else {
                sgemm(transB: true, m: b, n: h, k: n, a: dRs + c0, lda: gh, b: U + c0, b16: u16?.advanced(by: c0), ldb: gh,
                      beta: beta, c: dst, ldc: h)
            }
        }
        guard recMasks.count > 0 else {
            product(cols.lowerBound, cols.count, beta: 1, into: dhPrev)
            return
        }
        var c = cols.lowerBound
        while c < cols.upperBound {
            let end = maskGroups == 1 ? cols.upperBound : min(cols.upperBound, (c / h + 1) * h)
            product(c, end - c, beta: 0, into: hm.p)
            let m = recurrentMask(column: c)! + rows.lowerBound * h
            for i in 0..<(b * h) { dhPrev[i] += hm.p[i] * m[i] }
            c = end
        }
    }

    /// The shared row's gate gradients at step s are the sum of those of the rows still in their
    /// padding there (zero past the longest padding), so the weight GEMMs over its run see them all.
    /// `live` are the padding rows stepped back; the dead ones above it get zero gradients.
    private func gatherPaddingGradients(_ s: Int, live: Range<Int>, into sh: Int) {
        let bi = batch, gh = gateCount * units
        func gather(_ buf: FloatBuffer) {
            (buf.p + (s * bi + live.upperBound) * gh).update(repeating: 0, count: (sh - live.upperBound) * gh)
            let dst = buf.p + (s * bi + sh) * gh
            dst.update(repeating: 0, count: gh)
            for i in live {
                let src = buf.p + (s * bi + i) * gh
                for j in 0..<gh { dst[j] += src[j] }
            }
        }
        // called every step: no array of the buffers, which would be allocated each time
        gather(dZ)
        if recurrentGradIsSeparate { gather(grads.dRSeparate) }
    }

    /// True when row i's gradient arriving at the current step, dh and the cell's carried states'
    /// (LSTM's dc), is all zeros.
    private func gradientIsZero(_ i: Int, dh: UnsafePointer<Float>) -> Bool {
        func zero(_ row: UnsafePointer<Float>) -> Bool {
            for j in 0..<units where row[j] != 0 { return false }
            return true
        }
        return zero(dh + i * units) && (1..<stateCount).allSatisfy { zero(cellStateGrad($0, row: i)) }
    }

    /// The recurrent kernel's gradient, hs^T dR over the computed entries, each gate's part times
    /// its recurrent dropout mask.
    private func recurrentKernelGradient() {
        let bi = batch, t = steps, d = inputDim, h = units, gh = gateCount * h
        params[1].grad.withUnsafeMutableBufferPointer { gu in
            let cols = genericRecurrentColumns
            // A plain plan's step 0 read the zero state when no initial state was given: its rows add nothing.
            let s0 = plan.runs == nil && stateIsZero(before: 0) ? 1 : 0
            if recMasks.count == 0 {
                if plan.runs == nil {
                    if t > s0 {
                        sgemm(transA: true, m: h, n: cols, k: (t - s0) * bi, a: hs.p + s0 * bi * h, lda: h,
                              b: dR.p + s0 * bi * gh, ldb: gh, beta: 1, c: gu.baseAddress!, ldc: gh)
                    }
                    return
                }
                plan.forEachRun { first, count, stride in
                    sgemm(transA: true, m: h, n: cols, k: count, a: hs.p + first * h, lda: stride * h, b: dR.p + first * gh,
                          ldb: stride * gh, beta: 1, c: gu.baseAddress!, ldc: gh)
                }
            } else if t > s0 {
                wide.resize(t * bi * max(d, h))
                var c = 0
                while c < cols {
                    let end = maskGroups == 1 ? cols : min(cols, (c / h + 1) * h)
                    multiplyRows(hs.p + s0 * bi * h, by: recurrentMask(column: c)!, into: wide.p, steps: t - s0, batch: bi, width: h)
                    sgemm(transA: true, m: h, n: end - c, k: (t - s0) * bi, a: wide.p, lda: h, b: dR.p + s0 * bi * gh + c,
                          ldb: gh, beta: 1, c: gu.baseAddress! + c, ldc: gh)
                    c = end
                }
            }
        }
    }

    /// The kernel and recurrent-kernel gradients of a skipping plan with one run per row (more
    /// steps than rows, as IMDB's). The runs' entries lie B' rows apart, so a GEMM per run is
    /// strided and its K only the run's length; the computed entries are copied, chunk by chunk,
    /// into contiguous buffers that stay in cache, and each chunk takes one GEMM (faster on the
    /// IMDB recipe, bench/NOTES-perf.md).
    private func gatheredWeightGradients() {
        let d = inputDim, h = units, gh = gateCount * h, cols = genericRecurrentColumns
        let chunk = 512
        grads.gatherX.resize(chunk * d); grads.gatherH.resize(chunk * h); grads.gatherZ.resize(chunk * gh)
        if recurrentGradIsSeparate { grads.gatherR.resize(chunk * gh) }
        let separate = recurrentGradIsSeparate
        params[0].grad.withUnsafeMutableBufferPointer { gw in
        params[1].grad.withUnsafeMutableBufferPointer { gu in
            var n = 0
            func flush() {
                guard n > 0 else { return }
                sgemm(transA: true, m: d, n: gh, k: n, a: grads.gatherX.p, lda: d, b: grads.gatherZ.p, ldb: gh, beta: 1,
                      c: gw.baseAddress!, ldc: gh)
                sgemm(transA: true, m: h, n: cols, k: n, a: grads.gatherH.p, lda: h, b: (separate ? grads.gatherR : grads.gatherZ).p,
                      ldb: gh, beta: 1, c: gu.baseAddress!, ldc: gh)
                n = 0
            }
            plan.forEachRun { first, count, stride in
                for k in 0..<count {
                    let e = first + k * stride
                    (grads.gatherX.p + n * d).update(from: xT.p + e * d, count: d)
                    (grads.gatherH.p + n * h).update(from: hs.p + e * h, count: h)
                    (grads.gatherZ.p + n * gh).update(from: dZ.p + e * gh, count: gh)
                    if separate { (grads.gatherR.p + n * gh).update(from: grads.dRSeparate.p + e * gh, count: gh) }
                    n += 1
                    if n == chunk { flush() }
                }
            }
            flush()
        }}
    }
}
