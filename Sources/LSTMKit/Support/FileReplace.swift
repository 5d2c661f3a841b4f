import Glibc

/// How a model file reaches the disk and comes back: an atomic replace that never leaves a
/// half-written file under the real name, and a read that refuses anything but a regular file.
///
/// The temp file of a save is "<target>.tmp.<pid>.<n>", n counting this process's saves, so
/// saves on several threads never share one; each holds an flock on its temp file until the
/// rename. A save that is killed leaves its temp file behind; a later save to the same target
/// removes such orphans (also the "<target>.tmp.<pid>" of older versions) when their process is
/// gone and nobody holds their lock, so a concurrent save in another process keeps its own.
enum FileReplace {
    private static let counterLock = Mutex()
    private static var counter = 0
    private static let maxSymlinks = 40   // Linux's own limit for following a path

    /// Writes bytes to path atomically (temp file, fsync, rename, fsync of the directory). A
    /// symlink is followed: its target is replaced, not the link. An existing file keeps its
    /// permission bits (and its owner and group where this process may set them); a new one gets
    /// 0666 minus the umask, as open() would. On failure an existing file stays as it was.
    static func replace(path: String, with bytes: [UInt8]) throws {
        try refuseNUL(path)
        func fail(_ err: Int32, _ detail: String = "") -> LSTMKitError {
            LSTMKitError(.io, "cannot write \(path): \(detail)\(errorText(err))")
        }
        let target = try resolveSymlinks(path, fail)
        var existing = stat()
        let exists = lstat(target, &existing) == 0
        if !exists && errno != ENOENT { throw fail(errno) }
        if exists && existing.st_mode & S_IFMT != S_IFREG {
            throw LSTMKitError(.io, "cannot write \(path): \(target == path ? "it" : target) is not a regular file")
        }

        let (tmp, fd) = try createTemp(for: target, mode: exists ? 0o600 : 0o666, fail)
        // The lock lives as long as either descriptor of this open file; the write descriptor is
        // closed before the rename (close reports deferred write errors), this one after it.
        let lockFD = dup(fd)
        var err: Int32 = lockFD < 0 ? errno : 0
        if err == 0 && exists {
            _ = fchown(fd, existing.st_uid, existing.st_gid)   // only root or a member of the group may
            if fchmod(fd, existing.st_mode & 0o7777) != 0 { err = errno }
        }
        if err == 0 { err = writeAll(fd, bytes) }
        if err == 0 && fsync(fd) != 0 { err = errno }
        if close(fd) != 0 && err == 0 { err = errno }
        if err == 0 && rename(tmp, target) != 0 { err = errno }
        if err != 0 { unlink(tmp) }
        if lockFD >= 0 { close(lockFD) }
        if err != 0 { throw fail(err) }

        // Makes the rename itself durable. Some filesystems cannot fsync a directory (EINVAL);
        // the new file is already in place then, so only a real I/O error is reported.
        let dirFD = open(directoryName(of: target), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            let rc = fsync(dirFD)
            let syncErr = errno
            close(dirFD)
            if rc != 0 && syncErr != EINVAL && syncErr != EROFS {
                throw LSTMKitError(.io, "cannot write \(path): syncing its directory: \(errorText(syncErr))")
            }
        }
        removeOrphanedTemps(of: target)
    }

    /// Opens path for reading. Only a regular file is read: a FIFO or a device is opened without
    /// blocking (O_NONBLOCK) and refused, so a path naming a pipe cannot hang the caller.
    static func openForReading(_ path: String) throws -> Int32 {
        try refuseNUL(path)
        func fail(_ err: Int32) -> LSTMKitError { LSTMKitError(.io, "cannot read \(path): \(errorText(err))") }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw fail(errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { let e = errno; close(fd); throw fail(e) }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(fd)
            if type == S_IFDIR { throw fail(EISDIR) }
            throw LSTMKitError(.io, "cannot read \(path): it is a \(fileTypeName(type)), not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// A C string cannot carry a NUL byte: the part before it would name another file.
    static func refuseNUL(_ path: String) throws {
        if path.utf8.contains(0) { throw LSTMKitError(.invalidArgument, "path contains a NUL byte") }
    }

    // MARK: Helpers

    /// The final target of path after following symlinks (it may not exist yet: a dangling link
    /// creates its target, as open(O_CREAT) through it would).
    private static func resolveSymlinks(_ path: String, _ fail: (Int32, String) -> LSTMKitError) throws -> String {
        var current = path
        for _ in 0..<maxSymlinks {
            var st = stat()
            guard lstat(current, &st) == 0 else {
                if errno == ENOENT { return current }
                throw fail(errno, "")
            }
            guard st.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current, &buffer, buffer.count - 1)
            guard n >= 0 else { throw fail(errno, "reading the symlink \(current): ") }
            let link = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = link.hasPrefix("/") ? link : directoryName(of: current) + "/" + link
        }
        throw fail(ELOOP, "")
    }

    /// Creates a fresh temp file beside target, locked; returns its name and descriptor.
    private static func createTemp(for target: String, mode: mode_t,
                                   _ fail: (Int32, String) -> LSTMKitError) throws -> (String, Int32) {
        let pid = getpid()
        // A name can be taken by an orphan of a dead process that had this pid: take the next.
        for _ in 0..<1000 {
            let n = counterLock.withLock { () -> Int in counter += 1; return counter }
            let tmp = "\(target).tmp.\(pid).\(n)"
            let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
            if fd < 0 {
                if errno == EEXIST { continue }
                throw fail(errno, "")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let e = errno
                close(fd)
                unlink(tmp)
                throw fail(e, "locking its temp file: ")
            }
            return (tmp, fd)
        }
        throw fail(EEXIST, "no free temp file name: ")
    }

    /// The process id in a temp file name of target ("<base>.tmp.<pid>" or
    /// "<base>.tmp.<pid>.<n>"), or nil when the name is not one.
    static func tempOwner(_ name: String, base: String) -> pid_t? {
        let prefix = base + ".tmp."
        guard name.hasPrefix(prefix) else { return nil }
        let parts = name.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2,
              parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }),
              let pid = pid_t(parts[0]), pid > 0 else { return nil }
        return pid
    }

    /// Best effort: a failure here never fails the save that already succeeded.
    private static func removeOrphanedTemps(of target: String) {
        let dir = directoryName(of: target)
        let base = target.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(target[target.index(after: $0)...]) } ?? target
        guard let stream = opendir(dir) else { return }
        defer { closedir(stream) }
        let me = getpid()
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            guard let pid = tempOwner(name, base: base), pid != me else { continue }
            // kill(pid, 0) fails with ESRCH only when no such process exists (EPERM: it does).
            guard kill(pid, 0) != 0 && errno == ESRCH else { continue }
            let full = dir + "/" + name
            let fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
            guard fd >= 0 else { continue }
            var st = stat()
            // A held lock means a live save (in another pid namespace, on another host).
            if fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && flock(fd, LOCK_EX | LOCK_NB) == 0 {
                unlink(full)
            }
            close(fd)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { buf -> Int32 in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return 0
        }
    }

    private static func fileTypeName(_ type: mode_t) -> String {
        switch type {
        case S_IFIFO: return "FIFO"
        case S_IFCHR: return "character device"
        case S_IFBLK: return "block device"
        case S_IFSOCK: return "socket"
        default: return "special file"
        }
    }

    static func errorText(_ err: Int32) -> String {
        String(cString: strerror(err))
    }

    static func directoryName(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[..<slash])
    }
}
