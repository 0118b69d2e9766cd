import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One coordinator per SQLite file. A coordinator on SQLite keeps the jobs and leases it last
/// wrote in memory (`OwnedStateCache`) and lease renewals only in memory, so a second coordinator
/// on the same file would grant leases and place jobs from a picture the first one is changing.
/// The coordinator takes an exclusive `flock` on `<database>.lock` before it opens the database
/// and holds it until the store closes (or the process ends: the kernel releases it, so a
/// coordinator that crashed never blocks the next). A second one is refused with who holds it.
/// Other commands on the file (`report`, `runs`, `models`, `gate`) take no lock.
public final class SQLiteCoordinatorLock: Sendable {
    public let path: String
    private let descriptor: Mutex<Int32?>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    /// The lock file beside a database file.
    public static func lockPath(databaseAt path: String) -> String { path + ".lock" }

    /// Takes the lock for the database at `path`, writing `holder` (who and since when) into the
    /// lock file for whoever is refused next; throws `inUseByAnotherCoordinator` naming the holder
    /// when another coordinator has it.
    public static func acquire(databaseAt path: String, holder: String) throws(StateStoreError)
        -> SQLiteCoordinatorLock
    {
        let lockPath = lockPath(databaseAt: path)
        // Never through a symbolic link: one planted where `--db` points would otherwise have
        // its target truncated and overwritten below.
        let descriptor = try StateFilePermissions.openRegularFile(
            at: lockPath, naming: "sqlite:\(path)", role: "its lock file")
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let current = Self.holder(in: descriptor)
            close(descriptor)
            if failure == EWOULDBLOCK {
                throw .inUseByAnotherCoordinator("sqlite:\(path)", holder: current)
            }
            throw .cannotOpen(
                "sqlite:\(path)", reason: "cannot lock \(lockPath): \(String(cString: strerror(failure)))")
        }
        _ = fchmod(descriptor, StateFilePermissions.fileMode)
        let text = Array((holder + "\n").utf8)
        if ftruncate(descriptor, 0) == 0 {
            _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        }
        return SQLiteCoordinatorLock(path: lockPath, descriptor: descriptor)
    }

    /// Releases the lock (closing its file); a second call does nothing.
    public func release() {
        descriptor.withLock { held in
            if let open = held { close(open) }
            held = nil
        }
    }

    deinit { release() }

    /// What the holder wrote into the lock file (its first line, at most 200 bytes).
    static func holder(in descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 200)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return "a coordinator that has not said who it is" }
        let line = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n").first.map(String.init)
        return line?.isEmpty == false ? line! : "a coordinator that has not said who it is"
    }

    /// Who this process is, for the lock file: process id, host and start time.
    public static func describeThisProcess(at now: Date = Date()) -> String {
        let host = ProcessInfo.processInfo.hostName
        return "pid \(getpid()) on \(host), since \(ISO8601DateFormatter().string(from: now))"
    }
}
