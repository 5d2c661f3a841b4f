import CPlatform
import Glibc

/// The engine's own threads. OpenBLAS runs single-threaded (Support/BLAS.swift) because the
/// recurrent GEMMs are small (a batch of 64 by 4H) and splitting each of them over threads costs
/// a synchronisation per timestep; splitting the batch instead lets each thread run whole
/// sequences on its rows and meet the others once per layer pass.
///
/// One pool serves the process. A run that finds the pool busy (another model computing on
/// another thread) runs all its parts on the calling thread instead of waiting.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(threads: WorkerPool.configuredThreads())

    /// Threads that compute at once, the caller included: LSTMKIT_NUM_THREADS, else the number of
    /// online processors, at most 64.
    let threads: Int

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let busy = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var job: ((Int) -> Void)? = nil
    private var parts = 0
    private var generation = 0
    private var pending = 0
    private var started = false
    /// Threads that can take part, the caller included: fewer than `threads` if the system
    /// refused to create some.
    private var available = 1

    static func configuredThreads() -> Int {
        if let s = getenv("LSTMKIT_NUM_THREADS"), let n = Int(String(cString: s)), n >= 1 {
            return min(n, 64)
        }
        return max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 64))
    }

    init(threads: Int) {
        self.threads = threads
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(busy, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(finished, nil)
    }

    /// Calls body(0..<parts) with the parts spread over the pool's threads (part 0 on the calling
    /// thread) and returns when all are done. Parts must not depend on one another.
    func run(parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || threads <= 1 || pthread_mutex_trylock(busy) != 0 {
            for p in 0..<parts { body(p) }
            return
        }
        defer { pthread_mutex_unlock(busy) }
        startWorkersOnce()
        let used = min(parts, available)
        if used <= 1 {
            for p in 0..<parts { body(p) }
            return
        }
        dispatch(parts: parts, used: used, body)
    }

    /// Runs body(0) and body(1) at the same time, on the calling thread and a worker, and returns
    /// true; or returns false without running anything when two threads are not free (a
    /// one-thread pool, or the pool busy with another computation). For parts that wait on each
    /// other, which run() cannot promise (it may run parts one after the other).
    func runTogether(_ body: (Int) -> Void) -> Bool {
        guard threads >= 2, pthread_mutex_trylock(busy) == 0 else { return false }
        defer { pthread_mutex_unlock(busy) }
        startWorkersOnce()
        guard available >= 2 else { return false }
        dispatch(parts: 2, used: 2, body)
        return true
    }

    /// Deals parts 0..<parts over `used` threads, the caller's included, and waits for them all.
    private func dispatch(parts: Int, used: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            pthread_mutex_lock(mutex)
            // Parts beyond the thread count are dealt round-robin: worker w takes w, w+used, ...
            job = { worker in
                var p = worker
                while p < parts { escapable(p); p += used }
            }
            self.parts = used
            pending = used - 1
            generation &+= 1
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)

            var p = 0
            while p < parts { escapable(p); p += used }

            pthread_mutex_lock(mutex)
            while pending > 0 { pthread_cond_wait(finished, mutex) }
            job = nil
            pthread_mutex_unlock(mutex)
        }
    }

    private func startWorkersOnce() {
        if started { return }
        started = true
        for index in 1..<threads {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { arg in
                let ctx = Unmanaged<WorkerContext>.fromOpaque(arg!).takeRetainedValue()
                ctx.pool.workerLoop(index: ctx.index)
                return nil
            }, context)
            guard rc == 0 else {
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                return
            }
            pthread_detach(tid)
            available = index + 1
        }
    }

    private func workerLoop(index: Int) {
        // Pool threads only ever run engine work, so they keep the compute float mode for good.
        _ = lstmkit_flush_denormals()
        var seen = 0
        pthread_mutex_lock(mutex)
        while true {
            while generation == seen { pthread_cond_wait(wake, mutex) }
            seen = generation
            guard index < parts, let job else { continue }
            pthread_mutex_unlock(mutex)
            job(index)
            pthread_mutex_lock(mutex)
            pending -= 1
            if pending == 0 { pthread_cond_signal(finished) }
        }
    }
}

private final class WorkerContext {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}
