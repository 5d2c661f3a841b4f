import CKernels

/// How a forward pass brings the input projection x W + b (the input side of the preactivations,
/// (B', G*H) per step; B' = internal rows, G = gates, H = units) to the cell. Chosen once per
/// pass, by prepareInputProjection, from what the pass is (forward-only or not), what the input
/// is (ids of an Embedding with a projection table, one vector repeated at every step) and
/// whether the cell can add a row itself.
///
/// In a forward-only float32 pass (exactRows) every row of the projection is bias + x W from
/// lk_rows_gemm, the same bits whatever rows it is projected with and the same bits as the
/// table's row for its id, and a cell that adds rows itself (the LSTM) takes its step as the
/// recurrent product (stepProducts) plus that row, as the table form does: so a row's output does
/// not depend on its batch, on the form chosen or on whether the table was built yet (the table
/// is built after the first calls; before, the first and the hundredth prediction differed in
/// their last bits), and a stream stepped one timestep at a time (CAPI/StateAPI.swift) gives
/// the bits of the whole sequence at once.
enum InputProjection: Equatable {
    /// z holds every step's projection, (T, B', G*H), written before the step loop: the only
    /// form a backward can follow.
    case full
    /// z is a ring of `steps` steps, filled a chunk at a time just before the steps read it: a
    /// forward-only pass over a plain plan, where (T, B', G*H) would go out to memory and back
    /// while the ring stays in cache. The other saved values are kept (final states and masked
    /// rows read them).
    case ring(steps: Int)
    /// The cell adds projectionRow(s, i), a row of the Embedding's projection table
    /// (ProjectionTable), itself; z holds one step's recurrent product only. Copying those rows
    /// into z and reading them back is what this saves.
    case table
    /// The cell adds projectionRow(s, i), its row's projection of the one vector the input
    /// repeats at every step (RepeatVector's output), projected once; z holds one step only.
    case repeatedRow
}

extension RecurrentLayer {
    /// Steps of z's ring (InputProjection.ring).
    static let zChunk = 16

    /// Whether forwardStep adds projectionRow(s, i) to z's recurrent product itself.
    @inline(__always)
    final var cellAddsProjection: Bool {
        switch inputProjection {
        case .table, .repeatedRow: return true
        case .full, .ring: return exactRows && addsProjectionItself
        }
    }

    /// Whether the cell's recurrent product goes to stepProducts rather than into z: z holds the
    /// projections (full or ring) and the cell adds them (cellAddsProjection, exactRows).
    @inline(__always)
    final var productsApart: Bool {
        switch inputProjection {
        case .table, .repeatedRow: return false
        case .full, .ring: return exactRows && addsProjectionItself
        }
    }

    /// Steps in z's ring, 0 when z holds every step (or one).
    final var zRingSteps: Int {
        if case .ring(let n) = inputProjection { return n }
        return 0
    }

    /// The step s rows of z: its preactivations, which the cell activates in place.
    @inline(__always)
    final func zStep(_ s: Int) -> UnsafeMutablePointer<Float> {
        switch inputProjection {
        case .table, .repeatedRow: return z.p
        case .ring(let n): return z.p + (s % n) * batch * gateCount * units
        case .full: return z.p + s * batch * gateCount * units
        }
    }

    /// Internal row i's input projection at step s when cellAddsProjection is set.
    @inline(__always)
    final func projectionRow(_ s: Int, _ i: Int) -> UnsafePointer<Float> {
        switch inputProjection {
        case .table: return tableRows! + Int(entryIds[s * batch + i]) * gateCount * units
        case .repeatedRow: return UnsafePointer(repeatedProjection.p + i * gateCount * units)
        case .full, .ring: return UnsafePointer(zStep(s) + i * gateCount * units)
        }
    }

    /// Lays x (B, T, D) out for the projection in the plan's row order and processing order:
    /// as the ids behind each (T, B') entry when a forward-only pass can look its projection up
    /// in the Embedding's table, else as xT (T, B', D), the shared row reading the padding vector.
    func layOutInput(_ x: Tensor, training: Bool) {
        let b = x.shape[0], t = x.shape[1], d = inputDim, gh = gateCount * units, bi = batch
        tableRows = nil
        if forwardOnly && !training, let e = embedding, e.ids.count == b * t, e.isBuilt {
            tableBuffer = projectionTable.rows(embedding: e.params[0], kernel: params[0], bias: params[2], gh: gh, ids: b * t)
            tableRows = tableBuffer.map { UnsafePointer($0.p) }
        }
        let perm = plan.perm
        if tableRows != nil {
            // the ids stand in for the vectors (project reads the table)
            entryIds = [Int32](repeating: 0, count: t * bi)
            let ids = embedding!.ids
            for s in 0..<t {
                let src = goBackwards ? t - 1 - s : s
                for i in 0..<b { entryIds[s * bi + i] = ids[perm[i] * t + src] }
                if let sh = sharedRow { entryIds[s * bi + sh] = ids[plan.padRow * t + (goBackwards ? t - 1 : 0)] }
            }
        } else {
            xT.resize(t * bi * d)
            x.data.withUnsafeBufferPointer { xp in
                for s in 0..<t {
                    let src = goBackwards ? t - 1 - s : s
                    for i in 0..<b { copyRow(xT.p + (s * bi + i) * d, xp.baseAddress! + (perm[i] * t + src) * d, d) }
                    if let sh = sharedRow { (xT.p + (s * bi + sh) * d).update(from: plan.padInput, count: d) }
                }
            }
        }
    }

    /// Chooses the pass's InputProjection and whether the cell adds the bias (cellAddsBias: the
    /// projection GEMM then writes z instead of reading back a copy of the bias in every row),
    /// sizes z and, for every form but the ring, projects. After layOutInput, the dropout masks
    /// and repeatedInput; `splitUnits`: the step loop splits the units over two threads.
    func prepareInputProjection(splitUnits: Bool) {
        let t = steps, bi = batch, d = inputDim, h = units, gh = gateCount * h
        let plain = forwardOnly && inMasks.count == 0 && !splitUnits
        exactRows = forwardOnly && inMasks.count == 0 && RowsExact.active
        if plain && addsProjectionItself && (tableRows != nil || repeatedInput) {
            inputProjection = tableRows != nil ? .table : .repeatedRow
        } else if plain && plan.runs == nil && !repeatedInput && t > 2 * RecurrentLayer.zChunk {
            inputProjection = .ring(steps: RecurrentLayer.zChunk)
        } else {
            inputProjection = .full
        }
        cellAddsBias = addsProjectionItself && !cellAddsProjection && tableRows == nil  // table rows hold it
        stepProducts.resize(productsApart ? bi * gh : 0)
        switch inputProjection {
        case .table:
            z.resize(bi * gh)
        case .repeatedRow:
            z.resize(bi * gh)
            repeatedProjection.resize(bi * gh)
            project(first: 0, count: bi, stride: 1, into: repeatedProjection.p)
        case .ring(let n):
            z.resize(n * bi * gh)   // projectRing fills it in the step loop
        case .full:
            z.resize(t * bi * gh)
            if inMasks.count > 0 && maskGroups == 1 {
                multiplyRows(xT.p, by: inMasks.p, into: xT.p, steps: t, batch: bi, width: d)
            }
            if repeatedInput {
                // every step reads the same row (RepeatVector): project step 0, copy it to the others
                project(first: 0, count: bi, stride: 1, into: z.p)
                for s in 1..<t { (z.p + s * bi * gh).update(from: z.p, count: bi * gh) }
            } else if inMasks.count == 0 || maskGroups == 1 {
                plan.forEachRun { first, count, stride in project(first: first, count: count, stride: stride, into: z.p + first * gh) }
            } else {
                // one input mask per gate (recurrent_dropout): no padding plan, every entry computed
                // (the gates' GEMMs write every column: with the bias left to the cell, nothing to add to)
                if !cellAddsBias {
                    params[2].withValue { bias in
                        for r in 0..<(t * bi) { (z.p + r * gh).update(from: bias.baseAddress!, count: gh) }
                    }
                }
                params[0].withValue { wp in
                    wide.resize(t * bi * d)
                    for k in 0..<gateCount {
                        multiplyRows(xT.p, by: inMasks.p + k * bi * d, into: wide.p, steps: t, batch: bi, width: d)
                        sgemm(m: t * bi, n: h, k: d, a: wide.p, lda: d, b: wp.baseAddress! + k * h, ldb: gh,
                              beta: cellAddsBias ? 0 : 1, c: z.p + k * h, ldc: gh)
                    }
                }
            }
        }
    }

    /// Fills the ring with the input projection of steps s..<s+zRingSteps.
    func projectRing(from s: Int) {
        let bi = batch
        project(first: s * bi, count: min(zRingSteps, steps - s) * bi, stride: 1, into: z.p)
    }

    /// The input projection (bias, then x W; x W alone when cellAddsBias) of `count` entries of xT
    /// from entry `first`, `stride` entries apart, into rows of dst laid out the same way.
    private func project(first: Int, count: Int, stride: Int, into dst: UnsafeMutablePointer<Float>) {
        let d = inputDim, gh = gateCount * units
        if let table = tableRows {
            for k in 0..<count {
                (dst + k * stride * gh).update(from: table + Int(entryIds[first + k * stride]) * gh, count: gh)
            }
            return
        }
        if exactRows {
            // bias + x W, each row the same bits whatever rows it is projected with (lk_rows_gemm)
            params[2].withValue { bias in
                params[0].withValue { wp in
                    lk_rows_gemm(count, gh, d, xT.p + first * d, stride * d, wp.baseAddress!, gh,
                                 cellAddsBias ? nil : bias.baseAddress!, 0, dst, stride * gh)
                }
            }
            return
        }
        if !cellAddsBias {
            params[2].withValue { bias in
                for k in 0..<count { (dst + k * stride * gh).update(from: bias.baseAddress!, count: gh) }
            }
        }
        params[0].withValue { wp in
            sgemm(m: count, n: gh, k: d, a: xT.p + first * d, lda: stride * d, b: wp.baseAddress!, ldb: gh,
                  beta: cellAddsBias ? 0 : 1, c: dst, ldc: stride * gh)
        }
    }
}

/// dst[s, i, :] = src[s, i, :] * mask[i, :] for a (steps, batch, width) buffer and a (batch, width)
/// mask; dst may be src.
func multiplyRows(_ src: UnsafePointer<Float>, by mask: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                  steps: Int, batch: Int, width: Int) {
    for s in 0..<steps {
        for i in 0..<batch {
            let a = src + (s * batch + i) * width, m = mask + i * width, o = dst + (s * batch + i) * width
            for j in 0..<width { o[j] = a[j] * m[j] }
        }
    }
}
