import SpotwiseCore
import Synchronization

/// SQLite only: one coordinator owns the database file, so what it read or wrote is what the
/// file holds. Jobs and leases are kept here after the first read, and every write updates them
/// while still holding the connection's gate, so a reader never sees an older row than the file.
/// Heartbeats then read no SQLite at all in the steady state.
final class OwnedStateCache: Sendable {
    private struct Entries {
        var jobs: [JobID: StoredJob] = [:]
        /// nil inside: known to have no lease.
        var leases: [JobID: Lease?] = [:]
    }

    /// Past this many entries the cache starts over (it is only a cache: misses read the file).
    static let capacity = 50_000

    private let entries = Mutex(Entries())

    func job(_ id: JobID) -> StoredJob? { entries.withLock { $0.jobs[id] } }

    func remember(_ job: StoredJob) {
        entries.withLock { entries in
            if entries.jobs.count >= Self.capacity { entries.jobs.removeAll() }
            entries.jobs[job.id] = job
        }
    }

    /// `.some(nil)`: known to have no lease; `nil`: not known.
    func lease(_ id: JobID) -> Lease?? { entries.withLock { $0.leases[id] } }

    func remember(lease: Lease?, for id: JobID) {
        entries.withLock { entries in
            if entries.leases.count >= Self.capacity { entries.leases.removeAll() }
            entries.leases[id] = .some(lease)
        }
    }

    func forgetLease(_ id: JobID) { _ = entries.withLock { $0.leases.removeValue(forKey: id) } }

    func forgetAll() { entries.withLock { $0 = Entries() } }
}
