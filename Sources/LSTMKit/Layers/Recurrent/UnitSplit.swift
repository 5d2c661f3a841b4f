import CKernels
import Glibc

/// Batch-1 inference on both cores. A one-row step is one matrix-vector product with the whole
/// recurrent kernel, (H, 4H) for an LSTM, and cannot be split by rows, so its units are split
/// instead: each of two threads computes the gates and states of half of the units, from its own
/// packed copy of their kernel columns (which stays in its core's cache), and the threads meet
/// once per step, since the next step needs the whole state. Below about 160 units the meeting
/// costs what the halved product saves (bench/NOTES-perf.md, section 6, has the figures). The results are one thread's, bit for
/// bit (each unit's sums run in the same order), so whether the pool was free to split a call
/// never shows in its output.
final class UnitSplit {
    static let minUnits = 160

    private let packed = [FloatBuffer(), FloatBuffer()]
    private let scratch = [FloatBuffer(), FloatBuffer()]
    private let stateCopies = [FloatBuffer(), FloatBuffer()]
    private var packedFrom: (version: UInt64, units: Int, rounded: Bool)? = nil
    private let barrier = lk_spin_barrier_create()
    /// Passes stepped this way so far (for tests).
    var passes = 0

    deinit { if let barrier { lk_spin_barrier_destroy(barrier) } }

    var usable: Bool { barrier != nil }

    /// The units part p (0 or 1) computes; the first part ends on a multiple of 16, so the halves
    /// write whole cache lines of the states.
    static func units(_ p: Int, of h: Int) -> Range<Int> {
        let mid = min(h, (h / 2 + 15) / 16 * 16)
        return p == 0 ? 0..<mid : mid..<h
    }

    /// Packs both parts' columns of the recurrent kernel (H, G*H), unless they hold this version:
    /// part p's is (H, G*n), gate by gate, n = its units. `rounded`: the kernel's values rounded
    /// to bfloat16 (mixed_bfloat16's BFloat16Copy), packed instead of the kernel's own. Call
    /// before the threads start.
    func prepare(_ kernel: Param, rounded: UnsafePointer<Float>?, units h: Int, gates g: Int) {
        if let from = packedFrom, from.version == kernel.version, from.units == h, from.rounded == (rounded != nil) { return }
        kernel.withValue { u in
            let src = rounded ?? u.baseAddress!
            for p in 0..<2 {
                let r = UnitSplit.units(p, of: h), n = r.count
                packed[p].resize(h * g * n)
                scratch[p].resize(g * n)
                stateCopies[p].resize(h)
                for k in 0..<h {
                    for gate in 0..<g {
                        (packed[p].p + (k * g + gate) * n).update(from: src + k * g * h + gate * h + r.lowerBound, count: n)
                    }
                }
            }
        }
        packedFrom = (kernel.version, h, rounded != nil)
    }

    func kernel(_ p: Int) -> UnsafePointer<Float> { UnsafePointer(packed[p].p) }
    /// Part p's G*n floats for its gates of the step.
    func gates(_ p: Int) -> UnsafeMutablePointer<Float> { scratch[p].p }
    /// Part p's H floats for the previous state rounded to bfloat16, under mixed_bfloat16.
    func stateCopy(_ p: Int) -> UnsafeMutablePointer<Float> { stateCopies[p].p }

    /// Both threads wait here after every step.
    func meet() { lk_spin_barrier_wait(barrier, 2) }
}
