import Foundation
import SpotwiseCore

/// Durable state of the coordinator: jobs (spec, state-machine record, history) and attempt leases.
///
/// One protocol, an in-memory twin (`InMemoryStateStore`) and one SQL implementation
/// (`SQLStateStore`) that runs on SQLite and PostgreSQL. All three pass the same conformance suite.
/// Every write after a claim is fenced: job records change only by compare-and-swap on their
/// version, leases only for the current epoch.
public protocol StateStore: Sendable {
    /// Creates or upgrades the schema. Refuses a database written by a newer Spotwise.
    func migrate() async throws
    func schemaVersion() async throws -> Int

    /// Stores a new queued job. A submission whose idempotency key was seen before returns the job
    /// stored then (created: false) and stores nothing; the same key with a different spec is refused.
    func submit(_ submission: JobSubmission) async throws -> (job: StoredJob, created: Bool)
    func job(_ id: JobID) async throws -> StoredJob?
    /// Jobs, newest first, optionally only those in `state`, skipping the newest `offset` (paging).
    func jobs(state: JobState?, limit: Int, offset: Int) async throws -> [StoredJob]
    /// Replaces a job's record if its version is still `expectedVersion`, and appends `events` to
    /// its history in the same transaction.
    func update(_ id: JobID, expectedVersion: Int, record: JobRecord, events: [String], at: Date) async throws
        -> StoredJob
    /// A placement in one transaction: the job's compare-and-swap to `record` (with `events` in
    /// its history), the new attempt's lease and its ledger row. All of it is written or none:
    /// a refused lease (an epoch not newer than every one granted) leaves the job as it was, and a
    /// coordinator that stops in between never leaves an attempt without its lease.
    func place(
        _ id: JobID, expectedVersion: Int, record: JobRecord, events: [String], lease: Lease,
        segment: AttemptSegment, at: Date
    ) async throws -> StoredJob
    /// Appends `lines` to a job's history without changing the job: its record, version and
    /// update time stay as they are, so a note never makes a real change's compare-and-swap fail.
    /// The lines are filed under the job's current version, after that version's lines.
    func appendHistory(job: JobID, lines: [String], at: Date) async throws
    func history(_ id: JobID) async throws -> [JobHistoryEntry]
    /// How many jobs are in each state (states with none are absent).
    func countJobsByState() async throws -> [JobState: Int]

    /// Grants the lease of an attempt. Refused unless `epoch` is newer than every epoch granted
    /// for the job before (a fenced-off attempt never gets a lease back).
    func grantLease(_ lease: Lease) async throws
    /// Extends the lease if `epoch` is the job's current, unrevoked one.
    func renewLease(job: JobID, epoch: LeaseEpoch, expiresAtMilliseconds: Int64) async throws -> Lease
    /// A heartbeat's renewal: extends the lease only if its epoch is `epoch`, its attempt
    /// `attempt`, it is not revoked and `worker` holds it (rank 0 or a gang member). Nil when any
    /// of that does not hold, and nothing changed (the caller reads the lease to say which).
    func renewLease(
        job: JobID, epoch: LeaseEpoch, attempt: Int, heldBy worker: WorkerID, expiresAtMilliseconds: Int64
    ) async throws -> Lease?
    /// Ends the lease of `epoch` (if it is still the current one); later renewals are refused.
    func revokeLease(job: JobID, epoch: LeaseEpoch) async throws
    /// Ends the lease of `epoch` only if it is still expired at `nowMilliseconds`, atomically with
    /// respect to renewals: a heartbeat that renewed it in the meantime wins, and one that comes
    /// after is refused. Returns whether it revoked. (The reconciler reads expired leases, then
    /// acts; without this a worker could be told its lease is live just before it was revoked.)
    func revokeLeaseIfExpired(job: JobID, epoch: LeaseEpoch, nowMilliseconds: Int64) async throws -> Bool
    func lease(job: JobID) async throws -> Lease?
    /// Unrevoked leases that expired at or before `nowMilliseconds`.
    func expiredLeases(nowMilliseconds: Int64) async throws -> [Lease]

    /// After a coordinator restart: every unrevoked lease now expires at `milliseconds` on the new
    /// process's clock (a grace period, so workers are not declared lost en masse while they
    /// reconnect; and no lease keeps an expiry from the old process's clock). Returns how many.
    func resetLiveLeases(expiringAt milliseconds: Int64) async throws -> Int
    /// Every unrevoked lease expiring before `milliseconds` expires then (none is shortened);
    /// returns how many were extended. A replica taking leadership over gives this grace.
    func extendLiveLeases(toAtLeast milliseconds: Int64) async throws -> Int

    /// Stores a registered worker; its secret is kept only as a digest.
    func registerWorker(_ worker: WorkerRecord) async throws
    func worker(_ id: WorkerID) async throws -> WorkerRecord?
    /// Registered workers that have not deregistered, oldest first.
    func workers() async throws -> [WorkerRecord]
    /// Marks a worker gone: its token stops working and the scheduler no longer places on it.
    func deregisterWorker(_ id: WorkerID, at: Date) async throws

    /// A dashboard session signed out before it expired (by its nonce): refused from now on by
    /// every coordinator on this store, across restarts. Entries past their expiry are dropped.
    func recordSignOut(session nonce: String, expiresAtSeconds: Int64, nowSeconds: Int64) async throws
    func isSignedOut(session nonce: String) async throws -> Bool
    /// Unrevoked leases (expired or not), ordered by job: every job's, or only those held by `worker`.
    func liveLeases(worker: WorkerID?) async throws -> [Lease]

    /// Opens the ledger row of a placed attempt; `closeSegment` ends it once.
    func openSegment(_ segment: AttemptSegment) async throws
    /// Ends an open segment; a segment already ended keeps its first end. Its last step becomes
    /// the higher of `end.lastStep` and any step `recordReachedStep` recorded while it was open.
    func closeSegment(job: JobID, attempt: Int, end: SegmentEnd) async throws
    /// Raises an open segment's last step to `step` when that is higher: a step the coordinator
    /// heard of before the attempt ended (a metric batch), kept in the store so that an attempt
    /// lost without a last word still counts the work it is known to have done. Nothing changes
    /// for an ended or unknown segment.
    func recordReachedStep(job: JobID, attempt: Int, step: Int) async throws
    /// The segments of each of `jobs`, by job, each job's in attempt order: one read for a page of
    /// jobs instead of one per job.
    func segments(jobs: [JobID]) async throws -> [JobID: [AttemptSegment]]
    /// A job's segments by attempt, or every job's (ordered by start) when `job` is nil.
    func segments(job: JobID?) async throws -> [AttemptSegment]

    /// Marks when the attempt trained its first step (the end of its overhead); the first mark stays.
    func markFirstStep(job: JobID, attempt: Int, at: Date) async throws

    /// Stores metric points of `attempt`; a point for a step already stored replaces it (unless it
    /// came from a newer attempt: a late batch of an older one changes nothing), and every
    /// point of an earlier attempt beyond `resumedFromStep` is deleted first (the trainer goes over
    /// those steps again, so a series never holds two values for a step or a dead branch).
    func recordMetrics(job: JobID, attempt: Int, resumedFromStep: Int, points: [MetricPoint]) async throws
    /// A job's metric points, by name then step.
    func metrics(job: JobID) async throws -> [MetricPoint]

    /// Records the gate's decision on a finished job's model and, when accepted, the new version
    /// (numbered after the model's newest) in one transaction. A job is decided once: deciding it
    /// again returns the first decision and stores nothing.
    func decide(_ decision: GateDecision, version: ModelVersion?) async throws -> GateDecision
    func gateDecision(job: JobID) async throws -> GateDecision?
    /// Gate decisions, oldest first: one model's, or every model's when `model` is nil.
    func gateDecisions(model: String?) async throws -> [GateDecision]
    /// Versions, oldest first: one model's, or every model's when `model` is nil.
    func modelVersions(model: String?) async throws -> [ModelVersion]
    /// Points `alias` of `model` at `version` if it still points at `expectedFrom` (nil: the alias
    /// does not exist yet), and appends the move to the alias's history; refused otherwise.
    func moveAlias(
        model: String, alias: String, expectedFrom: Int?, to version: Int, kind: AliasMove.Kind, at: Date
    ) async throws -> AliasMove
    /// Every move of the model's aliases, oldest first.
    func aliasHistory(model: String) async throws -> [AliasMove]

    /// Records cloud capacity launched for a job (one outstanding launch per job: a new one
    /// replaces the old), so a restarted coordinator still knows whose worker is whose.
    func recordLaunch(_ launch: CapacityLaunchRecord) async throws
    /// Forgets a job's launch (its worker took the job, or the launch ended).
    func removeLaunch(job: JobID) async throws
    func launches() async throws -> [CapacityLaunchRecord]

    /// Appends trainer output lines to a job's log; returns the sequence number of the last one.
    @discardableResult
    func appendLogs(job: JobID, attempt: Int, lines: [String], at: Date) async throws -> Int64
    /// Log lines numbered after `sequence`, at most `limit`.
    func logs(job: JobID, after sequence: Int64, limit: Int) async throws -> [LogLine]
    /// The job's newest `limit` log lines, oldest of them first: a tail in one read, however long the log.
    func newestLogs(job: JobID, limit: Int) async throws -> [LogLine]

    func close() async throws
}

/// Cloud capacity launched for a job, until its worker takes the job.
public struct CapacityLaunchRecord: Hashable, Sendable {
    public var job: JobID
    public var provider: String
    /// The provider's name for it: a training job name, a custom job resource name, a call id.
    public var handle: String
    public var workerName: String
    public var pool: WorkerPool
    /// Which launch of the job this is (names are unique per launch).
    public var sequence: Int
    public var launchedAt: Date
    /// The provider answered the launch. An unconfirmed record was written before the provider
    /// was called (its handle, when the provider names capacity before launching it, or empty):
    /// the capacity may exist or not.
    public var confirmed: Bool

    public init(
        job: JobID, provider: String, handle: String, workerName: String, pool: WorkerPool, sequence: Int,
        launchedAt: Date, confirmed: Bool = true
    ) {
        self.confirmed = confirmed
        self.job = job
        self.provider = provider
        self.handle = handle
        self.workerName = workerName
        self.pool = pool
        self.sequence = sequence
        self.launchedAt = launchedAt
    }
}

/// A worker agent known to the coordinator.
public struct WorkerRecord: Hashable, Sendable {
    public var id: WorkerID
    /// SHA-256 of the worker's secret, hex.
    public var secretDigest: String
    public var name: String
    public var provider: String
    public var registeredAt: Date
    /// The capacity the worker stands for; nil for a worker that only heartbeats (benchmarks, tests).
    public var pool: WorkerPool?
    public var deregisteredAt: Date?
    /// Where peers reach it (a gang's rank 0 listens there); nil: loopback.
    public var address: String?

    public init(
        id: WorkerID, secretDigest: String, name: String, provider: String, registeredAt: Date, pool: WorkerPool? = nil,
        deregisteredAt: Date? = nil, address: String? = nil
    ) {
        self.address = address
        self.id = id
        self.secretDigest = secretDigest
        self.name = name
        self.provider = provider
        self.registeredAt = registeredAt
        self.pool = pool
        self.deregisteredAt = deregisteredAt
    }
}

public struct JobSubmission: Sendable {
    public var id: JobID
    public var spec: JobSpec
    public var idempotencyKey: String?
    public var submittedAt: Date

    public init(id: JobID, spec: JobSpec, idempotencyKey: String?, submittedAt: Date) {
        self.id = id
        self.spec = spec
        self.idempotencyKey = idempotencyKey
        self.submittedAt = submittedAt
    }
}

/// A job as stored: its spec, its state-machine record and the version that guards it.
public struct StoredJob: Hashable, Sendable {
    public var id: JobID
    public var spec: JobSpec
    public var record: JobRecord
    public var version: Int
    public var idempotencyKey: String?
    public var submittedAt: Date
    public var updatedAt: Date

    public var state: JobState { record.state }

    public init(
        id: JobID, spec: JobSpec, record: JobRecord, version: Int, idempotencyKey: String?, submittedAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.spec = spec
        self.record = record
        self.version = version
        self.idempotencyKey = idempotencyKey
        self.submittedAt = submittedAt
        self.updatedAt = updatedAt
    }
}

public struct JobHistoryEntry: Hashable, Sendable {
    public var version: Int
    public var at: Date
    public var message: String
}

/// The right of one attempt to run and write, until `expiresAtMilliseconds` on the coordinator's clock.
public struct Lease: Hashable, Sendable {
    public var job: JobID
    public var attempt: Int
    public var epoch: LeaseEpoch
    public var workerID: WorkerID?
    public var expiresAtMilliseconds: Int64
    public var revoked: Bool
    /// A gang's workers by rank (rank 0 is `workerID`); empty for a single-node attempt. Every
    /// member renews the one lease with the attempt's one epoch.
    public var members: [WorkerID]

    public init(
        job: JobID, attempt: Int, epoch: LeaseEpoch, workerID: WorkerID?, expiresAtMilliseconds: Int64,
        revoked: Bool = false, members: [WorkerID] = []
    ) {
        self.job = job
        self.attempt = attempt
        self.epoch = epoch
        self.workerID = workerID
        self.expiresAtMilliseconds = expiresAtMilliseconds
        self.revoked = revoked
        self.members = members
    }

    /// The workers holding the attempt, by rank: a gang's members, or the one worker.
    public var holders: [WorkerID] { members.isEmpty ? (workerID.map { [$0] } ?? []) : members }

    /// The rank of `worker` in the attempt, nil when it holds no part of it.
    public func rank(of worker: WorkerID) -> Int? { holders.firstIndex(of: worker) }

    /// How members are kept in one column: `|w0|w1|`, so a member is found by `LIKE '%|id|%'`.
    public static func encodeMembers(_ members: [WorkerID]) -> String {
        members.isEmpty ? "" : "|" + members.map(\.rawValue).joined(separator: "|") + "|"
    }

    public static func decodeMembers(_ text: String) -> [WorkerID] {
        text.split(separator: "|").map { WorkerID(String($0)) }
    }
}

public enum StateStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    case jobNotFound(JobID)
    case versionConflict(JobID, expected: Int, actual: Int)
    case idempotencyKeyReused(String, existing: JobID)
    case staleEpoch(JobID, epoch: LeaseEpoch, current: LeaseEpoch?)
    case schemaTooNew(found: Int, supported: Int)
    case corruptRow(String)
    case cannotOpen(String, reason: String)
    /// Another coordinator holds this SQLite database (`SQLiteCoordinatorLock`).
    case inUseByAnotherCoordinator(String, holder: String)
    /// A write of a leader fenced by `epoch` after another replica took leadership over.
    case notLeader(epoch: UInt64)
    case aliasMoved(model: String, alias: String, expected: Int?, actual: Int?)
    case noSuchModelVersion(model: String, version: Int)

    public var description: String {
        switch self {
        case .jobNotFound(let id): "no job \(id)"
        case .versionConflict(let id, let expected, let actual):
            "job \(id) changed underneath: expected version \(expected), found \(actual)"
        case .idempotencyKeyReused(let key, let existing):
            "idempotency key '\(key)' was used for job \(existing) with a different spec"
        case .staleEpoch(let id, let epoch, let current):
            "epoch \(epoch) of job \(id) is stale (current: \(current.map(\.description) ?? "none"))"
        case .schemaTooNew(let found, let supported):
            "the database has schema version \(found), but this spotwise knows only up to \(supported); upgrade spotwise"
        case .corruptRow(let detail): "unreadable row: \(detail)"
        case .cannotOpen(let location, let reason): "cannot open the state database \(location): \(reason)"
        case .notLeader(let epoch):
            "this coordinator no longer leads (its leadership epoch \(epoch) was taken over by another replica): the write was refused and changed nothing"
        case .inUseByAnotherCoordinator(let location, let holder):
            "the state database \(location) is in use by another coordinator (\(holder)); an SQLite database serves one coordinator at a time: stop that one, or give this one its own --db"
        case .aliasMoved(let model, let alias, let expected, let actual):
            "alias \(alias) of \(model) points at \(actual.map { "version \($0)" } ?? "nothing"), not \(expected.map { "version \($0)" } ?? "nothing"): it moved meanwhile"
        case .noSuchModelVersion(let model, let version): "model \(model) has no version \(version)"
        }
    }
}

extension StateStore {
    /// The newest `limit` jobs, optionally only those in `state`.
    public func jobs(state: JobState?, limit: Int) async throws -> [StoredJob] {
        try await jobs(state: state, limit: limit, offset: 0)
    }

    /// Unrevoked leases of every job.
    public func liveLeases() async throws -> [Lease] { try await liveLeases(worker: nil) }
}

extension StoredJob {
    /// What run tracking shows about a job next to its metric series.
    public var identity: StoredJobIdentity {
        StoredJobIdentity(
            id: id.rawValue, name: spec.name, state: state.rawValue, hyperparameters: spec.hyperparameters,
            finalMetrics: record.finalMetrics)
    }
}

extension StateStore {
    /// The heartbeat's renewal as a read and a renewal: right for a store whose reads are local
    /// (the in-memory twin, SQLite's cache); PostgreSQL does it in one statement.
    public func renewLease(
        job: JobID, epoch: LeaseEpoch, attempt: Int, heldBy worker: WorkerID, expiresAtMilliseconds: Int64
    ) async throws -> Lease? {
        guard let lease = try await lease(job: job), lease.epoch == epoch, lease.attempt == attempt, !lease.revoked,
            lease.workerID == worker || lease.members.contains(worker)
        else { return nil }
        do {
            return try await renewLease(job: job, epoch: epoch, expiresAtMilliseconds: expiresAtMilliseconds)
        } catch StateStoreError.staleEpoch {
            return nil
        }
    }
}
