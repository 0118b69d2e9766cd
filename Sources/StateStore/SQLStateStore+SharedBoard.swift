import Foundation
import SQLKit
import SpotwiseCore

/// The shared board in SQL (`SharedBoardStore`): rows stamped with the database's clock when
/// they change, so a replica reads only what changed since its last look.
extension SQLStateStore: SharedBoardStore {
    public func sharePresence(_ presence: [WorkerPresence]) async throws {
        guard !presence.isEmpty else { return }
        let now = databaseNow
        // The merge (`WorkerPresence.merged(into:)`) in the statement itself, so two replicas
        // sharing one new worker at once both count; rows in one order, so two transactions never
        // wait on each other's rows in opposite orders.
        let newer =
            "excluded.leaving_said_at_ms IS NOT NULL AND (p.leaving_said_at_ms IS NULL OR excluded.leaving_said_at_ms > p.leaving_said_at_ms)"
        try await transaction { db in
            for row in presence.sorted(by: { $0.worker < $1.worker }) {
                try await db.raw(
                    """
                    INSERT INTO worker_presence AS p (worker_id, seen_at_ms, leaving, leaving_said_at_ms, changed_at_ms)
                    VALUES (\(bind: row.worker.rawValue), \(bind: row.seenAtMilliseconds), \(bind: Int64(row.leaving ? 1 : 0)),
                            \(bind: row.leavingSaidAtMilliseconds), \(unsafeRaw: now))
                    ON CONFLICT (worker_id) DO UPDATE SET
                        seen_at_ms = CASE WHEN excluded.seen_at_ms > p.seen_at_ms THEN excluded.seen_at_ms ELSE p.seen_at_ms END,
                        leaving = CASE WHEN \(unsafeRaw: newer) THEN excluded.leaving ELSE p.leaving END,
                        leaving_said_at_ms = CASE WHEN \(unsafeRaw: newer) THEN excluded.leaving_said_at_ms
                            ELSE p.leaving_said_at_ms END,
                        changed_at_ms = excluded.changed_at_ms
                    """
                ).run()
            }
        }
    }

    static func presence(_ row: any SQLRow) throws -> WorkerPresence {
        WorkerPresence(
            worker: WorkerID(try row.decode(column: "worker_id", as: String.self)),
            seenAtMilliseconds: try row.decode(column: "seen_at_ms", as: Int64.self),
            leaving: try row.decode(column: "leaving", as: Int64.self) != 0,
            leavingSaidAtMilliseconds: try row.decode(column: "leaving_said_at_ms", as: Int64?.self))
    }

    public func presence(changedAfter milliseconds: Int64) async throws -> (rows: [WorkerPresence], now: Int64) {
        let now = databaseNow
        return try await transaction { db in
            let clock = try await db.raw("SELECT \(unsafeRaw: now) AS now_ms").first()
            let rows = try await db.raw(
                """
                SELECT worker_id, seen_at_ms, leaving, leaving_said_at_ms FROM worker_presence
                WHERE changed_at_ms > \(bind: milliseconds) ORDER BY worker_id
                """
            ).all().map(Self.presence)
            return (rows, try clock?.decode(column: "now_ms", as: Int64.self) ?? milliseconds)
        }
    }

    static let directiveColumns =
        "job_id, epoch, stop_since_ms, stop_committed_step, resize_to, gang_notice"

    static func directive(_ row: any SQLRow) throws -> JobDirective {
        let epoch = try row.decode(column: "epoch", as: Int64.self)
        let since = try row.decode(column: "stop_since_ms", as: Int64?.self)
        let step = try row.decode(column: "stop_committed_step", as: Int64?.self)
        return JobDirective(
            job: JobID(try row.decode(column: "job_id", as: String.self)),
            stop: since.map { JobDirective.Stop(sinceMilliseconds: $0, committedStep: step.map(Int.init)) },
            gangEpoch: epoch > 0 ? LeaseEpoch(UInt64(epoch)) : nil,
            resizeTo: try row.decode(column: "resize_to", as: Int64?.self).map(Int.init),
            gangNotice: try row.decode(column: "gang_notice", as: String?.self))
    }

    public func shareDirectives(_ directives: [JobDirective]) async throws {
        guard !directives.isEmpty else { return }
        let now = databaseNow
        let lock = backend == .sqlite ? "" : " FOR UPDATE"
        try await transaction { db in
            for directive in directives.sorted(by: { $0.job.rawValue < $1.job.rawValue }) {
                // The row exists before it is locked (a lock on a missing row holds nothing), so
                // two replicas' directives for one job merge one after the other.
                try await db.raw(
                    """
                    INSERT INTO job_directives (job_id, epoch, updated_at_ms)
                    VALUES (\(bind: directive.job.rawValue), 0, \(unsafeRaw: now))
                    ON CONFLICT (job_id) DO NOTHING
                    """
                ).run()
                let stored = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.directiveColumns) FROM job_directives
                    WHERE job_id = \(bind: directive.job.rawValue)\(unsafeRaw: lock)
                    """
                ).first().map(Self.directive)
                let merged = directive.merged(into: stored)
                try await db.raw(
                    """
                    INSERT INTO job_directives (job_id, epoch, stop_since_ms, stop_committed_step, resize_to,
                        gang_notice, updated_at_ms)
                    VALUES (\(bind: merged.job.rawValue), \(bind: Int64(merged.gangEpoch?.value ?? 0)),
                            \(bind: merged.stop?.sinceMilliseconds), \(bind: merged.stop?.committedStep.map(Int64.init)),
                            \(bind: merged.resizeTo.map(Int64.init)), \(bind: merged.gangNotice), \(unsafeRaw: now))
                    ON CONFLICT (job_id) DO UPDATE SET epoch = excluded.epoch, stop_since_ms = excluded.stop_since_ms,
                        stop_committed_step = excluded.stop_committed_step, resize_to = excluded.resize_to,
                        gang_notice = excluded.gang_notice, updated_at_ms = excluded.updated_at_ms
                    """
                ).run()
            }
        }
    }

    public func directives(changedAfter milliseconds: Int64) async throws -> (rows: [JobDirective], now: Int64) {
        let now = databaseNow
        return try await transaction { db in
            let clock = try await db.raw("SELECT \(unsafeRaw: now) AS now_ms").first()
            let rows = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.directiveColumns) FROM job_directives
                WHERE updated_at_ms > \(bind: milliseconds) ORDER BY job_id
                """
            ).all().map(Self.directive)
            return (rows, try clock?.decode(column: "now_ms", as: Int64.self) ?? milliseconds)
        }
    }

    public func pruneSharedBoard(unchangedFor milliseconds: Int64) async throws -> (presence: Int, directives: Int) {
        let cutoff = "(\(databaseNow) - \(milliseconds))"
        return try await transaction { db in
            let presence = try await db.raw(
                "DELETE FROM worker_presence WHERE changed_at_ms < \(unsafeRaw: cutoff) RETURNING worker_id"
            ).all().count
            let directives = try await db.raw(
                "DELETE FROM job_directives WHERE updated_at_ms < \(unsafeRaw: cutoff) RETURNING job_id"
            ).all().count
            return (presence, directives)
        }
    }
}
