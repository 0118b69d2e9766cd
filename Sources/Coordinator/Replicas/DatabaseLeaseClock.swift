import SpotwiseCore
import Synchronization

/// The lease clock of replicas on one database: the database's clock, read through this
/// process's monotonic clock and an offset learned from each leadership claim (a round trip's
/// midpoint). Every replica judges and writes lease expiries on the same timeline, within a
/// round trip of each other, and a lease's expiry means the same after any replica restarts.
/// Never goes backwards.
public final class DatabaseLeaseClock: LeaseClock {
    private let local: any LeaseClock
    private struct State {
        var offset: Int64 = 0
        var last: Int64 = .min
    }
    private let state = Mutex(State())

    public init(local: any LeaseClock = MonotonicLeaseClock()) { self.local = local }

    /// The local clock's reading now (what a caller passes to `observe`).
    public func localMilliseconds() -> Int64 { local.nowMilliseconds() }

    /// The database said `database` between `before` and `after` on the local clock.
    public func observe(database: Int64, before: Int64, after: Int64) {
        let offset = database - (before + after) / 2
        state.withLock { $0.offset = offset }
    }

    public func nowMilliseconds() -> Int64 {
        let reading = local.nowMilliseconds()
        return state.withLock { state in
            let now = max(reading + state.offset, state.last)
            state.last = now
            return now
        }
    }
}
