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
