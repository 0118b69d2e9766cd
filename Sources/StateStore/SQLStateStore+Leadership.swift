import Foundation
import SQLKit
import SpotwiseCore

/// The leadership row and the database's clock in SQL (`LeadershipStore`); the fence check a
/// leader's writes run first.
extension SQLStateStore: LeadershipStore {
    /// The database's clock in milliseconds since 1970, as an SQL expression.
    var databaseNow: String {
        switch backend {
        case .postgres: "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
        case .sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
        }
    }

    static let leadershipColumns = "holder, address, epoch, expires_at_ms"

    static func leadership(_ row: any SQLRow) throws -> Leadership {
        Leadership(
            holder: try row.decode(column: "holder", as: String.self),
            address: try row.decode(column: "address", as: String.self),
            epoch: UInt64(try row.decode(column: "epoch", as: Int64.self)),
            expiresAtMilliseconds: try row.decode(column: "expires_at_ms", as: Int64.self))
    }

    public func databaseMilliseconds() async throws -> Int64 {
        try await exclusive {
            guard let row = try await database.raw("SELECT \(unsafeRaw: databaseNow) AS now_ms").first() else {
                throw StateStoreError.corruptRow("the database did not say what time it is")
            }
            return try row.decode(column: "now_ms", as: Int64.self)
        }
    }

    public func claimLeadership(holder: String, address: String, ttlMilliseconds: Int64) async throws
        -> LeadershipClaim
    {
        let now = databaseNow
        let postgres = backend == .postgres
        return try await transaction { db in
            // A claim never waits long for the row: a stalled leader's fenced write holding its
            // share lock makes this claim fail (and the next one try again), not hang.
            if postgres {
                try await db.raw("SET LOCAL lock_timeout = \(unsafeRaw: String(max(1, ttlMilliseconds / 3)))").run()
            }
            guard let clock = try await db.raw("SELECT \(unsafeRaw: now) AS now_ms").first() else {
                throw StateStoreError.corruptRow("the database did not say what time it is")
            }
            let nowMilliseconds = try clock.decode(column: "now_ms", as: Int64.self)
            let expiry = nowMilliseconds + ttlMilliseconds
            let previous = try await db.raw(
                "SELECT \(unsafeRaw: Self.leadershipColumns) FROM coordinator_leadership WHERE id = 1"
            ).first().map(Self.leadership)
            // One statement: a conflicting claim waits for the row lock, then sees the winner's row.
            let won = try await db.raw(
                """
                INSERT INTO coordinator_leadership AS l (id, holder, address, epoch, expires_at_ms)
                VALUES (1, \(bind: holder), \(bind: address), 1, \(bind: expiry))
                ON CONFLICT (id) DO UPDATE SET
                    epoch = CASE WHEN l.holder = excluded.holder THEN l.epoch ELSE l.epoch + 1 END,
                    holder = excluded.holder, address = excluded.address, expires_at_ms = excluded.expires_at_ms
                WHERE l.holder = excluded.holder OR l.expires_at_ms <= \(bind: nowMilliseconds)
                RETURNING \(unsafeRaw: Self.leadershipColumns)
                """
            ).first()
            var row = won
            if row == nil {
                row = try await db.raw(
                    "SELECT \(unsafeRaw: Self.leadershipColumns) FROM coordinator_leadership WHERE id = 1"
                ).first()
            }
            guard let row else { throw StateStoreError.corruptRow("the leadership row vanished during a claim") }
            return LeadershipClaim(
                leadership: try Self.leadership(row), databaseMilliseconds: nowMilliseconds, previous: previous)
        }
    }

    public func resignLeadership(holder: String) async throws {
        try await exclusive {
            try await database.raw(
                """
                UPDATE coordinator_leadership SET expires_at_ms = \(unsafeRaw: databaseNow)
                WHERE id = 1 AND holder = \(bind: holder)
                """
            ).run()
        }
    }

    /// Bounds a fenced transaction: how long it may wait for a lock, run one statement, and sit
    /// idle between statements (PostgreSQL ends the session past that, releasing its locks).
    static func limit(_ db: any SQLDatabase, toMilliseconds milliseconds: Int64) async throws {
        let value = String(milliseconds)
        try await db.raw("SET LOCAL lock_timeout = \(unsafeRaw: value)").run()
        try await db.raw("SET LOCAL statement_timeout = \(unsafeRaw: value)").run()
        try await db.raw("SET LOCAL idle_in_transaction_session_timeout = \(unsafeRaw: value)").run()
    }

    /// Inside a write's transaction: the fence's epoch must still lead. The share lock makes a
    /// takeover (an update of the row) wait until this transaction ends, so a write that passed
    /// the check commits before any new leader's first write.
    static func check(_ fence: LeadershipFence, on db: any SQLDatabase) async throws {
        let row = try await db.raw(
            """
            SELECT epoch FROM coordinator_leadership
            WHERE id = 1 AND holder = \(bind: fence.holder) AND epoch = \(bind: Int64(fence.epoch)) FOR SHARE
            """
        ).first()
        guard row != nil else { throw StateStoreError.notLeader(epoch: fence.epoch) }
    }
}
