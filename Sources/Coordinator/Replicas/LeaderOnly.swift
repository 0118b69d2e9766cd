import StateStore

/// What must run once among replicas (scheduling, lease reconciliation, capacity launches and
/// watching, the gate sweep) runs on the leader only, and writes through a store fenced by its
/// leadership epoch: a pass that began while leading and outlived the leadership changes nothing.
public struct LeaderOnly: Sendable {
    let role: ReplicaRole
    let fenced: @Sendable (LeadershipFence) -> any StateStore

    public init(role: ReplicaRole, fenced: @escaping @Sendable (LeadershipFence) -> any StateStore) {
        self.role = role
        self.fenced = fenced
    }

    /// How often a follower's passes look whether it leads now (in memory, no database).
    public static let followerCheckMilliseconds: Int64 = 100

    /// The store this pass writes through when this replica leads now; nil when it follows.
    public func store() -> (any StateStore)? { role.leadingFence().map(fenced) }
}
