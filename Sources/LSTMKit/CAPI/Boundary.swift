import Glibc
import CLSTMKitABI

// Everything the @_cdecl functions share: the per-thread error message, the registry of live
// handles (so a freed or foreign pointer is refused instead of dereferenced) and conversions.

let libraryVersion: Int32 = 100   // LSTMKIT_VERSION of this build: 0.1.0
let libraryVersionString = "0.1.0"

private var errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

func setLastError(_ message: String) {
    let old = pthread_getspecific(errorKey)
    pthread_setspecific(errorKey, strdup(message))
    free(old)
}

func lastErrorPointer() -> UnsafePointer<CChar> {
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return emptyCString
}
private let emptyCString: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

/// Runs one API call: returns LSTMKIT_OK, or records the message and returns the error's status.
func apiCall(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return Status.ok.rawValue
    } catch let e as LSTMKitError {
        setLastError(e.message)
        return e.status.rawValue
    } catch {
        setLastError("internal error: \(error)")
        return Status.internal.rawValue
    }
}

/// Live handles. Lookups take a lock, which is cheap next to any call that does real work.
enum HandleRegistry {
    private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let p = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(p, nil)
        return p
    }()
    private static var live: [UnsafeMutableRawPointer: AnyObject] = [:]

    private static func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }

    static func register(_ object: AnyObject) -> OpaquePointer {
        let p = Unmanaged.passRetained(object).toOpaque()
        locked { live[p] = object }
        return OpaquePointer(p)
    }

    static func lookup<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type, _ what: String) throws -> T {
        guard let handle else { throw LSTMKitError(.invalidArgument, "\(what) is NULL") }
        let object = locked { live[UnsafeMutableRawPointer(handle)] }
        guard let typed = object as? T else {
            throw LSTMKitError(.invalidArgument, "\(what) is not a live \(String(describing: T.self).lowercased()) handle (already freed, or not from lstmkit)")
        }
        return typed
    }

    /// Returns false when the pointer was not a live handle (double free or foreign pointer).
    @discardableResult
    static func release(_ handle: OpaquePointer?) -> Bool {
        guard let handle else { return true }
        let p = UnsafeMutableRawPointer(handle)
        let found = locked { live.removeValue(forKey: p) != nil }
        if found { Unmanaged<AnyObject>.fromOpaque(p).release() }
        return found
    }
}

func requirePointer<T>(_ p: T?, _ what: String) throws -> T {
    guard let p else { throw LSTMKitError(.invalidArgument, "\(what) is NULL") }
    return p
}

func cString(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
    let p = try requirePointer(p, what)
    return String(cString: p)
}

func parseJSONArgument(_ p: UnsafePointer<CChar>?, _ what: String, allowNull: Bool = false) throws -> JSON? {
    guard let p else {
        if allowNull { return nil }
        throw LSTMKitError(.invalidArgument, "\(what) is NULL")
    }
    do {
        return try JSON.parse(bytes: UnsafeRawBufferPointer(start: p, count: strlen(p)))
    } catch let e as LSTMKitError {
        throw LSTMKitError(.badConfig, "\(what): \(e.message)")
    }
}

/// Validates a caller's lstmkit_array and wraps it.
func dataView(_ a: UnsafePointer<lstmkit_array>?, _ what: String) throws -> DataView {
    let a = try requirePointer(a, what).pointee
    let dtype: DataView.DType
    switch a.dtype {
    case Int32(LSTMKIT_FLOAT32): dtype = .float32
    case Int32(LSTMKIT_INT32): dtype = .int32
    default: throw LSTMKitError(.invalidArgument, "\(what).dtype is \(a.dtype); use LSTMKIT_FLOAT32 (1) or LSTMKIT_INT32 (2)")
    }
    guard a.ndim >= 1 && a.ndim <= 8 else { throw LSTMKitError(.invalidArgument, "\(what).ndim is \(a.ndim); it must be 1 to 8") }
    let shapePtr = try requirePointer(a.shape, "\(what).shape")
    var shape: [Int] = []
    var total = 1
    for i in 0..<Int(a.ndim) {
        let d = shapePtr[i]
        guard d >= 1 else { throw LSTMKitError(.invalidArgument, "\(what).shape[\(i)] is \(d); dimensions must be at least 1") }
        let (prod, overflow) = total.multipliedReportingOverflow(by: Int(d))
        guard !overflow && prod <= 1 << 40 else { throw LSTMKitError(.invalidArgument, "\(what) has more than 2^40 elements") }
        total = prod
        shape.append(Int(d))
    }
    let data = try requirePointer(a.data, "\(what).data")
    return DataView(dtype: dtype, shape: shape, base: data)
}

/// Copies text (with its NUL) into a caller buffer, following the header's size protocol.
func writeText(_ text: String, _ buf: UnsafeMutablePointer<CChar>?, _ capacity: Int,
               _ needed: UnsafeMutablePointer<Int>?) throws {
    var bytes = Array(text.utf8CString)
    needed?.pointee = bytes.count
    if buf == nil && capacity == 0 { return }
    let buf = try requirePointer(buf, "buffer")
    guard capacity >= bytes.count else {
        throw LSTMKitError(.bufferTooSmall, "the buffer holds \(capacity) bytes, \(bytes.count) are needed")
    }
    bytes.withUnsafeMutableBufferPointer { buf.update(from: $0.baseAddress!, count: $0.count) }
}

/// Checks an output buffer of `count` elements under the same protocol; returns nil for a query.
func outputBuffer<T>(_ buf: UnsafeMutablePointer<T>?, capacity: Int, count: Int,
                     _ countOut: UnsafeMutablePointer<Int>?) throws -> UnsafeMutablePointer<T>? {
    countOut?.pointee = count
    if buf == nil && capacity == 0 { return nil }
    let buf = try requirePointer(buf, "output buffer")
    guard capacity >= count else {
        throw LSTMKitError(.bufferTooSmall, "the output buffer holds \(capacity) values, \(count) are needed")
    }
    return buf
}

func writeShape(_ shape: [Int], _ out: UnsafeMutablePointer<Int64>?, _ capacity: Int32,
                _ ndim: UnsafeMutablePointer<Int32>?) throws {
    ndim?.pointee = Int32(shape.count)
    guard let out else { return }
    guard Int(capacity) >= shape.count else {
        throw LSTMKitError(.bufferTooSmall, "the shape buffer holds \(capacity) entries, \(shape.count) are needed")
    }
    for (i, d) in shape.enumerated() { out[i] = Int64(d) }
}
