/// The coordinator's clock for leases: monotonic, in milliseconds. Leases are judged by this
/// clock only, never by a worker's. Tests move one by hand (`SpotwiseTesting.ManualLeaseClock`).
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
