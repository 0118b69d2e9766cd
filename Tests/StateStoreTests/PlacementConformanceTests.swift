import Foundation
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// A placement is one write: the job's compare-and-swap, the attempt's lease and its ledger row
/// are stored together or not at all, so no attempt is ever left without its lease (an orphan
/// the next pass had to end as lost, spending the job's retries).
@Suite struct PlacementConformanceTests {
    static let pool = WorkerPool(
        region: "local-a", market: .spot, instanceType: "local.t4", pricePerHour: Money(micros: 360_000),
        onDemandPricePerHour: Money(micros: 1_200_000))

    func placement(of job: StoredJob) throws -> (record: JobRecord, lease: Lease, segment: AttemptSegment) {
        let transition = try JobStateMachine.apply(
            .placed(Placement(provider: .local, region: "local-a", market: .spot)), to: job.record)
        let live = try #require(transition.record.liveAttempt)
        return (
            transition.record,
            Lease(
                job: job.id, attempt: live.number, epoch: live.epoch, workerID: "worker-a",
                expiresAtMilliseconds: 60_000),
            AttemptSegment(
                job: job.id, attempt: live.number, epoch: live.epoch, workerID: "worker-a", provider: "local",
                pool: Self.pool, startedAt: Date(timeIntervalSince1970: 2_000), resumedFromStep: nil)
        )
    }

    @Test(arguments: StoreKind.withoutServers)
    func aPlacementWritesTheJobItsLeaseAndItsLedgerRowTogether(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job
        let placing = try placement(of: job)
        let placed = try await store.place(
            job.id, expectedVersion: job.version, record: placing.record, events: ["placed on worker-a"],
            lease: placing.lease, segment: placing.segment, at: Date(timeIntervalSince1970: 2_000))
        #expect(placed.version == 2 && placed.state == .provisioning)
        #expect(try await store.lease(job: job.id) == placing.lease)
        #expect(try await store.segments(job: job.id).map(\.attempt) == [placing.lease.attempt])
        #expect(try await store.history(job.id).map(\.message).last == "placed on worker-a")
    }

    @Test(arguments: StoreKind.withoutServers)
    func aRefusedLeaseOrAStaleVersionWritesNothing(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job
        let placing = try placement(of: job)
        let historyBefore = try await store.history(job.id)
        // A lease of this epoch was granted before (by a coordinator since fenced off): refused,
        // and the job's change with it.
        var newer = placing.lease
        newer.epoch = LeaseEpoch(placing.lease.epoch.value + 5)
        try await store.grantLease(newer)
        await #expect(throws: StateStoreError.self) {
            _ = try await store.place(
                job.id, expectedVersion: job.version, record: placing.record, events: ["placed"],
                lease: placing.lease, segment: placing.segment, at: Date(timeIntervalSince1970: 2_000))
        }
        #expect(try await store.job(job.id)?.version == job.version)
        #expect(try await store.job(job.id)?.state == .queued)
        #expect(try await store.segments(job: job.id).isEmpty)
        #expect(try await store.history(job.id) == historyBefore)
        #expect(try await store.lease(job: job.id)?.epoch == newer.epoch)

        // A stale version: no lease granted, no ledger row.
        let other = try await store.submit(submission("k")).job
        let otherPlacing = try placement(of: other)
        await #expect(throws: StateStoreError.versionConflict(other.id, expected: 7, actual: other.version)) {
            _ = try await store.place(
                other.id, expectedVersion: 7, record: otherPlacing.record, events: ["placed"],
                lease: otherPlacing.lease, segment: otherPlacing.segment, at: Date(timeIntervalSince1970: 2_000))
        }
        #expect(try await store.lease(job: other.id) == nil)
        #expect(try await store.segments(job: other.id).isEmpty)
    }
}

@Suite(.needsPostgres) struct PlacementConformanceOnPostgres {
    @Test func aPlacementWritesTheJobItsLeaseAndItsLedgerRowTogether() async throws {
        try await PlacementConformanceTests().aPlacementWritesTheJobItsLeaseAndItsLedgerRowTogether(kind: .postgres)
    }

    @Test func aRefusedLeaseOrAStaleVersionWritesNothing() async throws {
        try await PlacementConformanceTests().aRefusedLeaseOrAStaleVersionWritesNothing(kind: .postgres)
    }
}
