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
    public var role: CoordinatorRole
    public var replica: String
    public var leader: Leader?

    public init(status: String = "ok", role: CoordinatorRole, replica: String, leader: Leader?) {
        self.status = status
        self.role = role
        self.replica = replica
        self.leader = leader
    }
}

/// What a coordinator process is among the coordinators on its database.
public enum CoordinatorRole: String, Sendable, Hashable, Codable {
    /// The only coordinator on its database (SQLite, in memory): always acts.
    case single
    /// A replica that has not heard from the database yet.
    case starting
    /// The replica that holds the leadership row: it schedules, reconciles and launches.
    case leader
    /// A replica that serves the API and heartbeats while another leads.
    case follower
    /// A role this client does not know (a newer coordinator said it): it answered all the same.
    case unknown

    public init(from decoder: any Decoder) throws {
        self = Self(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .unknown
    }
}
