import Foundation
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// One suite, three stores: in-memory, SQLite and PostgreSQL must behave the same.
@Suite struct StateStoreConformanceTests {
    @Test(arguments: StoreKind.withoutServers)
    func submittedJobsAreListedNewestFirstAndFilteredByState(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        for (index, id) in ["a", "b", "c"].enumerated() {
            let (job, created) = try await store.submit(submission(id, at: 1_000 + Double(index)))
            #expect(created && job.version == 1 && job.state == .queued)
        }
        let all = try await store.jobs(state: nil, limit: 10)
        #expect(all.map(\.id.rawValue) == ["c", "b", "a"])
        #expect(try await store.jobs(state: nil, limit: 2).count == 2)
        let stored = try #require(try await store.job(JobID("b")))
        #expect(stored.spec == sampleSpec())
        #expect(stored.submittedAt == Date(timeIntervalSince1970: 1_001))
        #expect(try await store.job(JobID("zzz")) == nil)

        var record = stored.record
        record.state = .failed
        _ = try await store.update(
            JobID("b"), expectedVersion: 1, record: record, events: ["gave up"], at: Date(timeIntervalSince1970: 2_000))
        #expect(try await store.jobs(state: .failed, limit: 10).map(\.id.rawValue) == ["b"])
        #expect(try await store.jobs(state: .queued, limit: 10).map(\.id.rawValue) == ["c", "a"])
        #expect(try await store.countJobsByState() == [.queued: 2, .failed: 1])
    }

    @Test(arguments: StoreKind.withoutServers)
    func anIdempotencyKeyStoresOneJob(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let first = try await store.submit(submission("j1", key: "k-1"))
        let again = try await store.submit(submission("j2", key: "k-1"))
        #expect(first.created && !again.created)
        #expect(again.job.id == JobID("j1"))
        await #expect(throws: StateStoreError.idempotencyKeyReused("k-1", existing: JobID("j1"))) {
            _ = try await store.submit(submission("j3", key: "k-1", spec: sampleSpec("other")))
        }
        #expect(try await store.jobs(state: nil, limit: 10).map(\.id.rawValue) == ["j1"])
    }

    /// A note is history, not a change: the version stays, so a change read before the note still
    /// lands; concurrent notes each keep their place (issue 15, item 4).
    @Test(arguments: StoreKind.withoutServers)
    func aHistoryNoteNeverMakesARealChangeConflict(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job
        try await store.appendHistory(
            job: job.id, lines: ["note one", "note two"], at: Date(timeIntervalSince1970: 1_100))
        let afterNote = try #require(try await store.job(job.id))
        #expect(afterNote.version == 1 && afterNote.updatedAt == job.updatedAt && afterNote.record == job.record)
        let placed = try JobStateMachine.apply(
            .placed(Placement(provider: .local, region: "local", market: .spot)), to: job.record)
        let updated = try await store.update(
            job.id, expectedVersion: 1, record: placed.record, events: ["attempt 1 placed"],
            at: Date(timeIntervalSince1970: 1_200))
        #expect(updated.version == 2)
        try await store.appendHistory(job: job.id, lines: ["note three"], at: Date(timeIntervalSince1970: 1_300))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask {
                    try await store.appendHistory(
                        job: job.id, lines: ["concurrent \(index)"], at: Date(timeIntervalSince1970: 1_400))
                }
            }
            try await group.waitForAll()
        }
        let history = try await store.history(job.id)
        #expect(
            Array(history.map(\.message).prefix(5)) == [
                "submitted", "note one", "note two", "attempt 1 placed", "note three",
            ])
        #expect(Set(history.map(\.message).dropFirst(5)) == Set((0..<8).map { "concurrent \($0)" }))
        #expect(history.map(\.version) == [1, 1, 1] + Array(repeating: 2, count: 10))
        #expect(try await store.job(job.id)?.version == 2)
        await #expect(throws: StateStoreError.jobNotFound(JobID("nope"))) {
            try await store.appendHistory(job: JobID("nope"), lines: ["x"], at: Date())
        }
    }

    @Test(arguments: StoreKind.withoutServers)
    func updatesAreCompareAndSwapAndAStaleOneChangesNothing(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job
        let placement = Placement(provider: .local, region: "local", market: .spot)
        let placed = try JobStateMachine.apply(.placed(placement), to: job.record)
        let updated = try await store.update(
            job.id, expectedVersion: 1, record: placed.record, events: ["attempt 1 placed", "provisioning"],
            at: Date(timeIntervalSince1970: 1_500))
        #expect(updated.version == 2 && updated.state == .provisioning && updated.record == placed.record)

        var stale = job.record
        stale.state = .cancelled
        await #expect(throws: StateStoreError.versionConflict(job.id, expected: 1, actual: 2)) {
            _ = try await store.update(
                job.id, expectedVersion: 1, record: stale, events: ["should not appear"], at: Date())
        }
        let reread = try #require(try await store.job(job.id))
        #expect(reread.version == 2 && reread.record == placed.record)
        let history = try await store.history(job.id)
        #expect(history.map(\.message) == ["submitted", "attempt 1 placed", "provisioning"])
        #expect(history.map(\.version) == [1, 2, 2])
        await #expect(throws: StateStoreError.jobNotFound(JobID("nope"))) {
            _ = try await store.update(JobID("nope"), expectedVersion: 1, record: stale, events: [], at: Date())
        }
    }

    @Test(arguments: StoreKind.withoutServers)
    func concurrentWritersWithTheSameVersionLetExactlyOneThrough(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("race")).job
        let successes = await withTaskGroup(of: Bool.self) { group in
            for writer in 0..<12 {
                group.addTask {
                    var record = job.record
                    record.attemptCount = writer + 1
                    return
                        (try? await store.update(
                            job.id, expectedVersion: 1, record: record, events: ["writer \(writer)"], at: Date()))
                        != nil
                }
            }
            var count = 0
            for await success in group where success { count += 1 }
            return count
        }
        #expect(successes == 1)
        let final = try #require(try await store.job(job.id))
        #expect(final.version == 2)
        let history = try await store.history(job.id)
        #expect(history.count == 2)
        #expect(history.last?.message == "writer \(final.record.attemptCount - 1)")
    }

    /// A heartbeat's renewal: only its holders, its epoch and its attempt renew it, and a refused
    /// one changes nothing.
    @Test(arguments: StoreKind.withoutServers)
    func aHeartbeatRenewsOnlyALeaseItsWorkerHolds(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let single = try await store.submit(submission("single")).job
        let gang = try await store.submit(submission("gang")).job
        try await store.grantLease(
            Lease(job: single.id, attempt: 1, epoch: LeaseEpoch(1), workerID: "w1", expiresAtMilliseconds: 1_000))
        try await store.grantLease(
            Lease(
                job: gang.id, attempt: 2, epoch: LeaseEpoch(3), workerID: "g0", expiresAtMilliseconds: 1_000,
                members: ["g0", "g_1", "g2"]))
        func renew(_ job: JobID, _ epoch: UInt64, _ attempt: Int, _ worker: WorkerID, to expiry: Int64) async throws
            -> Int64?
        {
            try await store.renewLease(
                job: job, epoch: LeaseEpoch(epoch), attempt: attempt, heldBy: worker, expiresAtMilliseconds: expiry
            )?.expiresAtMilliseconds
        }
        #expect(try await renew(single.id, 1, 1, "w1", to: 5_000) == 5_000)
        #expect(try await renew(single.id, 1, 1, "w2", to: 9_000) == nil)  // another worker
        #expect(try await renew(single.id, 2, 1, "w1", to: 9_000) == nil)  // another epoch
        #expect(try await renew(single.id, 1, 2, "w1", to: 9_000) == nil)  // another attempt
        #expect(try await renew(JobID("ghost"), 1, 1, "w1", to: 9_000) == nil)
        #expect(try await store.lease(job: single.id)?.expiresAtMilliseconds == 5_000)
        // Any member of a gang renews its one lease; a name that only looks like one does not.
        #expect(try await renew(gang.id, 3, 2, "g2", to: 7_000) == 7_000)
        #expect(try await renew(gang.id, 3, 2, "g_1", to: 8_000) == 8_000)
        #expect(try await renew(gang.id, 3, 2, "gx1", to: 9_000) == nil)
        #expect(try await renew(gang.id, 3, 2, "g", to: 9_000) == nil)
        try await store.revokeLease(job: gang.id, epoch: LeaseEpoch(3))
        #expect(try await renew(gang.id, 3, 2, "g0", to: 9_000) == nil)
        #expect(try await store.lease(job: gang.id)?.expiresAtMilliseconds == 8_000)
    }

    @Test(arguments: StoreKind.withoutServers)
    func leasesAreFencedByEpoch(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("leased")).job
        try await store.grantLease(
            Lease(job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: "w1", expiresAtMilliseconds: 15_000))
        let renewed = try await store.renewLease(job: job.id, epoch: LeaseEpoch(1), expiresAtMilliseconds: 20_000)
        #expect(renewed.expiresAtMilliseconds == 20_000)
        // A late, older renewal never shortens a lease.
        #expect(
            try await store.renewLease(job: job.id, epoch: LeaseEpoch(1), expiresAtMilliseconds: 18_000)
                .expiresAtMilliseconds == 20_000)
        // The same epoch can never be granted twice.
        await #expect(throws: StateStoreError.staleEpoch(job.id, epoch: LeaseEpoch(1), current: LeaseEpoch(1))) {
            try await store.grantLease(
                Lease(job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: "w9", expiresAtMilliseconds: 99_000))
        }
        try await store.grantLease(
            Lease(job: job.id, attempt: 2, epoch: LeaseEpoch(2), workerID: "w2", expiresAtMilliseconds: 30_000))
        await #expect(throws: StateStoreError.staleEpoch(job.id, epoch: LeaseEpoch(1), current: LeaseEpoch(2))) {
            _ = try await store.renewLease(job: job.id, epoch: LeaseEpoch(1), expiresAtMilliseconds: 50_000)
        }
        #expect(try await store.lease(job: job.id)?.workerID == "w2")
        #expect(try await store.expiredLeases(nowMilliseconds: 29_999).isEmpty)
        #expect(try await store.expiredLeases(nowMilliseconds: 30_000).map(\.epoch) == [LeaseEpoch(2)])
        try await store.revokeLease(job: job.id, epoch: LeaseEpoch(2))
        #expect(try await store.expiredLeases(nowMilliseconds: 99_000).isEmpty)
        await #expect(throws: StateStoreError.staleEpoch(job.id, epoch: LeaseEpoch(2), current: nil)) {
            _ = try await store.renewLease(job: job.id, epoch: LeaseEpoch(2), expiresAtMilliseconds: 60_000)
        }
        await #expect(throws: StateStoreError.jobNotFound(JobID("ghost"))) {
            try await store.grantLease(
                Lease(job: JobID("ghost"), attempt: 1, epoch: LeaseEpoch(1), workerID: nil, expiresAtMilliseconds: 1))
        }
    }

    @Test(arguments: StoreKind.withoutServers)
    func afterARestartLiveLeasesGetAGracePeriod(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        for (index, id) in ["a", "b", "c"].enumerated() {
            let job = try await store.submit(submission(id)).job
            try await store.grantLease(
                Lease(
                    job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: "w",
                    expiresAtMilliseconds: Int64(900_000 * (index + 1))))
        }
        try await store.revokeLease(job: JobID("c"), epoch: LeaseEpoch(1))
        // The old process's clock said 900 s and 1800 s; the new one starts near 0: both get the grace.
        #expect(try await store.resetLiveLeases(expiringAt: 300_000) == 2)
        #expect(try await store.lease(job: JobID("a"))?.expiresAtMilliseconds == 300_000)
        #expect(try await store.lease(job: JobID("b"))?.expiresAtMilliseconds == 300_000)
        #expect(try await store.lease(job: JobID("c"))?.expiresAtMilliseconds == 2_700_000)
        #expect(try await store.expiredLeases(nowMilliseconds: 299_999).isEmpty)
        #expect(try await store.expiredLeases(nowMilliseconds: 300_000).count == 2)
    }

    @Test(arguments: StoreKind.withoutServers)
    func workersAreStoredWithADigestOnly(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let worker = WorkerRecord(
            id: "worker-1", secretDigest: "ab12", name: "node-a", provider: "local",
            registeredAt: Date(timeIntervalSince1970: 1_000))
        try await store.registerWorker(worker)
        #expect(try await store.worker("worker-1") == worker)
        #expect(try await store.worker("worker-2") == nil)
    }

    @Test(arguments: [StoreKind.sqlite])
    func everythingSurvivesAReopenAndMigrationsAreIdempotent(kind: StoreKind) async throws {
        let (store, location) = try await kind.open()
        let job = try await store.submit(submission("durable", key: "k")).job
        var record = job.record
        record.state = .recovering
        _ = try await store.update(
            job.id, expectedVersion: 1, record: record, events: ["preempted"], at: Date(timeIntervalSince1970: 1_234))
        try await store.grantLease(
            Lease(job: job.id, attempt: 1, epoch: LeaseEpoch(3), workerID: "w", expiresAtMilliseconds: 42))
        try await store.close()

        let (reopened, _) = try await kind.open(reopening: location)
        defer { Task { try? await reopened.close() } }
        try await reopened.migrate()
        #expect(try await reopened.schemaVersion() == SQLStateStore.migrations.count)
        let read = try #require(try await reopened.job(job.id))
        #expect(read.version == 2 && read.record == record && read.idempotencyKey == "k")
        #expect(try await reopened.history(job.id).map(\.message) == ["submitted", "preempted"])
        #expect(try await reopened.lease(job: job.id)?.epoch == LeaseEpoch(3))
        #expect(try await reopened.submit(submission("other-id", key: "k")).created == false)
    }

    @Test(arguments: [StoreKind.sqlite])
    func aVersionTwoDatabaseUpgradesWithItsJobsAndWorkersIntact(kind: StoreKind) async throws {
        let (store, location) = try await kind.open(migrated: false)
        let sql = try #require(store as? SQLStateStore)
        try await sql.migrate(upTo: 2)
        #expect(try await sql.schemaVersion() == 2)
        // What a version-2 coordinator wrote, in its own columns.
        _ = try await store.submit(submission("old-job"))
        try await sql.execute(
            "INSERT INTO workers (id, secret_digest, name, provider, registered_at_ms) VALUES ('worker-old', 'ab', 'n', 'local', 5)"
        )
        try await store.close()

        let (reopened, _) = try await kind.open(reopening: location)
        defer { Task { try? await reopened.close() } }
        #expect(try await reopened.schemaVersion() == SQLStateStore.migrations.count)
        #expect(try await reopened.job(JobID("old-job"))?.state == .queued)
        let worker = try #require(try await reopened.worker("worker-old"))
        #expect(worker.pool == nil && worker.deregisteredAt == nil)
        #expect(try await reopened.workers().map(\.id) == ["worker-old"])
        #expect(try await reopened.appendLogs(job: JobID("old-job"), attempt: 1, lines: ["x"], at: Date()) == 1)
    }

    @Test(arguments: [StoreKind.sqlite])
    func aDatabaseFromANewerSpotwiseIsRefused(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let sql = try #require(store as? SQLStateStore)
        let newer = SQLStateStore.migrations.count + 1
        try await sql.execute("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (\(newer), 0)")
        await #expect(throws: StateStoreError.schemaTooNew(found: newer, supported: SQLStateStore.migrations.count)) {
            try await sql.migrate()
        }
    }

    @Test func unusableLocationsSayWhatIsWrongWithoutTheirPassword() async throws {
        do {
            _ = try await SQLStateStore.connectPostgres(url: "postgres://me:hunter2@db host/x")
            Issue.record("a URL with a space connected")
        } catch let error as StateStoreError {
            #expect(error.description.contains("not a PostgreSQL URL"))
            #expect(!error.description.contains("hunter2"))
        }
        do {
            _ = try await SQLStateStore.openSQLite(path: "/nonexistent-\(UUID().uuidString)/state.db")
            Issue.record("opened a database in a directory that does not exist")
        } catch let error as StateStoreError {
            #expect(error.description.contains("does the directory exist"))
        }
        #expect(
            SQLStateStore.redacted("postgres://me:hunter2@127.0.0.1:5432/db") == "postgres://me:***@127.0.0.1:5432/db")
        #expect(SQLStateStore.redacted("sqlite:/tmp/state.db") == "sqlite:/tmp/state.db")
    }
}

/// The tests above on PostgreSQL, each a test of its own: a run without SPOTWISE_TEST_POSTGRES_URL
/// reports them as skipped (and scripts/test fails on that) instead of passing them.
@Suite(.needsPostgres) struct StateStoreConformanceOnPostgres {
    @Test func aHistoryNoteNeverMakesARealChangeConflict() async throws {
        try await StateStoreConformanceTests().aHistoryNoteNeverMakesARealChangeConflict(kind: .postgres)
    }

    @Test func submittedJobsAreListedNewestFirstAndFilteredByState() async throws {
        try await StateStoreConformanceTests().submittedJobsAreListedNewestFirstAndFilteredByState(kind: .postgres)
    }

    @Test func anIdempotencyKeyStoresOneJob() async throws {
        try await StateStoreConformanceTests().anIdempotencyKeyStoresOneJob(kind: .postgres)
    }

    @Test func updatesAreCompareAndSwapAndAStaleOneChangesNothing() async throws {
        try await StateStoreConformanceTests().updatesAreCompareAndSwapAndAStaleOneChangesNothing(kind: .postgres)
    }

    @Test func concurrentWritersWithTheSameVersionLetExactlyOneThrough() async throws {
        try await StateStoreConformanceTests().concurrentWritersWithTheSameVersionLetExactlyOneThrough(kind: .postgres)
    }

    @Test func leasesAreFencedByEpoch() async throws {
        try await StateStoreConformanceTests().leasesAreFencedByEpoch(kind: .postgres)
    }

    @Test func aHeartbeatRenewsOnlyALeaseItsWorkerHolds() async throws {
        try await StateStoreConformanceTests().aHeartbeatRenewsOnlyALeaseItsWorkerHolds(kind: .postgres)
    }

    @Test func afterARestartLiveLeasesGetAGracePeriod() async throws {
        try await StateStoreConformanceTests().afterARestartLiveLeasesGetAGracePeriod(kind: .postgres)
    }

    @Test func workersAreStoredWithADigestOnly() async throws {
        try await StateStoreConformanceTests().workersAreStoredWithADigestOnly(kind: .postgres)
    }

    @Test func everythingSurvivesAReopenAndMigrationsAreIdempotent() async throws {
        try await StateStoreConformanceTests().everythingSurvivesAReopenAndMigrationsAreIdempotent(kind: .postgres)
    }

    @Test func aVersionTwoDatabaseUpgradesWithItsJobsAndWorkersIntact() async throws {
        try await StateStoreConformanceTests().aVersionTwoDatabaseUpgradesWithItsJobsAndWorkersIntact(kind: .postgres)
    }

    @Test func aDatabaseFromANewerSpotwiseIsRefused() async throws {
        try await StateStoreConformanceTests().aDatabaseFromANewerSpotwiseIsRefused(kind: .postgres)
    }
}
