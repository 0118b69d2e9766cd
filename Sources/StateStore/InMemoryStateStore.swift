import Foundation
import SpotwiseCore

/// The in-memory twin of the SQL store: same behaviour, nothing survives the process.
public actor InMemoryStateStore: StateStore {
    private var jobsByID: [JobID: StoredJob] = [:]
    private var order: [JobID] = []
    private var keys: [String: JobID] = [:]
    private var historyByJob: [JobID: [JobHistoryEntry]] = [:]
    private var leases: [JobID: Lease] = [:]
    private var newestEpoch: [JobID: LeaseEpoch] = [:]

    public init() {}

    public func migrate() async throws {}
    public func schemaVersion() async throws -> Int { SQLStateStore.migrations.count }

    public func submit(_ submission: JobSubmission) async throws -> (job: StoredJob, created: Bool) {
        if let key = submission.idempotencyKey, let existing = keys[key], let job = jobsByID[existing] {
            guard job.spec == submission.spec else {
                throw StateStoreError.idempotencyKeyReused(key, existing: existing)
            }
            return (job, false)
        }
        let job = StoredJob(
            id: submission.id, spec: submission.spec, record: JobRecord(budget: RetryBudget(submission.spec.retries)),
            version: 1, idempotencyKey: submission.idempotencyKey, submittedAt: submission.submittedAt,
            updatedAt: submission.submittedAt)
        jobsByID[job.id] = job
        order.append(job.id)
        if let key = submission.idempotencyKey { keys[key] = job.id }
        historyByJob[job.id] = [JobHistoryEntry(version: 1, at: submission.submittedAt, message: "submitted")]
        return (job, true)
    }

    public func job(_ id: JobID) async throws -> StoredJob? { jobsByID[id] }

    func jobExists(_ id: JobID) -> Bool { jobsByID[id] != nil }

    public func jobs(state: JobState?, limit: Int, offset: Int) async throws -> [StoredJob] {
        Array(
            order.reversed().compactMap { jobsByID[$0] }.filter { state == nil || $0.state == state }
                .dropFirst(max(0, offset)).prefix(limit))
    }

    public func update(_ id: JobID, expectedVersion: Int, record: JobRecord, events: [String], at: Date) async throws
        -> StoredJob
    {
        guard var job = jobsByID[id] else { throw StateStoreError.jobNotFound(id) }
        guard job.version == expectedVersion else {
            throw StateStoreError.versionConflict(id, expected: expectedVersion, actual: job.version)
        }
        job.record = record
        job.version += 1
        job.updatedAt = at
        jobsByID[id] = job
        historyByJob[id, default: []] += events.map { JobHistoryEntry(version: job.version, at: at, message: $0) }
        return job
    }

    public func place(
        _ id: JobID, expectedVersion: Int, record: JobRecord, events: [String], lease: Lease,
        segment: AttemptSegment, at: Date
    ) async throws -> StoredJob {
        // Checked before anything is written; the actor runs the three writes without a
        // suspension between them, so nothing sees one without the others.
        guard lease.job == id, segment.job == id else { throw StateStoreError.jobNotFound(id) }
        if let newest = newestEpoch[id], lease.epoch <= newest {
            throw StateStoreError.staleEpoch(id, epoch: lease.epoch, current: newest)
        }
        let job = try await update(id, expectedVersion: expectedVersion, record: record, events: events, at: at)
        try await grantLease(lease)
        try await openSegment(segment)
        return job
    }

    public func appendHistory(job id: JobID, lines: [String], at: Date) async throws {
        guard let job = jobsByID[id] else { throw StateStoreError.jobNotFound(id) }
        historyByJob[id, default: []] += lines.map { JobHistoryEntry(version: job.version, at: at, message: $0) }
    }

    public func countJobsByState() async throws -> [JobState: Int] {
        jobsByID.values.reduce(into: [:]) { counts, job in counts[job.state, default: 0] += 1 }
    }

    public func history(_ id: JobID) async throws -> [JobHistoryEntry] {
        guard jobsByID[id] != nil else { throw StateStoreError.jobNotFound(id) }
        return historyByJob[id] ?? []
    }

    public func grantLease(_ lease: Lease) async throws {
        guard jobsByID[lease.job] != nil else { throw StateStoreError.jobNotFound(lease.job) }
        if let newest = newestEpoch[lease.job], lease.epoch <= newest {
            throw StateStoreError.staleEpoch(lease.job, epoch: lease.epoch, current: newest)
        }
        newestEpoch[lease.job] = lease.epoch
        leases[lease.job] = lease
    }

    public func renewLease(job: JobID, epoch: LeaseEpoch, expiresAtMilliseconds: Int64) async throws -> Lease {
        guard var lease = leases[job], lease.epoch == epoch, !lease.revoked else {
            throw StateStoreError.staleEpoch(
                job, epoch: epoch, current: leases[job].flatMap { $0.revoked ? nil : $0.epoch })
        }
        lease.expiresAtMilliseconds = max(lease.expiresAtMilliseconds, expiresAtMilliseconds)
        leases[job] = lease
        return lease
    }

    public func revokeLease(job: JobID, epoch: LeaseEpoch) async throws {
        guard var lease = leases[job], lease.epoch == epoch else { return }
        lease.revoked = true
        leases[job] = lease
    }

    public func revokeLeaseIfExpired(job: JobID, epoch: LeaseEpoch, nowMilliseconds: Int64) async throws -> Bool {
        guard var lease = leases[job], lease.epoch == epoch, !lease.revoked,
            lease.expiresAtMilliseconds <= nowMilliseconds
        else { return false }
        lease.revoked = true
        leases[job] = lease
        return true
    }

    public func lease(job: JobID) async throws -> Lease? { leases[job] }

    public func expiredLeases(nowMilliseconds: Int64) async throws -> [Lease] {
        leases.values.filter { !$0.revoked && $0.expiresAtMilliseconds <= nowMilliseconds }
            .sorted { $0.job < $1.job }
    }

    private var workers: [WorkerID: WorkerRecord] = [:]
    private var signOuts: [String: Int64] = [:]

    public func recordSignOut(session nonce: String, expiresAtSeconds: Int64, nowSeconds: Int64) async throws {
        signOuts = signOuts.filter { $0.value > nowSeconds }
        signOuts[nonce] = expiresAtSeconds
    }

    public func isSignedOut(session nonce: String) async throws -> Bool { signOuts[nonce] != nil }

    public func resetLiveLeases(expiringAt milliseconds: Int64) async throws -> Int {
        var extended = 0
        for (job, lease) in leases where !lease.revoked {
            leases[job]?.expiresAtMilliseconds = milliseconds
            extended += 1
        }
        return extended
    }

    public func extendLiveLeases(toAtLeast milliseconds: Int64) async throws -> Int {
        var extended = 0
        for (job, lease) in leases where !lease.revoked && lease.expiresAtMilliseconds < milliseconds {
            leases[job]?.expiresAtMilliseconds = milliseconds
            extended += 1
        }
        return extended
    }

    public func registerWorker(_ worker: WorkerRecord) async throws {
        workers[worker.id] = worker
        workerOrder.append(worker.id)
    }
    public func worker(_ id: WorkerID) async throws -> WorkerRecord? { workers[id] }

    public func workers() async throws -> [WorkerRecord] {
        workerOrder.compactMap { workers[$0] }.filter { $0.deregisteredAt == nil }
    }

    public func deregisterWorker(_ id: WorkerID, at: Date) async throws {
        if workers[id]?.deregisteredAt == nil { workers[id]?.deregisteredAt = at }
    }

    public func liveLeases(worker: WorkerID?) async throws -> [Lease] {
        leases.values.filter { !$0.revoked && (worker == nil || $0.holders.contains(worker!)) }.sorted {
            $0.job < $1.job
        }
    }

    private var workerOrder: [WorkerID] = []
    var segmentsByJob: [JobID: [AttemptSegment]] = [:]
    var metricPoints: [JobID: [String: [Int: MetricPoint]]] = [:]
    var decisions: [GateDecision] = []
    var versions: [ModelVersion] = []
    var moves: [AliasMove] = []
    var capacityLaunches: [JobID: CapacityLaunchRecord] = [:]
    private var logsByJob: [JobID: [LogLine]] = [:]

    public func openSegment(_ segment: AttemptSegment) async throws {
        guard jobsByID[segment.job] != nil else { throw StateStoreError.jobNotFound(segment.job) }
        guard !(segmentsByJob[segment.job] ?? []).contains(where: { $0.attempt == segment.attempt }) else { return }
        segmentsByJob[segment.job, default: []].append(segment)
    }

    public func closeSegment(job: JobID, attempt: Int, end: SegmentEnd) async throws {
        guard let index = segmentsByJob[job]?.firstIndex(where: { $0.attempt == attempt }),
            segmentsByJob[job]?[index].endedAt == nil
        else { return }
        segmentsByJob[job]?[index].endedAt = end.at
        segmentsByJob[job]?[index].endKind = end.kind
        segmentsByJob[job]?[index].endReason = end.reason
        let recorded = segmentsByJob[job]?[index].lastStep
        segmentsByJob[job]?[index].lastStep = [recorded, end.lastStep].compactMap { $0 }.max()
        segmentsByJob[job]?[index].committedStep = end.committedStep
    }

    public func recordReachedStep(job: JobID, attempt: Int, step: Int) async throws {
        guard let index = segmentsByJob[job]?.firstIndex(where: { $0.attempt == attempt }),
            segmentsByJob[job]?[index].endedAt == nil, step > (segmentsByJob[job]?[index].lastStep ?? Int.min)
        else { return }
        segmentsByJob[job]?[index].lastStep = step
    }

    public func segments(job: JobID?) async throws -> [AttemptSegment] {
        if let job { return (segmentsByJob[job] ?? []).sorted { $0.attempt < $1.attempt } }
        return segmentsByJob.values.flatMap { $0 }.sorted { ($0.startedAt, $0.job) < ($1.startedAt, $1.job) }
    }

    public func segments(jobs: [JobID]) async throws -> [JobID: [AttemptSegment]] {
        var found: [JobID: [AttemptSegment]] = [:]
        for job in jobs where segmentsByJob[job] != nil {
            found[job] = (segmentsByJob[job] ?? []).sorted { $0.attempt < $1.attempt }
        }
        return found
    }

    public func appendLogs(job: JobID, attempt: Int, lines: [String], at: Date) async throws -> Int64 {
        guard jobsByID[job] != nil else { throw StateStoreError.jobNotFound(job) }
        var last = logsByJob[job]?.last?.sequence ?? 0
        for line in lines {
            last += 1
            logsByJob[job, default: []].append(LogLine(sequence: last, attempt: attempt, at: at, text: line))
        }
        return last
    }

    public func logs(job: JobID, after sequence: Int64, limit: Int) async throws -> [LogLine] {
        guard jobsByID[job] != nil else { throw StateStoreError.jobNotFound(job) }
        return Array((logsByJob[job] ?? []).drop { $0.sequence <= sequence }.prefix(limit))
    }

    public func newestLogs(job: JobID, limit: Int) async throws -> [LogLine] {
        guard jobsByID[job] != nil else { throw StateStoreError.jobNotFound(job) }
        return Array((logsByJob[job] ?? []).suffix(max(0, limit)))
    }

    public func close() async throws {}
}
