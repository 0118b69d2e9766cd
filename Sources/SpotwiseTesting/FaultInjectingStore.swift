import Foundation
import Registry
import SpotwiseCore
import StateStore
import Synchronization

/// A state store that passes every call to `base`, except where the test arranged a fault: a
/// placement refused for one job, or the read of recorded capacity launches held open until the
/// test lets it go. For behaviour under faults the real stores cannot be made to show on demand.
public final class FaultInjectingStore: StateStore {
    public let base: any StateStore

    /// What the test arranged.
    public struct Faults: Sendable {
        /// Placements of these jobs are refused with the error.
        public var refusedPlacements: [JobID: StateStoreError] = [:]
        /// Runs inside `launches()` after the base store was read and before the records are
        /// returned (a read overtaken by whatever the hook waits for).
        public var whileReadingLaunches: (@Sendable () async -> Void)?
    }
    public let faults = Mutex(Faults())

    public init(_ base: any StateStore) { self.base = base }

    public func place(
        _ id: JobID, expectedVersion: Int, record: JobRecord, events: [String], lease: Lease,
        segment: AttemptSegment, at: Date
    ) async throws -> StoredJob {
        if let refusal = faults.withLock({ $0.refusedPlacements[id] }) { throw refusal }
        return try await base.place(
            id, expectedVersion: expectedVersion, record: record, events: events, lease: lease, segment: segment,
            at: at)
    }

    public func launches() async throws -> [CapacityLaunchRecord] {
        let records = try await base.launches()
        if let hold = faults.withLock({ $0.whileReadingLaunches }) { await hold() }
        return records
    }

    // MARK: - Everything else, passed through

    public func migrate() async throws { try await base.migrate() }
    public func schemaVersion() async throws -> Int { try await base.schemaVersion() }
    public func submit(_ submission: JobSubmission) async throws -> (job: StoredJob, created: Bool) {
        try await base.submit(submission)
    }
    public func job(_ id: JobID) async throws -> StoredJob? { try await base.job(id) }
    public func jobs(state: JobState?, limit: Int, offset: Int) async throws -> [StoredJob] {
        try await base.jobs(state: state, limit: limit, offset: offset)
    }
    public func update(_ id: JobID, expectedVersion: Int, record: JobRecord, events: [String], at: Date)
        async throws -> StoredJob
    {
        try await base.update(id, expectedVersion: expectedVersion, record: record, events: events, at: at)
    }
    public func appendHistory(job: JobID, lines: [String], at: Date) async throws {
        try await base.appendHistory(job: job, lines: lines, at: at)
    }
    public func history(_ id: JobID) async throws -> [JobHistoryEntry] { try await base.history(id) }
    public func countJobsByState() async throws -> [JobState: Int] { try await base.countJobsByState() }
    public func grantLease(_ lease: Lease) async throws { try await base.grantLease(lease) }
    public func renewLease(job: JobID, epoch: LeaseEpoch, expiresAtMilliseconds: Int64) async throws -> Lease {
        try await base.renewLease(job: job, epoch: epoch, expiresAtMilliseconds: expiresAtMilliseconds)
    }
    public func renewLease(
        job: JobID, epoch: LeaseEpoch, attempt: Int, heldBy worker: WorkerID, expiresAtMilliseconds: Int64
    ) async throws -> Lease? {
        try await base.renewLease(
            job: job, epoch: epoch, attempt: attempt, heldBy: worker, expiresAtMilliseconds: expiresAtMilliseconds)
    }
    public func revokeLease(job: JobID, epoch: LeaseEpoch) async throws {
        try await base.revokeLease(job: job, epoch: epoch)
    }
    public func revokeLeaseIfExpired(job: JobID, epoch: LeaseEpoch, nowMilliseconds: Int64) async throws -> Bool {
        try await base.revokeLeaseIfExpired(job: job, epoch: epoch, nowMilliseconds: nowMilliseconds)
    }
    public func lease(job: JobID) async throws -> Lease? { try await base.lease(job: job) }
    public func expiredLeases(nowMilliseconds: Int64) async throws -> [Lease] {
        try await base.expiredLeases(nowMilliseconds: nowMilliseconds)
    }
    public func resetLiveLeases(expiringAt milliseconds: Int64) async throws -> Int {
        try await base.resetLiveLeases(expiringAt: milliseconds)
    }
    public func extendLiveLeases(toAtLeast milliseconds: Int64) async throws -> Int {
        try await base.extendLiveLeases(toAtLeast: milliseconds)
    }
    public func registerWorker(_ worker: WorkerRecord) async throws { try await base.registerWorker(worker) }
    public func worker(_ id: WorkerID) async throws -> WorkerRecord? { try await base.worker(id) }
    public func workers() async throws -> [WorkerRecord] { try await base.workers() }
    public func deregisterWorker(_ id: WorkerID, at: Date) async throws {
        try await base.deregisterWorker(id, at: at)
    }
    public func recordSignOut(session nonce: String, expiresAtSeconds: Int64, nowSeconds: Int64) async throws {
        try await base.recordSignOut(session: nonce, expiresAtSeconds: expiresAtSeconds, nowSeconds: nowSeconds)
    }
    public func isSignedOut(session nonce: String) async throws -> Bool { try await base.isSignedOut(session: nonce) }
    public func liveLeases(worker: WorkerID?) async throws -> [Lease] { try await base.liveLeases(worker: worker) }
    public func openSegment(_ segment: AttemptSegment) async throws { try await base.openSegment(segment) }
    public func closeSegment(job: JobID, attempt: Int, end: SegmentEnd) async throws {
        try await base.closeSegment(job: job, attempt: attempt, end: end)
    }
    public func recordReachedStep(job: JobID, attempt: Int, step: Int) async throws {
        try await base.recordReachedStep(job: job, attempt: attempt, step: step)
    }
    public func segments(jobs: [JobID]) async throws -> [JobID: [AttemptSegment]] {
        try await base.segments(jobs: jobs)
    }
    public func segments(job: JobID?) async throws -> [AttemptSegment] { try await base.segments(job: job) }
    public func markFirstStep(job: JobID, attempt: Int, at: Date) async throws {
        try await base.markFirstStep(job: job, attempt: attempt, at: at)
    }
    public func recordMetrics(job: JobID, attempt: Int, resumedFromStep: Int, points: [MetricPoint]) async throws {
        try await base.recordMetrics(job: job, attempt: attempt, resumedFromStep: resumedFromStep, points: points)
    }
    public func metrics(job: JobID) async throws -> [MetricPoint] { try await base.metrics(job: job) }
    public func decide(_ decision: GateDecision, version: ModelVersion?) async throws -> GateDecision {
        try await base.decide(decision, version: version)
    }
    public func gateDecision(job: JobID) async throws -> GateDecision? { try await base.gateDecision(job: job) }
    public func gateDecisions(model: String?) async throws -> [GateDecision] {
        try await base.gateDecisions(model: model)
    }
    public func modelVersions(model: String?) async throws -> [ModelVersion] {
        try await base.modelVersions(model: model)
    }
    public func moveAlias(
        model: String, alias: String, expectedFrom: Int?, to version: Int, kind: AliasMove.Kind, at: Date
    ) async throws -> AliasMove {
        try await base.moveAlias(
            model: model, alias: alias, expectedFrom: expectedFrom, to: version, kind: kind, at: at)
    }
    public func aliasHistory(model: String) async throws -> [AliasMove] { try await base.aliasHistory(model: model) }
    public func recordLaunch(_ launch: CapacityLaunchRecord) async throws { try await base.recordLaunch(launch) }
    public func removeLaunch(job: JobID) async throws { try await base.removeLaunch(job: job) }
    @discardableResult
    public func appendLogs(job: JobID, attempt: Int, lines: [String], at: Date) async throws -> Int64 {
        try await base.appendLogs(job: job, attempt: attempt, lines: lines, at: at)
    }
    public func logs(job: JobID, after sequence: Int64, limit: Int) async throws -> [LogLine] {
        try await base.logs(job: job, after: sequence, limit: limit)
    }
    public func newestLogs(job: JobID, limit: Int) async throws -> [LogLine] {
        try await base.newestLogs(job: job, limit: limit)
    }
    public func close() async throws { try await base.close() }
}
