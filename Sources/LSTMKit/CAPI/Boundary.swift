import Glibc
import CLSTMKitABI

// Everything the @_cdecl functions share: the per-thread error message, the registry of live
// handles (so a freed or foreign pointer is refused instead of dereferenced) and conversions.

// Version.swift is written by scripts/version.py from the file VERSION, as the header's macros are.
let libraryVersion = libraryVersionParts.major * 10000 + libraryVersionParts.minor * 100 + libraryVersionParts.patch
let libraryVersionString = "\(libraryVersionParts.major).\(libraryVersionParts.minor).\(libraryVersionParts.patch)"

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

/// Live handles. A handle is not the object's address but a serial number that is never reused,
/// so a freed handle stays invalid even after its memory has gone to a new object, and a foreign
/// pointer is refused without being dereferenced. Lookups take a lock, which is cheap next to any
/// call that does real work.
enum HandleRegistry {
    private static let lock = Mutex()
    private static var live: [UInt: HandleEntry] = [:]
    private static var serial: UInt = 0
    /// High bits that mark our handles; the low 4 bits stay zero, like an aligned pointer's.
    private static let tag: UInt = 0x4C4B_0000_0000_0000

    private static func locked<T>(_ body: () -> T) -> T { lock.withLock(body) }

    static func register(_ object: AnyObject) -> OpaquePointer {
        let key: UInt = locked {
            serial += 1
            let key = tag | (serial << 4)
            live[key] = HandleEntry(object)
            return key
        }
        return OpaquePointer(bitPattern: key)!
    }

    static func entry<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type, _ what: String) throws -> (T, HandleEntry) {
        guard let handle else { throw LSTMKitError(.invalidArgument, "\(what) is NULL") }
        let entry = locked { live[UInt(bitPattern: Int(bitPattern: handle))] }
        guard let entry, let typed = entry.object as? T else {
            throw LSTMKitError(.invalidArgument, "\(what) is not a live \(String(describing: T.self).lowercased()) handle (already freed, or not from lstmkit)")
        }
        return (typed, entry)
    }

    /// Runs body with the handle's object under the handle's rules for concurrent use (see
    /// HandleEntry). Every entry point that takes a handle goes through here.
    static func with<T: AnyObject, R>(_ handle: OpaquePointer?, as type: T.Type, _ what: String,
                                      _ access: HandleEntry.Access = .read,
                                      _ body: (T) throws -> R) throws -> R {
        try with(handle, as: type, what, { _ in access }, body)
    }

    /// The same with the access chosen from the object (e.g. shared only once it is built).
    static func with<T: AnyObject, R>(_ handle: OpaquePointer?, as type: T.Type, _ what: String,
                                      _ access: (T) -> HandleEntry.Access,
                                      _ body: (T) throws -> R) throws -> R {
        let (object, entry) = try self.entry(handle, as: type, what)
        return try entry.use(access(object), what) { try body(object) }
    }

    /// Returns false when the pointer was not a live handle (double free or foreign pointer).
    /// The object lives on until a call still using it (on another thread) returns.
    /// A handle of another type (a tokenizer passed to lstmkit_model_free) is left alone.
    @discardableResult
    static func release<T: AnyObject>(_ handle: OpaquePointer?, as type: T.Type) -> Bool {
        guard let handle else { return true }
        let key = UInt(bitPattern: Int(bitPattern: handle))
        return locked { () -> Bool in
            guard let entry = live[key], entry.object is T else { return false }
            live[key] = nil
            return true
        }
    }

    /// Number of live handles (for tests).
    static var count: Int { locked { live.count } }
}

/// One live handle: its object, a reader-writer lock for ordinary calls on it, and the thread
/// (if any) that is training it. Calls that only read the object (.shared: predict, evaluate,
/// the getters, save, a stream's steps) run at the same time as each other; every other call
/// (.read, the default, and .reconfigure) has the object to itself, waiting for the calls in
/// progress to finish, and calls that want it to themselves go before new shared ones, so a
/// stream of predicts cannot starve set_weight. Training runs without the lock, so it is not
/// held for minutes; instead the other threads' calls are refused with LSTMKIT_E_WRONG_STATE
/// while it runs. The training thread itself may still call in from the progress callback (to
/// read weights, save a checkpoint, predict), but not compile or fit again.
final class HandleEntry {
    enum Access {
        case shared      // runs beside other shared calls; allowed from the progress callback
        case read        // has the object to itself; allowed from the progress callback
        case reconfigure // has it to itself likewise; refused during training, even from the callback
        case train       // fit: refused while anything else trains the handle
    }

    let object: AnyObject
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    private var trainer: pthread_t? = nil
    private var readers = 0           // shared calls running
    private var writing = false       // an exclusive call running
    private var waitingWriters = 0    // exclusive calls and fits waiting for the readers to finish

    init(_ object: AnyObject) {
        self.object = object
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        changed = .allocate(capacity: 1)
        pthread_cond_init(changed, nil)
    }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        pthread_cond_destroy(changed)
        changed.deallocate()
    }

    func use<R>(_ access: Access, _ what: String, _ body: () throws -> R) throws -> R {
        pthread_mutex_lock(mutex)
        let exclusive = access != .shared
        if exclusive { waitingWriters += 1 }
        while true {
            if let t = trainer {
                if exclusive { waitingWriters -= 1 }
                let sameThread = pthread_equal(t, pthread_self()) != 0
                pthread_mutex_unlock(mutex)
                guard sameThread && (access == .read || access == .shared) else {
                    throw LSTMKitError(.wrongState, sameThread
                        ? "\(what) is being trained by this thread's lstmkit_model_fit; compile or fit it from the progress callback is not allowed"
                        : "\(what) is being trained by another thread; calls on one handle must not overlap with its lstmkit_model_fit")
                }
                return try body()
            }
            if exclusive ? (!writing && readers == 0) : (!writing && waitingWriters == 0) { break }
            pthread_cond_wait(changed, mutex)
        }
        switch access {
        case .shared:
            readers += 1
            pthread_mutex_unlock(mutex)
            defer {
                pthread_mutex_lock(mutex)
                readers -= 1
                if readers == 0 { pthread_cond_broadcast(changed) }
                pthread_mutex_unlock(mutex)
            }
            return try body()
        case .train:
            waitingWriters -= 1
            trainer = pthread_self()
            pthread_cond_broadcast(changed)   // shared calls waiting behind it fail now
            pthread_mutex_unlock(mutex)
            defer {
                pthread_mutex_lock(mutex)
                trainer = nil
                pthread_cond_broadcast(changed)
                pthread_mutex_unlock(mutex)
            }
            return try body()
        case .read, .reconfigure:
            waitingWriters -= 1
            writing = true
            pthread_mutex_unlock(mutex)
            defer {
                pthread_mutex_lock(mutex)
                writing = false
                pthread_cond_broadcast(changed)
                pthread_mutex_unlock(mutex)
            }
            return try body()
        }
    }
}

func requirePointer<T>(_ p: T?, _ what: String) throws -> T {
    guard let p else { throw LSTMKitError(.invalidArgument, "\(what) is NULL") }
    return p
}

/// A caller's NUL-terminated string, which must be valid UTF-8: String(cString:) would quietly
/// replace bad bytes, and a path changed that way names a different file.
func cString(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
    let p = try requirePointer(p, what)
    guard let s = String(validatingCString: p) else {
        throw LSTMKitError(.invalidArgument, "\(what) is not valid UTF-8")
    }
    return s
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

/// Product of a shape's dimensions, refusing one that does not fit in memory's address range.
func elementCount(_ shape: [Int], _ what: String) throws -> Int {
    var total = 1
    for d in shape {
        let (p, overflow) = total.multipliedReportingOverflow(by: d)
        guard !overflow && p <= Int.max / 8 else {
            throw LSTMKitError(.noMemory, "\(what) of shape \(shape) has too many elements to address")
        }
        total = p
    }
    return total
}
