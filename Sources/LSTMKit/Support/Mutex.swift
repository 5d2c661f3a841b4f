import Glibc

/// A pthread mutex owned by a class instance, so its address never moves (a Swift struct holding
/// pthread_mutex_t inline may be copied, which POSIX forbids for a mutex).
final class Mutex {
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }
    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}
