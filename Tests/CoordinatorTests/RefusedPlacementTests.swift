import Foundation
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

@testable import Coordinator

/// A placement the store refuses concerns its job alone: a lease epoch already granted (by a
/// coordinator since fenced off) is stepped past, never retried for good, and no job's refusal
/// keeps the pass from placing the others.
@Suite struct RefusedPlacementTests {
    static let spec = "name: digits\nrun: python3 train.py\ndeadline: 36h\ncheckpoint: {every_steps: 10}\n"

    @Test(arguments: ["memory", "sqlite"])
    func aJobWhoseLeaseEpochWasTakenIsPlacedPastItAndTheOthersStillAre(backend: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("refused-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store: any StateStore
        if backend == "sqlite" {
            let sqlite = try await SQLStateStore.openSQLite(path: directory.appendingPathComponent("state.db").path)
            try await sqlite.migrate()
            store = sqlite
        } else {
            store = InMemoryStateStore()
        }
        defer { Task { try? await store.close() } }
        let coordinator = TestCoordinator(store: store)
        let (taken, other) = try await coordinator.serve { client in
            _ = try await TestCoordinator.register(client, name: "a")
            _ = try await TestCoordinator.register(client, name: "b")
            return (
                try await TestCoordinator.submit(client, Self.spec),
                try await TestCoordinator.submit(client, Self.spec.replacingOccurrences(of: "digits", with: "other"))
            )
        }
        // Epoch 6 of the first job was granted and revoked by a coordinator since fenced off; the
        // job's record never saw it, so its next placement would ask for epoch 1.
        let stale = Lease(
            job: taken, attempt: 6, epoch: LeaseEpoch(6), workerID: WorkerID("gone"), expiresAtMilliseconds: 0)
        try await store.grantLease(stale)
        try await store.revokeLease(job: taken, epoch: stale.epoch)

        let plan = try await coordinator.schedule()
        #expect(Set(plan.placements.map(\.job)) == [taken, other], "\(backend): both jobs placed in one pass")
        let lease = try #require(try await store.lease(job: taken))
        #expect(lease.epoch == LeaseEpoch(7) && !lease.revoked, "\(backend): the attempt takes the epoch after 6")
        let job = try #require(try await store.job(taken))
        #expect(
            job.state == .provisioning && job.record.liveAttempt?.epoch == LeaseEpoch(7), "\(backend): \(job.state)")
        #expect(
            try await store.history(taken).contains { $0.message.hasPrefix("lease epoch 6 is already in the store") },
            "\(backend): the history says why the epoch skipped")
        #expect(try await store.segments(job: taken).map(\.epoch) == [LeaseEpoch(7)], "\(backend): one ledger row")
        #expect(try await store.lease(job: other)?.epoch == LeaseEpoch(1), "\(backend): the other job as usual")
    }

    @Test func onlyAJobsOwnRefusalLetsThePassGoOn() {
        let job = JobID("j")
        #expect(JobScheduler.refusesOnlyThisJob(StateStoreError.staleEpoch(job, epoch: LeaseEpoch(1), current: nil)))
        #expect(JobScheduler.refusesOnlyThisJob(StateStoreError.versionConflict(job, expected: 1, actual: 2)))
        #expect(JobScheduler.refusesOnlyThisJob(StateStoreError.jobNotFound(job)))
        // A leader fenced off, or the database itself, ends the pass.
        #expect(!JobScheduler.refusesOnlyThisJob(StateStoreError.notLeader(epoch: 3)))
        #expect(!JobScheduler.refusesOnlyThisJob(StateStoreError.cannotOpen("db", reason: "gone")))
        #expect(!JobScheduler.refusesOnlyThisJob(CancellationError()))
    }

    @Test func aJobWhosePlacementIsRefusedWaitsAndThePassPlacesTheOthers() async throws {
        let store = FaultInjectingStore(InMemoryStateStore())
        let coordinator = TestCoordinator(store: store)
        let (refused, other) = try await coordinator.serve { client in
            _ = try await TestCoordinator.register(client, name: "a")
            _ = try await TestCoordinator.register(client, name: "b")
            return (
                try await TestCoordinator.submit(client, Self.spec),
                try await TestCoordinator.submit(client, Self.spec.replacingOccurrences(of: "digits", with: "other"))
            )
        }
        // The refused job comes first in the pass (oldest first).
        store.faults.withLock { $0.refusedPlacements[refused] = .versionConflict(refused, expected: 1, actual: 2) }
        let plan = try await coordinator.schedule()
        #expect(plan.placements.map(\.job) == [other])
        #expect(plan.waiting[refused]?.hasPrefix("not placed this pass: job \(refused) changed underneath") == true)
        #expect(coordinator.board.waiting(refused)?.hasPrefix("not placed this pass") == true)
        #expect(try await store.job(refused)?.state == .queued)
        #expect(try await store.lease(job: refused) == nil)
        #expect(try await store.job(other)?.state == .provisioning)

        // A leader fenced off ends the pass: nothing after it is placed by this leader.
        store.faults.withLock { $0.refusedPlacements[refused] = .notLeader(epoch: 3) }
        await #expect(throws: StateStoreError.notLeader(epoch: 3)) { try await coordinator.schedule() }

        // Once the store takes it, the job is placed on the worker left.
        store.faults.withLock { $0.refusedPlacements = [:] }
        #expect(try await coordinator.schedule().placements.map(\.job) == [refused])
    }
}
