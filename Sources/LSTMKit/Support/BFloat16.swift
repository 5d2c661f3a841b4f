import Glibc
import CKernels

/// How a model computes, Keras's dtype policy names. mixed_bfloat16 keeps weights, optimizer
/// state, activations and every elementwise step in float32, as Keras's policy of that name keeps
/// its variables, and rounds only the operands of the matrix products to bfloat16, accumulating in
/// float32 (Keras also stores the layers' outputs in bfloat16; lstmkit does not, which costs
/// nothing here and keeps the cells' state exact to float32).
enum DTypePolicy: String, CaseIterable {
    case float32
    case mixedBFloat16 = "mixed_bfloat16"
}

/// The bfloat16 products (Sources/CKernels/bf16_gemm.c): oneDNN, opened at first use.
enum BFloat16Products {
    /// Throws .unsupported, saying why, when the policy cannot run on this machine.
    static func require(_ policy: DTypePolicy) throws {
        guard policy == .mixedBFloat16 else { return }
        if lk_bf16_open() != 0 {
            throw LSTMKitError(.unsupported, "dtype_policy 'mixed_bfloat16': \(String(cString: lk_bf16_error()))")
        }
    }

    /// Runs body with the calling thread's products in the policy's precision (sgemm reads it);
    /// a product that fails meanwhile is recorded in failures, the record of the call the body
    /// belongs to, so concurrent calls on one model each report their own.
    static func with<T>(_ policy: DTypePolicy, failures: BFloat16Failures, _ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(failuresKey)
        lk_bf16_set_thread_enabled(policy == .mixedBFloat16 ? 1 : 0)
        pthread_setspecific(failuresKey, Unmanaged.passUnretained(failures).toOpaque())
        defer {
            lk_bf16_set_thread_enabled(0)
            pthread_setspecific(failuresKey, previous)
        }
        return try body()
    }

    private static let failuresKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// A product failed in oneDNN, or its rounded operands could not be allocated (sgemm then
    /// computed it in float32): noted in the record of the call this thread works for, which
    /// the computing entry point throws after the batch. reason: what failed, when oneDNN's last
    /// error does not say it.
    static func recordFailure(_ reason: String? = nil) {
        let message = reason ?? String(cString: lk_bf16_error())
        // bfloat16 products only run inside `with`, which always installs a record
        guard let record = pthread_getspecific(failuresKey) else { return }
        Unmanaged<BFloat16Failures>.fromOpaque(record).takeUnretainedValue().note(message)
    }
}

/// The bfloat16 product failures of one call (a batch of fit or evaluate, a predict batch, a
/// stream step), from whichever threads computed its parts; the first is reported.
final class BFloat16Failures {
    private let lock = Mutex()
    private var first: String? = nil

    fileprivate func note(_ message: String) { lock.withLock { if first == nil { first = message } } }

    func throwIfAny() throws {
        if let failure = lock.withLock({ first }) {
            throw LSTMKitError(.internal, "a bfloat16 product failed: \(failure)")
        }
    }
}

/// A matrix as mixed_bfloat16 products read it: its bfloat16 bits (for oneDNN) and the same
/// values as float32 (for the small products OpenBLAS does), both laid out as the original.
struct BFloat16Operand {
    let bits: UnsafePointer<UInt16>
    let values: UnsafePointer<Float>

    /// The operand from element k on (a column block of the same rows).
    func advanced(by k: Int) -> BFloat16Operand { BFloat16Operand(bits: bits + k, values: values + k) }
}

/// The bfloat16 form of a weight matrix for the products that read it at every step, converted
/// again only when the weight has changed (its Param's version): once per training step, once
/// for all the predictions between two.
final class BFloat16Copy {
    private var bits: UnsafeMutablePointer<UInt16>? = nil
    private var capacity = 0
    // on a cache line (FloatBuffer): a batch-1 step's product reads these values
    private let values = FloatBuffer()
    private var convertedVersion: UInt64? = nil

    deinit { bits?.deallocate() }

    /// The weight (rows, cols) rounded; nil unless this thread computes in bfloat16.
    func refresh(_ weight: Param, rows: Int, cols: Int) -> BFloat16Operand? {
        guard lk_bf16_thread_enabled() != 0 else { return nil }
        let n = rows * cols
        if convertedVersion != weight.version || values.count != n {
            if n > capacity {
                bits?.deallocate()
                bits = .allocate(capacity: n)
                capacity = n
            }
            values.resize(n)
            weight.withValue { src in
                lk_bf16_convert(src.baseAddress!, cols, bits!, rows, cols)
                lk_bf16_round(src.baseAddress!, values.p, n)
            }
            convertedVersion = weight.version
        }
        return BFloat16Operand(bits: bits!, values: values.p)
    }
}
