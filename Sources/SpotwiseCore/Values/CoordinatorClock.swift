import Foundation

/// The coordinator's one clock, injected into every route, service and pass: wall-clock time for
/// what is recorded (history lines, ledger rows, prices, reports, sessions) and the lease clock's
/// monotonic milliseconds that judge leases. Production uses `SystemClock`; tests use
/// `SpotwiseTesting.ManualTime`, which moves both together, so they never drift apart in a test.
public protocol CoordinatorClock: LeaseClock {
    /// Wall-clock time now.
    var now: Date { get }
}

/// The system's wall clock beside a lease clock: the process's monotonic one, or among replicas
/// the database's (`DatabaseLeaseClock`).
public struct SystemClock: CoordinatorClock {
    public let lease: any LeaseClock

    public init(lease: any LeaseClock = MonotonicLeaseClock()) { self.lease = lease }

    public var now: Date { Date() }
    public func nowMilliseconds() -> Int64 { lease.nowMilliseconds() }
}
