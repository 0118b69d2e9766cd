/// `GET /health` (no token): the replica answers, with its role among the coordinators on its
/// database and who leads. `role` is `single` (the only coordinator on its database: SQLite),
/// `starting`, `leader` or `follower`; `leader` is absent for a single coordinator.
public struct HealthReply: Codable, Sendable, Hashable {
    public struct Leader: Codable, Sendable, Hashable {
        public var replica: String
        public var address: String
        public var epoch: UInt64

        public init(replica: String, address: String, epoch: UInt64) {
            self.replica = replica
            self.address = address
            self.epoch = epoch
        }
    }

    public var status: String
    public var role: String
    public var replica: String
    public var leader: Leader?

    public init(status: String = "ok", role: String, replica: String, leader: Leader?) {
        self.status = status
        self.role = role
        self.replica = replica
        self.leader = leader
    }
}
