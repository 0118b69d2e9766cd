import Foundation
import SQLKit
import SpotwiseCore

/// Workers, attempt segments (the cost ledger's rows) and trainer logs in SQL.
extension SQLStateStore {
    static let workerColumns =
        "id, secret_digest, name, provider, registered_at_ms, pool_json, deregistered_at_ms, address"

    static func worker(_ row: any SQLRow) throws -> WorkerRecord {
        let poolJSON = try row.decode(column: "pool_json", as: String?.self)
        return WorkerRecord(
            id: WorkerID(try row.decode(column: "id", as: String.self)),
            secretDigest: try row.decode(column: "secret_digest", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            provider: try row.decode(column: "provider", as: String.self),
            registeredAt: date(try row.decode(column: "registered_at_ms", as: Int64.self)),
            pool: try poolJSON.map { try decodeJSON(WorkerPool.self, $0, what: "worker pool") },
            deregisteredAt: try row.decode(column: "deregistered_at_ms", as: Int64?.self).map(date),
            address: try row.decode(column: "address", as: String?.self))
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StateStoreError.corruptRow("\(what): \(error)")
        }
    }

    public func recordSignOut(session nonce: String, expiresAtSeconds: Int64, nowSeconds: Int64) async throws {
        try await transaction { db in
            try await db.raw("DELETE FROM dashboard_signouts WHERE expires_at_s <= \(bind: nowSeconds)").run()
            try await db.raw(
                """
                INSERT INTO dashboard_signouts (nonce, expires_at_s) VALUES (\(bind: nonce), \(bind: expiresAtSeconds))
                ON CONFLICT (nonce) DO NOTHING
                """
            ).run()
        }
    }

    public func isSignedOut(session nonce: String) async throws -> Bool {
        try await exclusive {
            try await database.raw("SELECT 1 AS one FROM dashboard_signouts WHERE nonce = \(bind: nonce)").first()
                != nil
        }
    }

    public func registerWorker(_ worker: WorkerRecord) async throws {
        let pool = try worker.pool.map { try Self.json($0) }
        try await write { db in
            try await db.raw(
                """
                INSERT INTO workers (id, secret_digest, name, provider, registered_at_ms, pool_json, address)
                VALUES (\(bind: worker.id.rawValue), \(bind: worker.secretDigest), \(bind: worker.name), \(bind: worker.provider),
                        \(bind: Self.milliseconds(worker.registeredAt)), \(bind: pool), \(bind: worker.address))
                """
            ).run()
        }
    }

    public func worker(_ id: WorkerID) async throws -> WorkerRecord? {
        try await exclusive {
            try await database.raw(
                "SELECT \(unsafeRaw: Self.workerColumns) FROM workers WHERE id = \(bind: id.rawValue)"
            )
            .first().map(Self.worker)
        }
    }

    public func workers() async throws -> [WorkerRecord] {
        try await exclusive {
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.workerColumns) FROM workers WHERE deregistered_at_ms IS NULL
                ORDER BY registered_at_ms, id
                """
            ).all().map(Self.worker)
        }
    }

    public func deregisterWorker(_ id: WorkerID, at: Date) async throws {
        try await write { db in
            try await db.raw(
                """
                UPDATE workers SET deregistered_at_ms = \(bind: Self.milliseconds(at))
                WHERE id = \(bind: id.rawValue) AND deregistered_at_ms IS NULL
                """
            ).run()
        }
    }

    public func liveLeases(worker: WorkerID?) async throws -> [Lease] {
        let filter =
            worker.map {
                SQLQueryString(
                    "AND (worker_id = \(bind: $0.rawValue) OR members LIKE \(bind: "%|" + Self.escapedForLike($0.rawValue) + "|%") ESCAPE '!')"
                )
            }
            ?? SQLQueryString("")
        return try await exclusive {
            try await database.raw(
                "SELECT \(unsafeRaw: Self.leaseColumns) FROM leases WHERE revoked = 0 \(filter) ORDER BY job_id"
            ).all().map(Self.lease)
        }.map(applyingRenewal)
    }

    // MARK: Attempt segments

    static let segmentColumns = """
        job_id, attempt, epoch, worker_id, provider, pool_json, started_at_ms, resumed_from_step, ended_at_ms,
        end_kind, end_reason, last_step, committed_step, first_step_at_ms, nodes
        """

    static func segment(_ row: any SQLRow) throws -> AttemptSegment {
        var segment = AttemptSegment(
            job: JobID(try row.decode(column: "job_id", as: String.self)),
            attempt: Int(try row.decode(column: "attempt", as: Int64.self)),
            epoch: LeaseEpoch(UInt64(try row.decode(column: "epoch", as: Int64.self))),
            workerID: WorkerID(try row.decode(column: "worker_id", as: String.self)),
            provider: try row.decode(column: "provider", as: String.self),
            pool: try decodeJSON(
                WorkerPool.self, try row.decode(column: "pool_json", as: String.self), what: "segment pool"),
            startedAt: date(try row.decode(column: "started_at_ms", as: Int64.self)),
            resumedFromStep: try row.decode(column: "resumed_from_step", as: Int64?.self).map { Int($0) })
        segment.endedAt = try row.decode(column: "ended_at_ms", as: Int64?.self).map(date)
        segment.endReason = try row.decode(column: "end_reason", as: String?.self)
        // A row an older coordinator ended after another process upgraded the database has words
        // only: its kind is what the migration would have given it.
        segment.endKind =
            try row.decode(column: "end_kind", as: String?.self).map(AttemptEndKind.init(stored:))
            ?? segment.endReason.map(AttemptEndKind.init(legacyWords:))
        segment.lastStep = try row.decode(column: "last_step", as: Int64?.self).map { Int($0) }
        segment.committedStep = try row.decode(column: "committed_step", as: Int64?.self).map { Int($0) }
        segment.firstStepAt = try row.decode(column: "first_step_at_ms", as: Int64?.self).map(date)
        segment.nodes = Int(try row.decode(column: "nodes", as: Int64.self))
        return segment
    }

    public func openSegment(_ segment: AttemptSegment) async throws {
        let pool = try Self.json(segment.pool)
        try await transaction { db in try await Self.insertSegment(segment, poolJSON: pool, on: db) }
    }

    /// An attempt's ledger row inside the caller's transaction (once: a row already there stays).
    /// `jobKnown`: the transaction already found the job (a placement's compare-and-swap).
    static func insertSegment(
        _ segment: AttemptSegment, poolJSON pool: String, jobKnown: Bool = false, on db: any SQLDatabase
    ) async throws {
        if !jobKnown,
            try await db.raw("SELECT id FROM jobs WHERE id = \(bind: segment.job.rawValue)").first() == nil
        {
            throw StateStoreError.jobNotFound(segment.job)
        }
        let exists = try await db.raw(
            """
            SELECT attempt FROM attempt_segments
            WHERE job_id = \(bind: segment.job.rawValue) AND attempt = \(bind: Int64(segment.attempt))
            """
        ).first()
        guard exists == nil else { return }
        try await db.raw(
            """
            INSERT INTO attempt_segments (job_id, attempt, epoch, worker_id, provider, pool_json, started_at_ms,
                resumed_from_step, nodes)
            VALUES (\(bind: segment.job.rawValue), \(bind: Int64(segment.attempt)), \(bind: Int64(segment.epoch.value)),
                \(bind: segment.workerID.rawValue), \(bind: segment.provider), \(bind: pool),
                \(bind: Self.milliseconds(segment.startedAt)), \(bind: segment.resumedFromStep.map { Int64($0) }),
                \(bind: Int64(segment.nodes)))
            """
        ).run()
    }

    public func closeSegment(job: JobID, attempt: Int, end: SegmentEnd) async throws {
        let lastStep = end.lastStep.map { Int64($0) }
        try await write { db in
            try await db.raw(
                """
                UPDATE attempt_segments SET ended_at_ms = \(bind: Self.milliseconds(end.at)),
                    end_kind = \(bind: end.kind.rawValue), end_reason = \(bind: end.reason),
                    last_step = CASE WHEN last_step IS NULL OR last_step < \(bind: lastStep) THEN \(bind: lastStep)
                        ELSE last_step END,
                    committed_step = \(bind: end.committedStep.map { Int64($0) })
                WHERE job_id = \(bind: job.rawValue) AND attempt = \(bind: Int64(attempt)) AND ended_at_ms IS NULL
                """
            ).run()
        }
    }

    public func recordReachedStep(job: JobID, attempt: Int, step: Int) async throws {
        try await write { db in
            try await db.raw(
                """
                UPDATE attempt_segments SET last_step = \(bind: Int64(step))
                WHERE job_id = \(bind: job.rawValue) AND attempt = \(bind: Int64(attempt)) AND ended_at_ms IS NULL
                    AND (last_step IS NULL OR last_step < \(bind: Int64(step)))
                """
            ).run()
        }
    }

    public func segments(job: JobID?) async throws -> [AttemptSegment] {
        try await exclusive {
            if let job {
                return try await database.raw(
                    """
                    SELECT \(unsafeRaw: Self.segmentColumns) FROM attempt_segments WHERE job_id = \(bind: job.rawValue)
                    ORDER BY attempt
                    """
                ).all().map(Self.segment)
            }
            return try await database.raw(
                "SELECT \(unsafeRaw: Self.segmentColumns) FROM attempt_segments ORDER BY started_at_ms, job_id"
            ).all().map(Self.segment)
        }
    }

    public func segments(jobs: [JobID]) async throws -> [JobID: [AttemptSegment]] {
        var rows: [AttemptSegment] = []
        // At most 500 ids a statement: far below every engine's limit on bound parameters.
        for start in stride(from: 0, to: jobs.count, by: 500) {
            let ids: [any Encodable & Sendable] = jobs[start..<min(jobs.count, start + 500)].map(\.rawValue)
            rows += try await exclusive {
                try await database.raw(
                    "SELECT \(unsafeRaw: Self.segmentColumns) FROM attempt_segments WHERE job_id IN (\(binds: ids)) ORDER BY job_id, attempt"
                ).all().map(Self.segment)
            }
        }
        return Dictionary(grouping: rows, by: \.job)
    }

    // MARK: Logs

    public func appendLogs(job: JobID, attempt: Int, lines: [String], at: Date) async throws -> Int64 {
        // PostgreSQL: the job's row lock orders appends to one job (a gang's ranks post logs at
        // once, to any replica), so two never take the same sequence (SQLite's BEGIN IMMEDIATE
        // serializes every write).
        let lock = backend == .sqlite ? "" : " FOR UPDATE"
        return try await transaction { db in
            guard
                try await db.raw("SELECT id FROM jobs WHERE id = \(bind: job.rawValue)\(unsafeRaw: lock)").first()
                    != nil
            else {
                throw StateStoreError.jobNotFound(job)
            }
            let row = try await db.raw(
                "SELECT COALESCE(MAX(sequence), 0) AS last FROM job_logs WHERE job_id = \(bind: job.rawValue)"
            ).first()
            var last = try row?.decode(column: "last", as: Int64.self) ?? 0
            for line in lines {
                last += 1
                try await db.raw(
                    """
                    INSERT INTO job_logs (job_id, sequence, attempt, at_ms, text)
                    VALUES (\(bind: job.rawValue), \(bind: last), \(bind: Int64(attempt)), \(bind: Self.milliseconds(at)),
                        \(bind: line))
                    """
                ).run()
            }
            return last
        }
    }

    public func newestLogs(job: JobID, limit: Int) async throws -> [LogLine] {
        try await exclusive {
            guard try await database.raw("SELECT id FROM jobs WHERE id = \(bind: job.rawValue)").first() != nil else {
                throw StateStoreError.jobNotFound(job)
            }
            return try await database.raw(
                """
                SELECT sequence, attempt, at_ms, text FROM job_logs WHERE job_id = \(bind: job.rawValue)
                ORDER BY sequence DESC LIMIT \(bind: Int64(limit))
                """
            ).all().map(Self.logLine).reversed()
        }
    }

    public func logs(job: JobID, after sequence: Int64, limit: Int) async throws -> [LogLine] {
        try await exclusive {
            guard try await database.raw("SELECT id FROM jobs WHERE id = \(bind: job.rawValue)").first() != nil else {
                throw StateStoreError.jobNotFound(job)
            }
            return try await database.raw(
                """
                SELECT sequence, attempt, at_ms, text FROM job_logs
                WHERE job_id = \(bind: job.rawValue) AND sequence > \(bind: sequence)
                ORDER BY sequence LIMIT \(bind: Int64(limit))
                """
            ).all().map(Self.logLine)
        }
    }

    static func logLine(_ row: any SQLRow) throws -> LogLine {
        LogLine(
            sequence: try row.decode(column: "sequence", as: Int64.self),
            attempt: Int(try row.decode(column: "attempt", as: Int64.self)),
            at: date(try row.decode(column: "at_ms", as: Int64.self)),
            text: try row.decode(column: "text", as: String.self))
    }
}
