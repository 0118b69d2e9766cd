import Synchronization

/// The coordinator's clock for leases: monotonic, in milliseconds. Leases are judged by this
/// clock only, never by a worker's.
public protocol LeaseClock: Sendable {
    func nowMilliseconds() -> Int64
}

/// Milliseconds since this process started, from the monotonic `ContinuousClock`.
public struct MonotonicLeaseClock: LeaseClock {
    private let start = ContinuousClock.now

    public init() {}

    public func nowMilliseconds() -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}

/// A clock tests move by hand.
public final class ManualLeaseClock: LeaseClock {
    private let now: Mutex<Int64>

    public init(_ start: Int64 = 0) {
        now = Mutex(start)
    }

    public func nowMilliseconds() -> Int64 { now.withLock { $0 } }

    public func advance(milliseconds: Int64) {
        now.withLock { $0 += milliseconds }
    }
}

/// Lease timing: workers heartbeat every `heartbeatMilliseconds`; a lease lasts
/// `leaseMilliseconds` past the last heartbeat; after a restart every live lease gets
/// `restartGraceMilliseconds` (Nomad gives 300 s).
public struct LeasePolicy: Sendable {
    public var heartbeatMilliseconds: Int64
    public var leaseMilliseconds: Int64
    public var restartGraceMilliseconds: Int64

    public init(
        heartbeatMilliseconds: Int64 = 5_000, leaseMilliseconds: Int64 = 15_000,
        restartGraceMilliseconds: Int64 = 300_000
    ) {
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.leaseMilliseconds = leaseMilliseconds
        self.restartGraceMilliseconds = restartGraceMilliseconds
    }
}
