/// A reusable heap buffer of Floats. The recurrent loops address many buffers at once by raw
/// pointer; holding them here saves a closure per array around every loop.
/// Storage starts on a cache line: OpenBLAS's one-row products stream the whole matrix, and run
/// measurably faster on a 64-byte-aligned one than on a 16-byte-aligned one (bench/matvec_split.c,
/// bench/NOTES-perf.md), so weights live in these too (Param).
final class FloatBuffer {
    private(set) var p: UnsafeMutablePointer<Float>
    private var capacity: Int
    private(set) var count = 0

    private static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
        return raw.initializeMemory(as: Float.self, repeating: 0, count: n)
    }

    init() {
        capacity = 1
        p = FloatBuffer.allocate(1)
    }
    deinit { UnsafeMutableRawPointer(p).deallocate() }

    /// Sets the size, reallocating only to grow; the contents are unspecified afterwards.
    func resize(_ n: Int) {
        if n > capacity {
            UnsafeMutableRawPointer(p).deallocate()
            p = FloatBuffer.allocate(n)
            capacity = n
        }
        count = n
    }

    func zero() { p.update(repeating: 0, count: count) }
}
