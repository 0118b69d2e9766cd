import Foundation
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// Workers with pools, attempt segments and logs: the same on every store.
@Suite struct AttemptRecordsConformanceTests {
    static let spotPool = WorkerPool(
        region: "local-a", market: .spot, instanceType: "local.t4", pricePerHour: Money(micros: 350_000),
        onDemandPricePerHour: Money(micros: 1_200_000))

    @Test(arguments: StoreKind.withoutServers)
    func workersKeepTheirPoolAndDeregisteredOnesAreNotListed(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        for (index, id) in ([WorkerID](["worker-a", "worker-b"])).enumerated() {
            try await store.registerWorker(
                WorkerRecord(
                    id: id, secretDigest: "d\(index)", name: "node-\(index)", provider: "local",
                    registeredAt: Date(timeIntervalSince1970: 1_000 + Double(index)), pool: Self.spotPool))
        }
        #expect(try await store.workers().map(\.id) == ["worker-a", "worker-b"])
        #expect(try await store.worker("worker-a")?.pool == Self.spotPool)
        try await store.deregisterWorker("worker-a", at: Date(timeIntervalSince1970: 2_000))
        try await store.deregisterWorker("worker-a", at: Date(timeIntervalSince1970: 3_000))
        #expect(try await store.workers().map(\.id) == ["worker-b"])
        #expect(try await store.worker("worker-a")?.deregisteredAt == Date(timeIntervalSince1970: 2_000))
    }

    /// The dashboard's reads: a page of jobs by offset, newest first, and their segments in one read.
    @Test(arguments: StoreKind.withoutServers)
    func aPageOfJobsAndTheirSegmentsInOneRead(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        for index in 0..<5 {
            let submission = submission("j\(index)", at: 1_000 + Double(index))
            _ = try await store.submit(submission)
            for attempt in stride(from: 1, through: index % 3, by: 1) {
                try await store.openSegment(
                    AttemptSegment(
                        job: submission.id, attempt: attempt, epoch: LeaseEpoch(UInt64(attempt)), workerID: "w",
                        provider: "local", pool: Self.spotPool, startedAt: Date(timeIntervalSince1970: 2_000),
                        resumedFromStep: nil))
            }
        }
        #expect(try await store.jobs(state: nil, limit: 2, offset: 1).map(\.id.rawValue) == ["j3", "j2"])
        #expect(try await store.jobs(state: nil, limit: 2, offset: 4).map(\.id.rawValue) == ["j0"])
        #expect(try await store.jobs(state: .queued, limit: 10, offset: 5).isEmpty)
        let found = try await store.segments(jobs: [JobID("j1"), JobID("j2"), JobID("j3"), JobID("nope")])
        #expect(found[JobID("j1")]?.map(\.attempt) == [1])
        #expect(found[JobID("j2")]?.map(\.attempt) == [1, 2])
        #expect(found[JobID("j3")] == nil && found[JobID("nope")] == nil)
        #expect(try await store.segments(jobs: []).isEmpty)
    }

    @Test(arguments: StoreKind.withoutServers)
    func aSegmentOpensOnceAndKeepsItsFirstEnd(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job
        let segment = AttemptSegment(
            job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: "worker-a", provider: "local", pool: Self.spotPool,
            startedAt: Date(timeIntervalSince1970: 1_000), resumedFromStep: nil)
        try await store.openSegment(segment)
        var duplicate = segment
        duplicate.workerID = "worker-z"
        try await store.openSegment(duplicate)
        try await store.closeSegment(
            job: job.id, attempt: 1,
            end: SegmentEnd(
                at: Date(timeIntervalSince1970: 1_600), reason: .preempted(withNotice: true), lastStep: 120,
                committedStep: 100))
        try await store.closeSegment(
            job: job.id, attempt: 1,
            end: SegmentEnd(
                at: Date(timeIntervalSince1970: 9_000), kind: .cancelled, reason: "late", lastStep: 1, committedStep: 1)
        )
        var second = segment
        second.attempt = 2
        second.epoch = LeaseEpoch(2)
        second.startedAt = Date(timeIntervalSince1970: 1_700)
        second.resumedFromStep = 100
        try await store.openSegment(second)

        let stored = try await store.segments(job: job.id)
        #expect(stored.count == 2)
        #expect(stored[0].workerID == "worker-a" && stored[0].pool == Self.spotPool)
        #expect(
            stored[0].endedAt == Date(timeIntervalSince1970: 1_600) && stored[0].endReason == "preempted with notice")
        #expect(stored[0].lastStep == 120 && stored[0].committedStep == 100 && stored[0].resumedFromStep == nil)
        #expect(stored[1].endedAt == nil && stored[1].resumedFromStep == 100)
        #expect(try await store.segments(job: nil).map(\.attempt) == [1, 2])
        await #expect(throws: StateStoreError.jobNotFound(JobID("nope"))) {
            var orphan = segment
            orphan.job = JobID("nope")
            try await store.openSegment(orphan)
        }
    }

    @Test(arguments: StoreKind.withoutServers)
    func logLinesAreNumberedPerJobAndReadAfterASequence(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let a = try await store.submit(submission("a")).job.id
        let b = try await store.submit(submission("b")).job.id
        let at = Date(timeIntervalSince1970: 1_000)
        #expect(try await store.appendLogs(job: a, attempt: 1, lines: ["one", "two"], at: at) == 2)
        #expect(try await store.appendLogs(job: b, attempt: 1, lines: ["other"], at: at) == 1)
        #expect(try await store.appendLogs(job: a, attempt: 2, lines: ["three 'quoted' ünïcode"], at: at) == 3)
        let all = try await store.logs(job: a, after: 0, limit: 100)
        #expect(all.map(\.text) == ["one", "two", "three 'quoted' ünïcode"])
        #expect(all.map(\.attempt) == [1, 1, 2])
        #expect(try await store.logs(job: a, after: 2, limit: 100).map(\.sequence) == [3])
        #expect(try await store.logs(job: a, after: 0, limit: 1).map(\.text) == ["one"])
        // The tail the dashboard shows: the newest lines, oldest of them first.
        #expect(try await store.newestLogs(job: a, limit: 2).map(\.sequence) == [2, 3])
        #expect(try await store.newestLogs(job: a, limit: 10).map(\.text) == all.map(\.text))
        #expect(try await store.newestLogs(job: b, limit: 2).map(\.text) == ["other"])
        await #expect(throws: StateStoreError.jobNotFound(JobID("zzz"))) {
            _ = try await store.logs(job: JobID("zzz"), after: 0, limit: 1)
        }
        await #expect(throws: StateStoreError.jobNotFound(JobID("zzz"))) {
            _ = try await store.newestLogs(job: JobID("zzz"), limit: 1)
        }
    }

    /// A gang's ranks post logs at once (to any replica): every append gets its own sequences.
    @Test(arguments: StoreKind.withoutServers)
    func concurrentLogAppendsNeverShareASequence(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("gang")).job.id
        try await withThrowingTaskGroup(of: Void.self) { group in
            for rank in 0..<8 {
                group.addTask {
                    for line in 0..<5 {
                        _ = try await store.appendLogs(
                            job: job, attempt: 1, lines: ["rank \(rank) line \(line)"], at: Date())
                    }
                }
            }
            try await group.waitForAll()
        }
        let lines = try await store.logs(job: job, after: 0, limit: 100)
        #expect(lines.map(\.sequence) == Array(1...40))
        #expect(Set(lines.map(\.text)).count == 40)
    }

    @Test(arguments: StoreKind.withoutServers)
    func liveLeasesLeaveOutRevokedOnes(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        for id in ["a", "b"] {
            _ = try await store.submit(submission(id))
            try await store.grantLease(
                Lease(job: JobID(id), attempt: 1, epoch: LeaseEpoch(1), workerID: "w-\(id)", expiresAtMilliseconds: 10))
        }
        try await store.revokeLease(job: JobID("a"), epoch: LeaseEpoch(1))
        #expect(try await store.liveLeases().map(\.workerID) == ["w-b"])
        #expect(try await store.liveLeases(worker: "w-b").map(\.job) == [JobID("b")])
        #expect(try await store.liveLeases(worker: "w-a").isEmpty)
    }
}

/// The reconciler's fence: revoke only what is still expired, atomically with renewals.
@Suite struct RevokeIfExpiredConformanceTests {
    @Test(arguments: StoreKind.withoutServers)
    func aRenewalAfterTheExpiredReadKeepsTheLeaseAndOneAfterTheFenceIsRefused(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job.id
        try await store.grantLease(
            Lease(job: job, attempt: 1, epoch: LeaseEpoch(1), workerID: "w", expiresAtMilliseconds: 100))
        #expect(try await store.revokeLeaseIfExpired(job: job, epoch: LeaseEpoch(1), nowMilliseconds: 50) == false)

        // The reconciler reads the lease as expired at 150...
        #expect(try await store.expiredLeases(nowMilliseconds: 150).map(\.job) == [job])
        // ...a heartbeat renews it before the reconciler acts: the lease stays.
        _ = try await store.renewLease(job: job, epoch: LeaseEpoch(1), expiresAtMilliseconds: 300)
        #expect(try await store.revokeLeaseIfExpired(job: job, epoch: LeaseEpoch(1), nowMilliseconds: 150) == false)
        #expect(try await store.lease(job: job)?.revoked == false)

        // Expired for real: fenced once, and a late heartbeat is refused.
        #expect(try await store.revokeLeaseIfExpired(job: job, epoch: LeaseEpoch(1), nowMilliseconds: 300) == true)
        #expect(try await store.revokeLeaseIfExpired(job: job, epoch: LeaseEpoch(1), nowMilliseconds: 400) == false)
        await #expect(throws: StateStoreError.self) {
            _ = try await store.renewLease(job: job, epoch: LeaseEpoch(1), expiresAtMilliseconds: 900)
        }
        #expect(try await store.lease(job: job)?.revoked == true)
        #expect(try await store.liveLeases().isEmpty)
        // A wrong epoch is never fenced.
        #expect(try await store.revokeLeaseIfExpired(job: job, epoch: LeaseEpoch(7), nowMilliseconds: 999) == false)
    }
    @Test(arguments: StoreKind.withoutServers)
    func aGangLeaseIsHeldByEveryMemberAndItsSegmentBillsEveryNode(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("gang")).job.id
        let other = try await store.submit(submission("single")).job.id
        try await store.grantLease(
            Lease(
                job: job, attempt: 1, epoch: LeaseEpoch(1), workerID: "worker-1", expiresAtMilliseconds: 5_000,
                members: ["worker-1", "worker-12", "worker-2"]))
        try await store.grantLease(
            Lease(job: other, attempt: 1, epoch: LeaseEpoch(1), workerID: "worker-3", expiresAtMilliseconds: 5_000))
        let stored = try #require(try await store.lease(job: job))
        #expect(stored.members == ["worker-1", "worker-12", "worker-2"] && stored.rank(of: "worker-2") == 2)
        // A member is found by its whole id, never as a part of another's.
        #expect(try await store.liveLeases(worker: "worker-12").map(\.job) == [job])
        #expect(try await store.liveLeases(worker: "worker-2").map(\.job) == [job])
        #expect(try await store.liveLeases(worker: "worker-3").map(\.job) == [other])
        #expect(try await store.liveLeases(worker: "worker-9").isEmpty)
        let renewed = try await store.renewLease(job: job, epoch: LeaseEpoch(1), expiresAtMilliseconds: 9_000)
        #expect(renewed.members.count == 3)
        try await store.revokeLease(job: job, epoch: LeaseEpoch(1))
        #expect(try await store.liveLeases(worker: "worker-2").isEmpty)

        try await store.openSegment(
            AttemptSegment(
                job: job, attempt: 1, epoch: LeaseEpoch(1), workerID: "worker-1", provider: "local",
                pool: AttemptRecordsConformanceTests.spotPool,
                startedAt: Date(timeIntervalSince1970: 1_000), resumedFromStep: nil, nodes: 3))
        #expect(try await store.segments(job: job).first?.nodes == 3)
        try await store.registerWorker(
            WorkerRecord(
                id: "worker-1", secretDigest: "d", name: "n", provider: "local", registeredAt: Date(),
                pool: AttemptRecordsConformanceTests.spotPool, address: "10.0.0.7"))
        #expect(try await store.worker("worker-1")?.address == "10.0.0.7")
    }
}

/// The tests above on PostgreSQL, each a test of its own: a run without SPOTWISE_TEST_POSTGRES_URL
/// reports them as skipped (and scripts/test fails on that) instead of passing them.
@Suite(.needsPostgres) struct AttemptRecordsConformanceOnPostgres {
    @Test func concurrentLogAppendsNeverShareASequence() async throws {
        try await AttemptRecordsConformanceTests().concurrentLogAppendsNeverShareASequence(kind: .postgres)
    }

    @Test func aPageOfJobsAndTheirSegmentsInOneRead() async throws {
        try await AttemptRecordsConformanceTests().aPageOfJobsAndTheirSegmentsInOneRead(kind: .postgres)
    }

    @Test func workersKeepTheirPoolAndDeregisteredOnesAreNotListed() async throws {
        try await AttemptRecordsConformanceTests().workersKeepTheirPoolAndDeregisteredOnesAreNotListed(kind: .postgres)
    }

    @Test func aSegmentOpensOnceAndKeepsItsFirstEnd() async throws {
        try await AttemptRecordsConformanceTests().aSegmentOpensOnceAndKeepsItsFirstEnd(kind: .postgres)
    }

    @Test func logLinesAreNumberedPerJobAndReadAfterASequence() async throws {
        try await AttemptRecordsConformanceTests().logLinesAreNumberedPerJobAndReadAfterASequence(kind: .postgres)
    }

    @Test func liveLeasesLeaveOutRevokedOnes() async throws {
        try await AttemptRecordsConformanceTests().liveLeasesLeaveOutRevokedOnes(kind: .postgres)
    }

    @Test func aRenewalAfterTheExpiredReadKeepsTheLeaseAndOneAfterTheFenceIsRefused() async throws {
        try await RevokeIfExpiredConformanceTests()
            .aRenewalAfterTheExpiredReadKeepsTheLeaseAndOneAfterTheFenceIsRefused(kind: .postgres)
    }

    @Test func aGangLeaseIsHeldByEveryMemberAndItsSegmentBillsEveryNode() async throws {
        try await RevokeIfExpiredConformanceTests().aGangLeaseIsHeldByEveryMemberAndItsSegmentBillsEveryNode(
            kind: .postgres)
    }
}
