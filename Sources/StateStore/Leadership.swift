import Foundation
import SpotwiseCore
import Synchronization

/// Who leads the coordinators sharing one PostgreSQL database: one row, claimed for a time on the
/// database's clock and renewed by its holder; another replica takes it over only once it
/// expired, and every takeover raises the epoch. The leader's writes carry its epoch
/// (`LeadershipFence`), so a leader that lost the row changes nothing after the takeover.
public struct Leadership: Sendable, Hashable, Codable {
    /// The replica that holds it (unique per process start).
    public var holder: String
    /// Where that replica serves the API (for `/health` and operators).
    public var address: String
    public var epoch: UInt64
    /// Until when, in milliseconds on the database's clock.
    public var expiresAtMilliseconds: Int64

    public init(holder: String, address: String, epoch: UInt64, expiresAtMilliseconds: Int64) {
        self.holder = holder
        self.address = address
        self.epoch = epoch
        self.expiresAtMilliseconds = expiresAtMilliseconds
    }
}

/// What a claim found: the leadership as it stands after it (held by the claimant when the claim
/// won) and the database's clock when it was decided.
public struct LeadershipClaim: Sendable, Hashable {
    public var leadership: Leadership
    public var databaseMilliseconds: Int64
    /// The row as the claim found it (nil: nobody ever led).
    public var previous: Leadership?

    public init(leadership: Leadership, databaseMilliseconds: Int64, previous: Leadership? = nil) {
        self.leadership = leadership
        self.databaseMilliseconds = databaseMilliseconds
        self.previous = previous
    }

    /// How long nobody led before this claim took the row over: since the previous holder's
    /// time ran out (nil: nobody ever led, or this was no takeover).
    public var vacancyMilliseconds: Int64? {
        guard let previous, previous.holder != leadership.holder else { return nil }
        return max(0, databaseMilliseconds - previous.expiresAtMilliseconds)
    }

    public func won(by holder: String) -> Bool { leadership.holder == holder }
}

/// The leadership row and the database's clock: what replicas on one database agree through.
/// `SQLStateStore` keeps it in its database; `InMemoryLeadershipStore` is the twin for tests.
public protocol LeadershipStore: Sendable {
    /// Claims leadership for `holder` for `ttlMilliseconds` on the database's clock: it wins when
    /// nobody holds it, it holds it already (a renewal, same epoch), or the holder's time ran out
    /// (a takeover, epoch + 1). One atomic step: two claimants never both win.
    func claimLeadership(holder: String, address: String, ttlMilliseconds: Int64) async throws -> LeadershipClaim
    /// Gives leadership up at once (a graceful stop), if `holder` has it: the next claim wins
    /// without waiting for the time to run out.
    func resignLeadership(holder: String) async throws
    /// The database's clock, in milliseconds since 1970: the one clock replicas share.
    func databaseMilliseconds() async throws -> Int64
}

/// The leadership epoch a leader's writes are made under. A store fenced by it checks, inside
/// each write's own transaction and under a lock that a takeover must wait for, that the epoch
/// still leads; otherwise the write fails with `StateStoreError.notLeader` and changes nothing.
public struct LeadershipFence: Sendable, Hashable {
    public var holder: String
    public var epoch: UInt64

    public init(holder: String, epoch: UInt64) {
        self.holder = holder
        self.epoch = epoch
    }
}

/// The in-memory twin of the leadership row, on an injected clock.
public final class InMemoryLeadershipStore: LeadershipStore {
    private let row = Mutex<Leadership?>(nil)
    private let clock: any LeaseClock

    public init(clock: any LeaseClock) { self.clock = clock }

    public func claimLeadership(holder: String, address: String, ttlMilliseconds: Int64) async throws
        -> LeadershipClaim
    {
        let now = clock.nowMilliseconds()
        let (leadership, previous) = row.withLock { row -> (Leadership, Leadership?) in
            let current = row
            if let current, current.holder != holder, current.expiresAtMilliseconds > now { return (current, current) }
            let epoch = current.map { $0.holder == holder ? $0.epoch : $0.epoch + 1 } ?? 1
            let claimed = Leadership(
                holder: holder, address: address, epoch: epoch, expiresAtMilliseconds: now + ttlMilliseconds)
            row = claimed
            return (claimed, current)
        }
        return LeadershipClaim(leadership: leadership, databaseMilliseconds: now, previous: previous)
    }

    public func resignLeadership(holder: String) async throws {
        let now = clock.nowMilliseconds()
        row.withLock { row in
            if row?.holder == holder { row?.expiresAtMilliseconds = now }
        }
    }

    public func databaseMilliseconds() async throws -> Int64 { clock.nowMilliseconds() }

    /// Whether `fence` still leads (what a fenced write checks).
    public func leads(_ fence: LeadershipFence) -> Bool {
        row.withLock { $0?.holder == fence.holder && $0?.epoch == fence.epoch }
    }
}
