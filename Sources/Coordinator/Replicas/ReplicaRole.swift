import SpotwiseCore
import StateStore
import Synchronization

/// What this coordinator is among the replicas on one database, decided from leadership claims
/// (`LeaderElectionService`) on this process's monotonic clock: it leads from the moment its
/// takeover was carried out until its claim's time runs out by its own reckoning (a claim sent at
/// `t` lasts until `t + ttl` at the latest, whatever the network did), unless a renewal extends it.
/// The decisions are pure (`record`); the fence (`LeadershipFence`) keeps a replica that is wrong
/// about it from writing anyway.
public final class ReplicaRole: Sendable {
    public typealias Role = CoordinatorRole

    /// What a claim's result asks of the election.
    public enum Transition: Sendable, Hashable {
        /// This replica won a claim it did not hold: carry out the takeover, then `lead`.
        case takeOver(LeadershipFence)
        /// Still leading (renewed).
        case renewed
        /// It led and no longer does.
        case stepDown
        case none
    }

    struct State {
        var role: Role
        var leader: Leadership?
        var fence: LeadershipFence?
        /// Until when this replica may act as leader, on `localClock`.
        var leadsUntil: Int64?
    }

    /// This process's name among the replicas (unique per start) and where it serves the API.
    public let replica: String
    public let address: String
    let localClock: any LeaseClock
    private let state: Mutex<State>

    public init(replica: String, address: String, localClock: any LeaseClock = MonotonicLeaseClock(), single: Bool) {
        self.replica = replica
        self.address = address
        self.localClock = localClock
        self.state = Mutex(State(role: single ? .single : .starting))
    }

    public var role: Role {
        let now = localClock.nowMilliseconds()
        return state.withLock { state in
            if state.role == .leader, let until = state.leadsUntil, now >= until { return .follower }
            return state.role
        }
    }

    /// The leadership as last seen (nil for a single coordinator or before the first claim).
    public var leader: Leadership? { state.withLock { $0.leader } }

    /// The fence a leader's pass writes under, if this replica leads now; nil otherwise. A single
    /// coordinator acts without one (`acts`).
    public func leadingFence() -> LeadershipFence? {
        let now = localClock.nowMilliseconds()
        return state.withLock { state in
            guard state.role == .leader, let until = state.leadsUntil, now < until else { return nil }
            return state.fence
        }
    }

    /// Whether what must run once (scheduling, lease reconciliation, launches) runs here now.
    public var acts: Bool { role == .single || leadingFence() != nil }

    /// The result of a claim sent at `sentAt` on the local clock: pure, apart from remembering
    /// the leadership seen. A renewal extends the time this replica leads; a takeover is only
    /// announced (`takeOver`): the election carries it out and then calls `lead`.
    public func record(_ claim: LeadershipClaim, sentAt: Int64, ttlMilliseconds: Int64) -> Transition {
        state.withLock { state in
            guard state.role != .single else { return .none }
            state.leader = claim.leadership
            let won = claim.won(by: replica)
            // The same epoch: nobody else led since this replica's last claim.
            if won, state.role == .leader, state.fence?.epoch == claim.leadership.epoch {
                state.leadsUntil = sentAt + ttlMilliseconds
                return .renewed
            }
            if won { return .takeOver(LeadershipFence(holder: replica, epoch: claim.leadership.epoch)) }
            let wasLeader = state.role == .leader
            state.role = .follower
            state.fence = nil
            state.leadsUntil = nil
            return wasLeader ? .stepDown : .none
        }
    }

    /// After a takeover was carried out: lead under `fence` until `sentAt + ttl` (local clock).
    public func lead(_ fence: LeadershipFence, sentAt: Int64, ttlMilliseconds: Int64) {
        state.withLock { state in
            state.role = .leader
            state.fence = fence
            state.leadsUntil = sentAt + ttlMilliseconds
        }
    }

    /// A claim that failed (the database unreachable): a leader keeps leading until its time runs
    /// out; after that, or if it was not leading, it follows. Returns whether it stepped down.
    @discardableResult
    public func claimFailed() -> Bool {
        let now = localClock.nowMilliseconds()
        return state.withLock { state in
            guard state.role == .leader else {
                if state.role == .starting { state.role = .follower }
                return false
            }
            guard let until = state.leadsUntil, now >= until else { return false }
            state.role = .follower
            state.fence = nil
            state.leadsUntil = nil
            return true
        }
    }

    /// What `GET /health` answers.
    public var health: HealthReply {
        let role = role
        return HealthReply(
            role: role, replica: replica,
            leader: role == .single
                ? nil
                : leader.map { HealthReply.Leader(replica: $0.holder, address: $0.address, epoch: $0.epoch) })
    }
}
