import Foundation
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// Metric series, first steps, gate decisions, model versions and alias moves: the same on every store.
@Suite struct RegistryConformanceTests {
    static func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    static func version(_ model: String, job: String, auc: Double, at seconds: Double) -> ModelVersion {
        ModelVersion(
            model: model, version: 0, job: job, createdAt: at(seconds),
            artifact: ModelArtifact(
                storage: "file://checkpoints", location: "\(job)/model-attempt-1",
                manifestDigest: String(repeating: "a", count: 64), bytes: 10),
            metrics: ["auc": auc], hyperparameters: ["lr": .double(0.1)],
            lineage: ModelLineage(
                job: job, jobName: "digits", attempts: 2, interruptions: 1, checkpointStep: 50, checkpointDigest: nil,
                costUSD: "0.010000"))
    }

    static func decision(_ job: String, model: String, accepted: Bool, at seconds: Double) -> GateDecision {
        GateDecision(
            job: job, model: model, decidedAt: at(seconds), accepted: accepted, reason: accepted ? "ok" : "auc too low",
            metrics: ["auc": accepted ? 0.9 : 0.5])
    }

    @Test(arguments: StoreKind.withoutServers)
    func stepsBeyondTheRestoredCheckpointAreReplacedNotAppended(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job.id
        // Attempt 1 trains steps 1-80 (loss 1.0 - step/100), committed at 50, then is preempted.
        let first = (1...80).map { MetricPoint(name: "loss", step: $0, value: 1 - Double($0) / 100, attempt: 1) }
        try await store.recordMetrics(job: job, attempt: 1, resumedFromStep: 0, points: Array(first[0..<40]))
        try await store.recordMetrics(job: job, attempt: 1, resumedFromStep: 0, points: Array(first[40...]))
        // A resend of the same points changes nothing.
        try await store.recordMetrics(job: job, attempt: 1, resumedFromStep: 0, points: Array(first[70...]))
        // Attempt 2 resumes from 50 and reports 51-60 with other values.
        let second = (51...60).map { MetricPoint(name: "loss", step: $0, value: 2, attempt: 2) }
        try await store.recordMetrics(job: job, attempt: 2, resumedFromStep: 50, points: second)

        let series = try await store.metrics(job: job)
        #expect(series.map(\.step) == Array(1...60), "no step twice, nothing beyond 60 from the dead attempt")
        #expect(series.filter { $0.step <= 50 }.allSatisfy { $0.attempt == 1 })
        #expect(series.filter { $0.step > 50 }.allSatisfy { $0.attempt == 2 && $0.value == 2 })
        // A late batch of attempt 1 (the coordinator fences it by epoch first) changes nothing here either.
        let late = (51...60).map { MetricPoint(name: "loss", step: $0, value: 9, attempt: 1) }
        try await store.recordMetrics(job: job, attempt: 1, resumedFromStep: 0, points: late)
        #expect(try await store.metrics(job: job) == series)
        await #expect(throws: StateStoreError.jobNotFound(JobID("nope"))) {
            try await store.recordMetrics(job: JobID("nope"), attempt: 1, resumedFromStep: 0, points: first)
        }
    }

    @Test(arguments: StoreKind.withoutServers)
    func theFirstStepMarkStays(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job.id
        try await store.openSegment(
            AttemptSegment(
                job: job, attempt: 1, epoch: LeaseEpoch(1), workerID: "w", provider: "local",
                pool: AttemptRecordsConformanceTests.spotPool, startedAt: Self.at(1_000), resumedFromStep: nil))
        try await store.markFirstStep(job: job, attempt: 1, at: Self.at(1_012.5))
        try await store.markFirstStep(job: job, attempt: 1, at: Self.at(1_020))
        #expect(try await store.segments(job: job).first?.firstStepAt == Self.at(1_012.5))
    }

    @Test(arguments: StoreKind.withoutServers)
    func versionsAreNumberedPerModelAndAJobIsDecidedOnce(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let a = try await store.decide(
            Self.decision("job-a", model: "digits", accepted: true, at: 1_000),
            version: Self.version("digits", job: "job-a", auc: 0.9, at: 1_000))
        let rejected = try await store.decide(
            Self.decision("job-b", model: "digits", accepted: false, at: 1_100), version: nil)
        let c = try await store.decide(
            Self.decision("job-c", model: "digits", accepted: true, at: 1_200),
            version: Self.version("digits", job: "job-c", auc: 0.95, at: 1_200))
        let other = try await store.decide(
            Self.decision("job-d", model: "other", accepted: true, at: 1_300),
            version: Self.version("other", job: "job-d", auc: 0.7, at: 1_300))
        #expect(a.version == 1 && c.version == 2 && other.version == 1)
        #expect(rejected.version == nil && !rejected.accepted)
        // Deciding job-a again (a retried finish, a sweep after a restart) returns the first decision.
        let again = try await store.decide(
            Self.decision("job-a", model: "digits", accepted: true, at: 5_000),
            version: Self.version("digits", job: "job-a", auc: 0.1, at: 5_000))
        #expect(again == a)
        let versions = try await store.modelVersions(model: "digits")
        #expect(versions.map(\.version) == [1, 2])
        #expect(versions.map(\.metrics) == [["auc": 0.9], ["auc": 0.95]])
        #expect(
            versions[0]
                == {
                    var v = Self.version("digits", job: "job-a", auc: 0.9, at: 1_000)
                    v.version = 1
                    return v
                }())
        #expect(try await store.modelVersions(model: nil).count == 3)
        #expect(try await store.gateDecisions(model: "digits").map(\.job) == ["job-a", "job-b", "job-c"])
        #expect(try await store.gateDecision(job: JobID("job-b")) == rejected)
    }

    @Test(arguments: StoreKind.withoutServers)
    func aliasesMoveByCompareAndSwapAndKeepTheirHistory(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        for (index, job) in ["a", "b", "c"].enumerated() {
            _ = try await store.decide(
                Self.decision(job, model: "digits", accepted: true, at: 1_000 + Double(index)),
                version: Self.version("digits", job: job, auc: 0.9, at: 1_000 + Double(index)))
        }
        let first = try await store.moveAlias(
            model: "digits", alias: "production", expectedFrom: nil, to: 1, kind: .promote, at: Self.at(2_000))
        #expect(first.sequence == 1 && first.from == nil && first.to == 1)
        _ = try await store.moveAlias(
            model: "digits", alias: "production", expectedFrom: 1, to: 3, kind: .promote, at: Self.at(2_001))
        // A mover that read the alias before that move is refused, and nothing is recorded.
        await #expect(throws: StateStoreError.aliasMoved(model: "digits", alias: "production", expected: 1, actual: 3))
        {
            _ = try await store.moveAlias(
                model: "digits", alias: "production", expectedFrom: 1, to: 2, kind: .promote, at: Self.at(2_002))
        }
        await #expect(throws: StateStoreError.noSuchModelVersion(model: "digits", version: 9)) {
            _ = try await store.moveAlias(
                model: "digits", alias: "staging", expectedFrom: nil, to: 9, kind: .promote, at: Self.at(2_003))
        }
        _ = try await store.moveAlias(
            model: "digits", alias: "production", expectedFrom: 3, to: 1, kind: .rollback, at: Self.at(2_004))
        let history = try await store.aliasHistory(model: "digits")
        #expect(history.map(\.to) == [1, 3, 1])
        #expect(history.map(\.from) == [nil, 1, 3])
        #expect(history.map(\.kind) == [.promote, .promote, .rollback])
        #expect(history.map(\.sequence) == [1, 2, 3])
    }

    @Test(arguments: [StoreKind.sqlite])
    func aVersionThreeDatabaseUpgradesWithItsSegmentsIntact(kind: StoreKind) async throws {
        let (store, location) = try await kind.open(migrated: false)
        let sql = try #require(store as? SQLStateStore)
        try await sql.migrate(upTo: 3)
        let job = try await store.submit(submission("old-job")).job.id
        // What a version-3 coordinator wrote, in its own columns.
        let pool = String(decoding: try JSONEncoder().encode(AttemptRecordsConformanceTests.spotPool), as: UTF8.self)
        try await sql.execute(
            "INSERT INTO attempt_segments (job_id, attempt, epoch, worker_id, provider, pool_json, started_at_ms) "
                + "VALUES ('old-job', 1, 1, 'w', 'local', '\(pool)', 1000000)")
        try await sql.execute(
            "INSERT INTO leases (job_id, attempt, epoch, worker_id, expires_at_ms, revoked) VALUES ('old-job', 1, 1, 'w', 5, 0)"
        )
        try await store.close()

        let (reopened, _) = try await kind.open(reopening: location)
        defer { Task { try? await reopened.close() } }
        #expect(try await reopened.schemaVersion() == SQLStateStore.migrations.count)
        let segment = try #require(try await reopened.segments(job: job).first)
        #expect(segment.firstStepAt == nil && segment.startedAt == Self.at(1_000))
        try await reopened.markFirstStep(job: job, attempt: 1, at: Self.at(1_005))
        #expect(try await reopened.segments(job: job).first?.firstStepAt == Self.at(1_005))
        #expect(try await reopened.modelVersions(model: nil).isEmpty)
        // Version 6: a single node's segment and lease, as before gangs.
        #expect(try await reopened.segments(job: job).first?.nodes == 1)
        let lease = try #require(try await reopened.lease(job: job))
        #expect(lease.members.isEmpty && lease.holders == ["w"])
        #expect(try await reopened.liveLeases(worker: "w").map(\.job) == [job])
    }
}

extension RegistryConformanceTests {
    @Test(arguments: StoreKind.withoutServers)
    func capacityLaunchesAreKeptOnePerJob(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job.id
        let pool = AttemptRecordsConformanceTests.spotPool
        try await store.recordLaunch(
            CapacityLaunchRecord(
                job: job, provider: "sagemaker", handle: "j-a1", workerName: "j-a1", pool: pool, sequence: 1,
                launchedAt: Self.at(1_000)))
        try await store.recordLaunch(
            CapacityLaunchRecord(
                job: job, provider: "sagemaker", handle: "j-a1-l2", workerName: "j-a1-l2", pool: pool, sequence: 2,
                launchedAt: Self.at(1_100)))
        #expect(try await store.launches().map(\.handle) == ["j-a1-l2"])
        let kept = try #require(try await store.launches().first)
        #expect(kept.pool == pool && kept.sequence == 2 && kept.workerName == "j-a1-l2")
        try await store.removeLaunch(job: job)
        #expect(try await store.launches().isEmpty)
        await #expect(throws: StateStoreError.jobNotFound(JobID("nope"))) {
            try await store.recordLaunch(
                CapacityLaunchRecord(
                    job: JobID("nope"), provider: "modal", handle: "fc", workerName: "w", pool: pool, sequence: 1,
                    launchedAt: Self.at(1)))
        }
    }
}

/// The tests above on PostgreSQL, each a test of its own: a run without SPOTWISE_TEST_POSTGRES_URL
/// reports them as skipped (and scripts/test fails on that) instead of passing them.
@Suite(.needsPostgres) struct RegistryConformanceOnPostgres {
    @Test func stepsBeyondTheRestoredCheckpointAreReplacedNotAppended() async throws {
        try await RegistryConformanceTests().stepsBeyondTheRestoredCheckpointAreReplacedNotAppended(kind: .postgres)
    }

    @Test func theFirstStepMarkStays() async throws {
        try await RegistryConformanceTests().theFirstStepMarkStays(kind: .postgres)
    }

    @Test func versionsAreNumberedPerModelAndAJobIsDecidedOnce() async throws {
        try await RegistryConformanceTests().versionsAreNumberedPerModelAndAJobIsDecidedOnce(kind: .postgres)
    }

    @Test func aliasesMoveByCompareAndSwapAndKeepTheirHistory() async throws {
        try await RegistryConformanceTests().aliasesMoveByCompareAndSwapAndKeepTheirHistory(kind: .postgres)
    }

    @Test func aVersionThreeDatabaseUpgradesWithItsSegmentsIntact() async throws {
        try await RegistryConformanceTests().aVersionThreeDatabaseUpgradesWithItsSegmentsIntact(kind: .postgres)
    }

    @Test func capacityLaunchesAreKeptOnePerJob() async throws {
        try await RegistryConformanceTests().capacityLaunchesAreKeptOnePerJob(kind: .postgres)
    }
}
