import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit
import SpotwiseCore
import Synchronization

/// The state store over SQLKit, one implementation for SQLite (the embedded default: WAL,
/// synchronous=FULL) and PostgreSQL (shared state). Numbered migrations; every multi-statement
/// write runs in one transaction on one connection.
public final class SQLStateStore: StateStore {
    public enum Backend: String, Sendable {
        case sqlite, postgres
    }

    /// Numbered migrations; the schema version is how many have been applied. Never edit one that
    /// has shipped: add the next.
    public static let migrations: [[String]] = [
        [
            """
            CREATE TABLE jobs (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, idempotency_key TEXT UNIQUE, spec_json TEXT NOT NULL,
                record_json TEXT NOT NULL, state TEXT NOT NULL, version BIGINT NOT NULL,
                submitted_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX jobs_state ON jobs (state, submitted_at_ms)",
            """
            CREATE TABLE job_history (
                job_id TEXT NOT NULL, version BIGINT NOT NULL, position BIGINT NOT NULL, at_ms BIGINT NOT NULL,
                message TEXT NOT NULL, PRIMARY KEY (job_id, version, position))
            """,
            """
            CREATE TABLE leases (
                job_id TEXT PRIMARY KEY, attempt BIGINT NOT NULL, epoch BIGINT NOT NULL, worker_id TEXT,
                expires_at_ms BIGINT NOT NULL, revoked BIGINT NOT NULL)
            """,
        ],
        [
            """
            CREATE TABLE workers (
                id TEXT PRIMARY KEY, secret_digest TEXT NOT NULL, name TEXT NOT NULL, provider TEXT NOT NULL,
                registered_at_ms BIGINT NOT NULL)
            """
        ],
        [
            "ALTER TABLE workers ADD COLUMN pool_json TEXT",
            "ALTER TABLE workers ADD COLUMN deregistered_at_ms BIGINT",
            """
            CREATE TABLE attempt_segments (
                job_id TEXT NOT NULL, attempt BIGINT NOT NULL, epoch BIGINT NOT NULL, worker_id TEXT NOT NULL,
                provider TEXT NOT NULL, pool_json TEXT NOT NULL, started_at_ms BIGINT NOT NULL,
                resumed_from_step BIGINT, ended_at_ms BIGINT, end_reason TEXT, last_step BIGINT,
                committed_step BIGINT, PRIMARY KEY (job_id, attempt))
            """,
            "CREATE INDEX attempt_segments_started ON attempt_segments (started_at_ms)",
            """
            CREATE TABLE job_logs (
                job_id TEXT NOT NULL, sequence BIGINT NOT NULL, attempt BIGINT NOT NULL, at_ms BIGINT NOT NULL,
                text TEXT NOT NULL, PRIMARY KEY (job_id, sequence))
            """,
        ],
        [
            "ALTER TABLE attempt_segments ADD COLUMN first_step_at_ms BIGINT",
            """
            CREATE TABLE metric_points (
                job_id TEXT NOT NULL, name TEXT NOT NULL, step BIGINT NOT NULL, attempt BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL, PRIMARY KEY (job_id, name, step))
            """,
            """
            CREATE TABLE model_versions (
                model TEXT NOT NULL, version BIGINT NOT NULL, job_id TEXT NOT NULL UNIQUE, created_at_ms BIGINT NOT NULL,
                version_json TEXT NOT NULL, PRIMARY KEY (model, version))
            """,
            """
            CREATE TABLE gate_decisions (
                job_id TEXT PRIMARY KEY, model TEXT NOT NULL, decided_at_ms BIGINT NOT NULL, accepted BIGINT NOT NULL,
                version BIGINT, decision_json TEXT NOT NULL)
            """,
            "CREATE INDEX gate_decisions_model ON gate_decisions (model, decided_at_ms)",
            """
            CREATE TABLE alias_moves (
                model TEXT NOT NULL, alias TEXT NOT NULL, sequence BIGINT NOT NULL, from_version BIGINT,
                to_version BIGINT NOT NULL, kind TEXT NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (model, alias, sequence))
            """,
        ],
        [
            """
            CREATE TABLE capacity_launches (
                job_id TEXT PRIMARY KEY, provider TEXT NOT NULL, handle TEXT NOT NULL, worker_name TEXT NOT NULL,
                pool_json TEXT NOT NULL, sequence BIGINT NOT NULL, launched_at_ms BIGINT NOT NULL)
            """
        ],
        [
            "ALTER TABLE leases ADD COLUMN members TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE attempt_segments ADD COLUMN nodes BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE workers ADD COLUMN address TEXT",
        ],
        [
            // The attempt's end as a type (`AttemptEndKind`), so billing never reads prose. Rows
            // an older coordinator ended get their kind from the words it wrote, read here once
            // (the words `AttemptEndReason.words`, cancel and `max_cost` wrote up to schema 6).
            "ALTER TABLE attempt_segments ADD COLUMN end_kind TEXT",
            """
            UPDATE attempt_segments SET end_kind = CASE
                WHEN end_reason = 'completed' THEN 'completed'
                WHEN end_reason = 'preempted with notice' THEN 'preempted_with_notice'
                WHEN end_reason LIKE 'preempted%' THEN 'preempted_without_notice'
                WHEN end_reason LIKE 'lost%' THEN 'lost'
                WHEN end_reason LIKE 'failed with exit code%' THEN 'failed'
                WHEN end_reason LIKE 'infrastructure error%' THEN 'infrastructure'
                WHEN end_reason = 'cancelled' THEN 'cancelled'
                WHEN end_reason LIKE 'resized to%' THEN 'resized'
                WHEN end_reason LIKE 'stopped:%' THEN 'stopped'
                ELSE 'other' END
            WHERE end_reason IS NOT NULL
            """,
        ],
        [
            // Replicas on one PostgreSQL (`Leadership`): the leadership row; what workers told
            // whichever replica they reached (when each was last heard from, whether its node is
            // going away); and what a leader asked of a running attempt (stop, resize) or a gang
            // member reported (a notice), for heartbeats that reach another replica.
            """
            CREATE TABLE coordinator_leadership (
                id BIGINT PRIMARY KEY, holder TEXT NOT NULL, address TEXT NOT NULL, epoch BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE worker_presence (
                worker_id TEXT PRIMARY KEY, seen_at_ms BIGINT NOT NULL, leaving BIGINT NOT NULL,
                leaving_said_at_ms BIGINT, changed_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX worker_presence_changed ON worker_presence (changed_at_ms)",
            """
            CREATE TABLE job_directives (
                job_id TEXT PRIMARY KEY, epoch BIGINT NOT NULL, stop_since_ms BIGINT, stop_committed_step BIGINT,
                resize_to BIGINT, gang_notice TEXT, updated_at_ms BIGINT NOT NULL)
            """,
            "CREATE INDEX job_directives_updated ON job_directives (updated_at_ms)",
            // Launches are recorded before the provider is called, confirmed once it answered.
            "ALTER TABLE capacity_launches ADD COLUMN confirmed BIGINT NOT NULL DEFAULT 1",
        ],
        // 9: dashboard sessions signed out before they expired, for every coordinator on the
        // database and across restarts.
        ["CREATE TABLE dashboard_signouts (nonce TEXT PRIMARY KEY, expires_at_s BIGINT NOT NULL)"],
    ]

    public let backend: Backend
    let database: any SQLDatabase
    private let gate = SerialGate()
    /// SQLite only: jobs and leases as last read or written (see `OwnedStateCache`).
    let owned: OwnedStateCache?
    /// SQLite only: lease renewals kept in memory, by job (see `renewInMemory`); `fenced` marks a
    /// lease the reconciler revoked, so a renewal racing with it is refused.
    private let renewals = Mutex<[JobID: (epoch: LeaseEpoch, expiresAt: Int64, fenced: Bool)]>([:])
    private let shutdown: @Sendable () async throws -> Void
    /// Set on a leader's view of the database (`fenced(by:)`): every write checks it first.
    let fence: LeadershipFence?
    /// On a fenced view: the longest a write's transaction may wait, run or sit idle, so a
    /// leader that stalls inside one (paused, partitioned) holds the leadership row's share lock
    /// no longer than this and a takeover is delayed by at most as much.
    let fenceTimeoutMilliseconds: Int64

    init(
        backend: Backend, database: any SQLDatabase, fence: LeadershipFence? = nil,
        fenceTimeoutMilliseconds: Int64 = 10_000, shutdown: @escaping @Sendable () async throws -> Void
    ) {
        self.backend = backend
        self.database = database
        self.shutdown = shutdown
        self.fence = fence
        self.fenceTimeoutMilliseconds = fenceTimeoutMilliseconds
        self.owned = backend == .sqlite ? OwnedStateCache() : nil
    }

    /// The same PostgreSQL database, for a leader's passes: each write runs in a transaction that
    /// first checks, under a share lock on the leadership row (a takeover's update waits for it),
    /// that `fence` still leads, and otherwise fails with `StateStoreError.notLeader`. Reads are
    /// unchanged. Closing the view closes nothing. (SQLite serves one coordinator: no fencing.)
    /// A fenced transaction may wait, run and idle `holdingLocksAtMost` milliseconds in all
    /// (PostgreSQL ends the session past that), so a stalled leader cannot hold the share lock,
    /// and with it every takeover, for longer.
    public func fenced(by fence: LeadershipFence, holdingLocksAtMost milliseconds: Int64 = 10_000)
        -> SQLStateStore
    {
        precondition(backend == .postgres, "only PostgreSQL replicas elect a leader")
        return SQLStateStore(
            backend: backend, database: database, fence: fence, fenceTimeoutMilliseconds: max(1, milliseconds),
            shutdown: {})
    }

    /// Opens (creating if needed) an SQLite database file with WAL and synchronous=FULL; the file
    /// and its WAL files are 0600 (`StateFilePermissions`). A coordinator passes `coordinator`
    /// (who it is): it takes the database's `SQLiteCoordinatorLock` first, held until `close()`,
    /// and a second coordinator on the same file is refused.
    public static func openSQLite(path: String, coordinator: String? = nil) async throws -> SQLStateStore {
        try StateFilePermissions.restrict(databaseAt: path)
        let lock = try coordinator.map { holder throws(StateStoreError) in
            try SQLiteCoordinatorLock.acquire(databaseAt: path, holder: holder)
        }
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path))
        } catch {
            lock?.release()
            throw StateStoreError.cannotOpen(
                "sqlite:\(path)", reason: "\(error) (does the directory exist and is it writable?)")
        }
        let database = connection.sql()
        do {
            try await database.raw("PRAGMA journal_mode=WAL").run()
            try await database.raw("PRAGMA synchronous=FULL").run()
            try await database.raw("PRAGMA busy_timeout=5000").run()
        } catch {
            // A connection dropped open traps the process: close it before saying what failed.
            try? await connection.close()
            lock?.release()
            throw StateStoreError.cannotOpen("sqlite:\(path)", reason: "\(error)")
        }
        return SQLStateStore(backend: .sqlite, database: database) {
            defer { lock?.release() }
            try await connection.close()
        }
    }

    /// Connects to PostgreSQL at a `postgres://` URL.
    public static func connectPostgres(url: String) async throws -> SQLStateStore {
        guard let configuration = try? SQLPostgresConfiguration(url: url) else {
            throw StateStoreError.cannotOpen(
                Self.redacted(url), reason: "not a PostgreSQL URL; expected postgres://USER@HOST:PORT/DB")
        }
        let pools = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration), maxConnectionsPerEventLoop: 4,
            on: MultiThreadedEventLoopGroup.singleton)
        let database = pools.database(logger: Logger(label: "spotwise.state")).sql()
        let box = PoolBox(pools: pools)
        return SQLStateStore(backend: .postgres, database: database) { try await box.pools.shutdownAsync() }
    }

    /// AsyncKit's pool locks internally but is not marked Sendable; only its shutdown crosses over.
    private struct PoolBox: @unchecked Sendable {
        let pools: EventLoopGroupConnectionPool<PostgresConnectionSource>
    }

    public func close() async throws { try await shutdown() }

    /// A database location fit for logs and errors: a URL's password is replaced by `***`.
    public static func redacted(_ location: String) -> String {
        guard var components = URLComponents(string: location), components.password != nil else {
            // Not parseable as a URL: keep only what comes after any `@` (user and password go).
            guard let at = location.lastIndex(of: "@"), let scheme = location.range(of: "://") else { return location }
            return String(location[..<scheme.upperBound]) + "***@" + location[location.index(after: at)...]
        }
        components.password = "***"
        return components.string ?? location
    }

    /// SQLite has one connection: every use of it goes through the gate, so a transaction never
    /// interleaves with another task's statements. PostgreSQL's pool needs no gate.
    func exclusive<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        backend == .sqlite ? try await gate.run(body) : try await body()
    }

    /// Runs `body` in one transaction on one connection.
    /// `committed` runs after COMMIT, still inside the gate (it keeps `owned` in step).
    func transaction<T: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> T,
        committed: @escaping @Sendable (T) -> Void = { _ in }
    ) async throws -> T {
        try await exclusive {
            try await database.withSession { session in
                try await session.raw(self.backend == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN").run()
                do {
                    if let fence = self.fence {
                        try await Self.limit(session, toMilliseconds: self.fenceTimeoutMilliseconds)
                        try await Self.check(fence, on: session)
                    }
                    let result = try await body(session)
                    try await session.raw("COMMIT").run()
                    committed(result)
                    return result
                } catch {
                    try? await session.raw("ROLLBACK").run()
                    throw error
                }
            }
        }
    }

    /// A write of one or more statements: on the pool as it is, or, on a leader's fenced view,
    /// in one transaction behind the fence check.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard fence != nil else { return try await exclusive { try await body(database) } }
        return try await transaction(body)
    }

    // MARK: Schema

    public func migrate() async throws { try await migrate(upTo: Self.migrations.count) }

    /// Applies the migrations up to `target` only: how the upgrade test makes an older database.
    public func migrate(upTo target: Int) async throws {
        try await transaction { db in
            try await db.raw(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)"
            )
            .run()
            let applied = try await Self.appliedVersion(db)
            guard applied <= Self.migrations.count else {
                throw StateStoreError.schemaTooNew(found: applied, supported: Self.migrations.count)
            }
            for version in (applied + 1)..<(min(target, Self.migrations.count) + 1) {
                for statement in Self.migrations[version - 1] {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await db.raw(
                    "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (\(bind: Int64(version)), \(bind: now))"
                )
                .run()
            }
        }
    }

    public func schemaVersion() async throws -> Int {
        try await exclusive { try await Self.appliedVersion(database) }
    }

    static func appliedVersion(_ db: any SQLDatabase) async throws -> Int {
        let row = try await db.raw("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").first()
        return Int(try row?.decode(column: "version", as: Int64.self) ?? 0)
    }

    // MARK: Jobs

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    static let jobColumns = "id, spec_json, record_json, version, idempotency_key, submitted_at_ms, updated_at_ms"

    static func storedJob(_ row: any SQLRow) throws -> StoredJob {
        let decoder = JSONDecoder()
        let id = try row.decode(column: "id", as: String.self)
        do {
            return StoredJob(
                id: JobID(id),
                spec: try decoder.decode(
                    JobSpec.self, from: Data(try row.decode(column: "spec_json", as: String.self).utf8)),
                record: try decoder.decode(
                    JobRecord.self, from: Data(try row.decode(column: "record_json", as: String.self).utf8)),
                version: Int(try row.decode(column: "version", as: Int64.self)),
                idempotencyKey: try row.decode(column: "idempotency_key", as: String?.self),
                submittedAt: date(try row.decode(column: "submitted_at_ms", as: Int64.self)),
                updatedAt: date(try row.decode(column: "updated_at_ms", as: Int64.self)))
        } catch {
            throw StateStoreError.corruptRow("job \(id): \(error)")
        }
    }

    public func submit(_ submission: JobSubmission) async throws -> (job: StoredJob, created: Bool) {
        let record = JobRecord(budget: RetryBudget(submission.spec.retries))
        let specJSON = try Self.json(submission.spec)
        let recordJSON = try Self.json(record)
        let at = Self.milliseconds(submission.submittedAt)
        return try await transaction { db in
            if let key = submission.idempotencyKey,
                let row = try await db.raw(
                    "SELECT \(unsafeRaw: Self.jobColumns) FROM jobs WHERE idempotency_key = \(bind: key)"
                ).first()
            {
                let existing = try Self.storedJob(row)
                guard existing.spec == submission.spec else {
                    throw StateStoreError.idempotencyKeyReused(key, existing: existing.id)
                }
                return (existing, false)
            }
            try await db.raw(
                """
                INSERT INTO jobs (id, name, idempotency_key, spec_json, record_json, state, version, submitted_at_ms, updated_at_ms)
                VALUES (\(bind: submission.id.rawValue), \(bind: submission.spec.name), \(bind: submission.idempotencyKey),
                        \(bind: specJSON), \(bind: recordJSON), \(bind: record.state.rawValue), 1, \(bind: at), \(bind: at))
                """
            ).run()
            try await db.raw(
                "INSERT INTO job_history (job_id, version, position, at_ms, message) VALUES (\(bind: submission.id.rawValue), 1, 0, \(bind: at), 'submitted')"
            ).run()
            let job = StoredJob(
                id: submission.id, spec: submission.spec, record: record, version: 1,
                idempotencyKey: submission.idempotencyKey, submittedAt: Self.date(at), updatedAt: Self.date(at))
            return (job, true)
        } committed: { [owned] result in
            owned?.remember(result.job)
        }
    }

    public func job(_ id: JobID) async throws -> StoredJob? {
        if let cached = owned?.job(id) { return cached }
        return try await exclusive {
            let job = try await database.raw(
                "SELECT \(unsafeRaw: Self.jobColumns) FROM jobs WHERE id = \(bind: id.rawValue)"
            ).first().map(Self.storedJob)
            if let job { owned?.remember(job) }
            return job
        }
    }

    public func jobs(state: JobState?, limit: Int, offset: Int) async throws -> [StoredJob] {
        let rows: [any SQLRow] = try await exclusive {
            try await jobRows(state: state, limit: limit, offset: max(0, offset))
        }
        return try rows.map(Self.storedJob)
    }

    private func jobRows(state: JobState?, limit: Int, offset: Int) async throws -> [any SQLRow] {
        let rows: [any SQLRow]
        if let state {
            rows = try await database.raw(
                "SELECT \(unsafeRaw: Self.jobColumns) FROM jobs WHERE state = \(bind: state.rawValue) ORDER BY submitted_at_ms DESC, id DESC LIMIT \(bind: Int64(limit)) OFFSET \(bind: Int64(offset))"
            ).all()
        } else {
            rows = try await database.raw(
                "SELECT \(unsafeRaw: Self.jobColumns) FROM jobs ORDER BY submitted_at_ms DESC, id DESC LIMIT \(bind: Int64(limit)) OFFSET \(bind: Int64(offset))"
            ).all()
        }
        return rows
    }

    public func update(_ id: JobID, expectedVersion: Int, record: JobRecord, events: [String], at: Date) async throws
        -> StoredJob
    {
        let recordJSON = try Self.json(record)
        let now = Self.milliseconds(at)
        return try await transaction { db in
            try await Self.compareAndSwap(
                id, expectedVersion: expectedVersion, record: record, recordJSON: recordJSON, events: events,
                atMilliseconds: now, on: db)
        } committed: { [owned] job in
            owned?.remember(job)
        }
    }

    public func place(
        _ id: JobID, expectedVersion: Int, record: JobRecord, events: [String], lease: Lease,
        segment: AttemptSegment, at: Date
    ) async throws -> StoredJob {
        guard lease.job == id, segment.job == id else { throw StateStoreError.jobNotFound(id) }
        let recordJSON = try Self.json(record)
        let poolJSON = try Self.json(segment.pool)
        let now = Self.milliseconds(at)
        return try await transaction { db in
            // The compare-and-swap found the job (and, on PostgreSQL, locked its row): the lease
            // and the ledger row need not look for it again.
            let job = try await Self.compareAndSwap(
                id, expectedVersion: expectedVersion, record: record, recordJSON: recordJSON, events: events,
                atMilliseconds: now, on: db)
            try await Self.writeLease(lease, jobKnown: true, on: db)
            try await Self.insertSegment(segment, poolJSON: poolJSON, jobKnown: true, on: db)
            return job
        } committed: { [owned] job in
            owned?.remember(job)
            owned?.remember(lease: lease, for: lease.job)
        }
    }

    /// The job's compare-and-swap with its history lines, inside the caller's transaction.
    static func compareAndSwap(
        _ id: JobID, expectedVersion: Int, record: JobRecord, recordJSON: String, events: [String],
        atMilliseconds now: Int64, on db: any SQLDatabase
    ) async throws -> StoredJob {
        let changed = try await db.raw(
            """
            UPDATE jobs SET record_json = \(bind: recordJSON), state = \(bind: record.state.rawValue),
                version = version + 1, updated_at_ms = \(bind: now)
            WHERE id = \(bind: id.rawValue) AND version = \(bind: Int64(expectedVersion))
            RETURNING \(unsafeRaw: Self.jobColumns)
            """
        ).first()
        guard let changed else {
            let current = try await db.raw("SELECT version FROM jobs WHERE id = \(bind: id.rawValue)").first()
            guard let current else { throw StateStoreError.jobNotFound(id) }
            throw StateStoreError.versionConflict(
                id, expected: expectedVersion, actual: Int(try current.decode(column: "version", as: Int64.self)))
        }
        let job = try Self.storedJob(changed)
        for (position, message) in events.enumerated() {
            try await db.raw(
                "INSERT INTO job_history (job_id, version, position, at_ms, message) VALUES (\(bind: id.rawValue), \(bind: Int64(job.version)), \(bind: Int64(position)), \(bind: now), \(bind: message))"
            ).run()
        }
        return job
    }

    public func appendHistory(job id: JobID, lines: [String], at: Date) async throws {
        guard !lines.isEmpty else {
            guard try await job(id) != nil else { throw StateStoreError.jobNotFound(id) }
            return
        }
        let now = Self.milliseconds(at)
        // PostgreSQL: the row lock keeps two appends from taking the same position, and orders an
        // append against a concurrent update (SQLite's BEGIN IMMEDIATE serializes every write).
        let lock = backend == .sqlite ? "" : " FOR UPDATE"
        try await transaction { db in
            guard
                let row = try await db.raw(
                    "SELECT version FROM jobs WHERE id = \(bind: id.rawValue)\(unsafeRaw: lock)"
                ).first()
            else { throw StateStoreError.jobNotFound(id) }
            let version = try row.decode(column: "version", as: Int64.self)
            let last =
                try await db.raw(
                    """
                    SELECT COALESCE(MAX(position), -1) AS last FROM job_history
                    WHERE job_id = \(bind: id.rawValue) AND version = \(bind: version)
                    """
                ).first()?.decode(column: "last", as: Int64.self) ?? -1
            for (offset, message) in lines.enumerated() {
                try await db.raw(
                    "INSERT INTO job_history (job_id, version, position, at_ms, message) VALUES (\(bind: id.rawValue), \(bind: version), \(bind: last + 1 + Int64(offset)), \(bind: now), \(bind: message))"
                ).run()
            }
        }
    }

    public func history(_ id: JobID) async throws -> [JobHistoryEntry] {
        guard try await job(id) != nil else { throw StateStoreError.jobNotFound(id) }
        let rows = try await exclusive {
            try await database.raw(
                "SELECT version, at_ms, message FROM job_history WHERE job_id = \(bind: id.rawValue) ORDER BY version, position"
            ).all()
        }
        return try rows.map { row in
            JobHistoryEntry(
                version: Int(try row.decode(column: "version", as: Int64.self)),
                at: Self.date(try row.decode(column: "at_ms", as: Int64.self)),
                message: try row.decode(column: "message", as: String.self))
        }
    }

    // MARK: Leases

    static func lease(_ row: any SQLRow) throws -> Lease {
        Lease(
            job: JobID(try row.decode(column: "job_id", as: String.self)),
            attempt: Int(try row.decode(column: "attempt", as: Int64.self)),
            epoch: LeaseEpoch(UInt64(try row.decode(column: "epoch", as: Int64.self))),
            workerID: try row.decode(column: "worker_id", as: String?.self).map { WorkerID($0) },
            expiresAtMilliseconds: try row.decode(column: "expires_at_ms", as: Int64.self),
            revoked: try row.decode(column: "revoked", as: Int64.self) != 0,
            members: Lease.decodeMembers(try row.decode(column: "members", as: String.self)))
    }

    static let leaseColumns = "job_id, attempt, epoch, worker_id, expires_at_ms, revoked, members"

    public func grantLease(_ lease: Lease) async throws {
        try await transaction { db in
            try await Self.writeLease(lease, on: db)
        } committed: { [owned] _ in
            owned?.remember(lease: lease, for: lease.job)
        }
    }

    /// A lease grant inside the caller's transaction: refused unless its epoch is newer than every
    /// one granted for the job before. `jobKnown`: the transaction already found the job.
    static func writeLease(_ lease: Lease, jobKnown: Bool = false, on db: any SQLDatabase) async throws {
        if !jobKnown, try await db.raw("SELECT id FROM jobs WHERE id = \(bind: lease.job.rawValue)").first() == nil {
            throw StateStoreError.jobNotFound(lease.job)
        }
        if let row = try await db.raw("SELECT epoch FROM leases WHERE job_id = \(bind: lease.job.rawValue)").first() {
            let current = LeaseEpoch(UInt64(try row.decode(column: "epoch", as: Int64.self)))
            guard lease.epoch > current else {
                throw StateStoreError.staleEpoch(lease.job, epoch: lease.epoch, current: current)
            }
            try await db.raw(
                """
                UPDATE leases SET attempt = \(bind: Int64(lease.attempt)), epoch = \(bind: Int64(lease.epoch.value)),
                    worker_id = \(bind: lease.workerID?.rawValue), expires_at_ms = \(bind: lease.expiresAtMilliseconds),
                    revoked = \(bind: Int64(lease.revoked ? 1 : 0)), members = \(bind: Lease.encodeMembers(lease.members))
                WHERE job_id = \(bind: lease.job.rawValue) AND epoch < \(bind: Int64(lease.epoch.value))
                """
            ).run()
        } else {
            try await db.raw(
                """
                INSERT INTO leases (job_id, attempt, epoch, worker_id, expires_at_ms, revoked, members)
                VALUES (\(bind: lease.job.rawValue), \(bind: Int64(lease.attempt)), \(bind: Int64(lease.epoch.value)),
                        \(bind: lease.workerID?.rawValue), \(bind: lease.expiresAtMilliseconds), \(bind: Int64(lease.revoked ? 1 : 0)),
                        \(bind: Lease.encodeMembers(lease.members)))
                """
            ).run()
        }
    }

    public func renewLease(job: JobID, epoch: LeaseEpoch, expiresAtMilliseconds: Int64) async throws -> Lease {
        if backend == .sqlite {
            return try await renewInMemory(job: job, epoch: epoch, expiresAtMilliseconds: expiresAtMilliseconds)
        }
        // One statement: the epoch check and the write cannot be separated by another writer.
        let renewed = try await write { db in
            try await db.raw(
                """
                UPDATE leases SET expires_at_ms = CASE WHEN expires_at_ms > \(bind: expiresAtMilliseconds)
                    THEN expires_at_ms ELSE \(bind: expiresAtMilliseconds) END
                WHERE job_id = \(bind: job.rawValue) AND epoch = \(bind: Int64(epoch.value)) AND revoked = 0
                RETURNING \(unsafeRaw: Self.leaseColumns)
                """
            ).first()
        }
        if let renewed { return try Self.lease(renewed) }
        let current = try await lease(job: job)
        throw StateStoreError.staleEpoch(job, epoch: epoch, current: current.flatMap { $0.revoked ? nil : $0.epoch })
    }

    public func renewLease(
        job: JobID, epoch: LeaseEpoch, attempt: Int, heldBy worker: WorkerID, expiresAtMilliseconds: Int64
    ) async throws -> Lease? {
        if backend == .sqlite {
            guard let lease = try await lease(job: job), lease.epoch == epoch, lease.attempt == attempt,
                !lease.revoked, lease.workerID == worker || lease.members.contains(worker)
            else { return nil }
            do {
                return try await renewInMemory(job: job, epoch: epoch, expiresAtMilliseconds: expiresAtMilliseconds)
            } catch StateStoreError.staleEpoch {
                return nil
            }
        }
        // One statement, one round trip: the holder, epoch and attempt checks and the write.
        let renewed = try await write { db in
            try await db.raw(
                """
                UPDATE leases SET expires_at_ms = CASE WHEN expires_at_ms > \(bind: expiresAtMilliseconds)
                    THEN expires_at_ms ELSE \(bind: expiresAtMilliseconds) END
                WHERE job_id = \(bind: job.rawValue) AND epoch = \(bind: Int64(epoch.value))
                    AND attempt = \(bind: Int64(attempt)) AND revoked = 0
                    AND (worker_id = \(bind: worker.rawValue) OR members LIKE \(bind: "%|" + Self.escapedForLike(worker.rawValue) + "|%") ESCAPE '!')
                RETURNING \(unsafeRaw: Self.leaseColumns)
                """
            ).first()
        }
        return try renewed.map(Self.lease)
    }

    /// `text` with LIKE's wildcards and the escape character itself escaped (escape: `!`).
    static func escapedForLike(_ text: String) -> String {
        text.replacingOccurrences(of: "!", with: "!!").replacingOccurrences(of: "%", with: "!%")
            .replacingOccurrences(of: "_", with: "!_")
    }

    /// On SQLite (one coordinator owns the file) renewals stay in memory: the lease row is
    /// written only on grant and revoke, so a heartbeat costs no fsync. Nothing is lost by a
    /// crash: after a restart every live lease is reset to the grace period anyway.
    private func renewInMemory(job: JobID, epoch: LeaseEpoch, expiresAtMilliseconds: Int64) async throws -> Lease {
        guard var current = try await lease(job: job), current.epoch == epoch, !current.revoked else {
            let current = try await lease(job: job)
            throw StateStoreError.staleEpoch(
                job, epoch: epoch, current: current.flatMap { $0.revoked ? nil : $0.epoch })
        }
        // Decided under the same lock as `revokeLeaseIfExpired`: renewed or fenced, never both.
        let renewed: Int64? = renewals.withLock { renewals in
            let existing = renewals[job].flatMap { $0.epoch == epoch ? $0 : nil }
            if existing?.fenced == true { return nil }
            let expiry = max(current.expiresAtMilliseconds, expiresAtMilliseconds, existing?.expiresAt ?? 0)
            renewals[job] = (epoch, expiry, false)
            return expiry
        }
        guard let renewed else { throw StateStoreError.staleEpoch(job, epoch: epoch, current: nil) }
        current.expiresAtMilliseconds = renewed
        return current
    }

    public func revokeLeaseIfExpired(job: JobID, epoch: LeaseEpoch, nowMilliseconds: Int64) async throws -> Bool {
        guard backend == .sqlite else {
            // One statement: PostgreSQL's row lock orders it with any renewal of the same row.
            let revoked = try await write { db in
                try await db.raw(
                    """
                    UPDATE leases SET revoked = 1
                    WHERE job_id = \(bind: job.rawValue) AND epoch = \(bind: Int64(epoch.value)) AND revoked = 0
                        AND expires_at_ms <= \(bind: nowMilliseconds)
                    RETURNING job_id
                    """
                ).first()
            }
            return revoked != nil
        }
        guard let stored = try await lease(job: job), stored.epoch == epoch, !stored.revoked else { return false }
        let fenced = renewals.withLock { renewals -> Bool in
            let existing = renewals[job].flatMap { $0.epoch == epoch ? $0 : nil }
            let expiry = max(stored.expiresAtMilliseconds, existing?.expiresAt ?? 0)
            guard existing?.fenced != true, expiry <= nowMilliseconds else { return false }
            renewals[job] = (epoch, expiry, true)
            return true
        }
        guard fenced else { return false }
        try await revokeLease(job: job, epoch: epoch)
        return true
    }

    /// The lease as stored, with an in-memory renewal of the same epoch applied.
    func applyingRenewal(_ lease: Lease) -> Lease {
        var lease = lease
        if let renewal = renewals.withLock({ $0[lease.job] }), renewal.epoch == lease.epoch {
            lease.expiresAtMilliseconds = max(lease.expiresAtMilliseconds, renewal.expiresAt)
            lease.revoked = lease.revoked || renewal.fenced
        }
        return lease
    }

    public func revokeLease(job: JobID, epoch: LeaseEpoch) async throws {
        try await write { db in
            try await db.raw(
                "UPDATE leases SET revoked = 1 WHERE job_id = \(bind: job.rawValue) AND epoch = \(bind: Int64(epoch.value))"
            ).run()
            self.owned?.forgetLease(job)
        }
    }

    public func lease(job: JobID) async throws -> Lease? {
        if let cached = owned?.lease(job) { return cached.map(applyingRenewal) }
        return try await exclusive {
            let lease = try await database.raw(
                "SELECT \(unsafeRaw: Self.leaseColumns) FROM leases WHERE job_id = \(bind: job.rawValue)"
            ).first().map(Self.lease)
            owned?.remember(lease: lease, for: job)
            return lease
        }.map(applyingRenewal)
    }

    public func expiredLeases(nowMilliseconds: Int64) async throws -> [Lease] {
        try await exclusive {
            try await database.raw(
                "SELECT \(unsafeRaw: Self.leaseColumns) FROM leases WHERE revoked = 0 AND expires_at_ms <= \(bind: nowMilliseconds) ORDER BY job_id"
            ).all().map(Self.lease)
        }.map(applyingRenewal).filter { $0.expiresAtMilliseconds <= nowMilliseconds }
    }
}

extension SQLStateStore {
    public func resetLiveLeases(expiringAt milliseconds: Int64) async throws -> Int {
        renewals.withLock { $0.removeAll() }
        return try await write { db in
            let count = try await db.raw(
                """
                UPDATE leases SET expires_at_ms = \(bind: milliseconds)
                WHERE revoked = 0 RETURNING job_id
                """
            ).all().count
            self.owned?.forgetAll()
            return count
        }
    }

    public func extendLiveLeases(toAtLeast milliseconds: Int64) async throws -> Int {
        // SQLite keeps renewals in memory: those are kept, and `applyingRenewal` takes the later.
        try await write { db in
            let count = try await db.raw(
                """
                UPDATE leases SET expires_at_ms = \(bind: milliseconds)
                WHERE revoked = 0 AND expires_at_ms < \(bind: milliseconds) RETURNING job_id
                """
            ).all().count
            self.owned?.forgetAll()
            return count
        }
    }

    public func countJobsByState() async throws -> [JobState: Int] {
        let rows = try await exclusive {
            try await database.raw("SELECT state, COUNT(*) AS jobs FROM jobs GROUP BY state").all()
        }
        var counts: [JobState: Int] = [:]
        for row in rows {
            guard let state = JobState(rawValue: try row.decode(column: "state", as: String.self)) else {
                throw StateStoreError.corruptRow("unknown job state in the jobs table")
            }
            counts[state] = Int(try row.decode(column: "jobs", as: Int64.self))
        }
        return counts
    }

    /// Runs one statement as is (administration: creating databases in tests, diagnostics).
    public func execute(_ statement: String) async throws {
        try await exclusive {
            try await database.raw(SQLQueryString(statement)).run()
            owned?.forgetAll()
        }
    }
}
