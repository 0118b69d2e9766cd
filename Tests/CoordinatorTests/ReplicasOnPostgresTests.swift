import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Provisioners
import Scheduler
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Synchronization
import Testing

@testable import Coordinator

/// Two coordinator replicas in this process on one PostgreSQL database, each with its own
/// routes, live board, election and passes: a worker that only ever talks to the follower is
/// placed by the leader; the follower's passes do nothing; and after a takeover the deposed
/// leader, still believing it leads, changes nothing while the new leader places the next job.
@Suite(.needsPostgres) struct ReplicasOnPostgresTests {
    struct Replica {
        let name: String
        let store: SQLStateStore
        let board: LiveBoard
        let leaseClock: DatabaseLeaseClock
        let policy: LeasePolicy
        let role: ReplicaRole
        let election: LeaderElectionService
        let sync: BoardSyncService
        let cursor = BoardSyncService.Cursor()
        let pass: JobScheduler
        let leaderOnly: LeaderOnly

        init(
            _ name: String, store: SQLStateStore, local: ManualLeaseClock, policy: LeasePolicy,
            launcher: CapacityLauncher? = nil
        ) {
            self.name = name
            let leaseClock = DatabaseLeaseClock(local: local)
            let board = LiveBoard(sharing: true)
            self.store = store
            self.board = board
            self.leaseClock = leaseClock
            self.policy = policy
            role = ReplicaRole(replica: name, address: "http://\(name)", localClock: local, single: false)
            election = LeaderElectionService(
                store: store, role: role, settings: .init(ttlMilliseconds: 60_000), leaseClock: leaseClock,
                logger: Logger(label: name)
            ) { _, _ in }
            sync = BoardSyncService(board: board, store: store, leaseClock: leaseClock, logger: Logger(label: name))
            pass = JobScheduler(
                store: store, clock: SystemClock(lease: leaseClock), leasePolicy: policy, board: board,
                launcher: launcher)
            leaderOnly = LeaderOnly(role: role, fenced: { store.fenced(by: $0) })
        }

        func router() -> Router<CoordinatorContext> {
            CoordinatorApplication.router(
                store: store,
                tokens: AccessTokens(
                    admin: AttemptLifecycleTests.admin, readOnly: [], bootstrap: AttemptLifecycleTests.bootstrap),
                settings: .init(), role: role, clock: SystemClock(lease: leaseClock), leasePolicy: policy, board: board)
        }

        /// A scheduling pass as the replica's service runs it: nothing unless it leads.
        func schedule() async throws -> PlacementPlan? {
            guard let fenced = leaderOnly.store() else { return nil }
            return try await pass.writing(to: fenced).scheduleOnce()
        }
    }

    @Test func aFollowerServesWorkersTheLeaderPlacesAndADeposedLeaderChangesNothing() async throws {
        try await CoordinatorInvariantTests.Backend.withFreshPostgres(run)
    }

    /// Capacity that counts its launches (every launch stays starting).
    final class CountingCapacity: CapacityProvider {
        let launched = Mutex(0)
        var provider: ProviderName { .sagemaker }
        var offers: [WorkerPool] {
            [
                WorkerPool(
                    region: "us-east-1", market: .spot, instanceType: "ml.g5.xlarge",
                    pricePerHour: Money(micros: 400_000), onDemandPricePerHour: Money(micros: 1_408_000))
            ]
        }
        func launch(_ request: CapacityRequest) async throws -> String {
            let count = launched.withLock { count in
                count += 1
                return count
            }
            return "training-job-\(count)"
        }
        func observe(_ handle: String) async throws -> CapacityState { .starting("Starting") }
        func release(_ handle: String) async throws {}
    }

    /// A deposed leader that still believes it leads launches no capacity: its launch record is
    /// refused before the provider is called. The new leader launches once, and not again.
    @Test func aDeposedLeaderLaunchesNoCapacity() async throws {
        try await CoordinatorInvariantTests.Backend.withFreshPostgres { store in
            let policy = LeasePolicy(
                heartbeatMilliseconds: 1_000, leaseMilliseconds: 60_000, restartGraceMilliseconds: 60_000)
            let capacity = CountingCapacity()
            func launcher() -> CapacityLauncher {
                CapacityLauncher(providers: [capacity], coordinatorURL: "http://c", bootstrapToken: "b")
            }
            let a = Replica("a", store: store, local: ManualLeaseClock(0), policy: policy, launcher: launcher())
            let b = Replica("b", store: store, local: ManualLeaseClock(0), policy: policy, launcher: launcher())
            _ = await a.election.electOnce()
            try await Application(router: a.router()).test(.router) { client in
                let spec = "name: cloud\nrun: python3 t.py\nproviders: [{name: sagemaker}]\nmarket: spot\n"
                let response = try await AttemptLifecycleTests().post(
                    client, "/v1/jobs", token: AttemptLifecycleTests.admin, spec)
                #expect(response.status == .created)
                try await store.execute("UPDATE coordinator_leadership SET expires_at_ms = 0")
                #expect(await b.election.electOnce() == .takeOver(LeadershipFence(holder: "b", epoch: 2)))

                let refused = try #require(try await a.schedule())
                #expect(
                    refused.waiting.values.allSatisfy { $0.hasPrefix("not launched") } && refused.waiting.count == 1)
                let recorded = try await store.launches()
                #expect(capacity.launched.withLock { $0 } == 0 && recorded.isEmpty)

                let launched = try #require(try await b.schedule())
                #expect(launched.waiting.values.first?.hasPrefix("launched sagemaker training-job-1") == true)
                _ = try await b.schedule()
                #expect(capacity.launched.withLock { $0 } == 1)
                #expect(try await store.launches().map(\.handle) == ["training-job-1"])
            }
        }
    }

    func run(_ store: SQLStateStore) async throws {
        let policy = LeasePolicy(
            heartbeatMilliseconds: 1_000, leaseMilliseconds: 60_000, restartGraceMilliseconds: 60_000)
        let aClock = ManualLeaseClock(0)
        let a = Replica("a", store: store, local: aClock, policy: policy)
        let b = Replica("b", store: store, local: ManualLeaseClock(0), policy: policy)
        let lifecycle = AttemptLifecycleTests()
        #expect(await a.election.electOnce() == .takeOver(LeadershipFence(holder: "a", epoch: 1)))
        #expect(await b.election.electOnce() == .none)
        #expect(a.role.acts && !b.role.acts)

        try await Application(router: b.router()).test(.router) { follower in
            let (worker, token) = try await lifecycle.register(follower)
            let job = try await lifecycle.submit(follower)
            #expect(try await lifecycle.assignment(follower, worker, token) == nil)
            let health = try await follower.execute(uri: "/health", method: .get)
            let reply = try JSONDecoder().decode(HealthReply.self, from: Data(buffer: health.body))
            #expect(reply.role == .follower && reply.leader?.replica == "a" && reply.leader?.epoch == 1)

            // The follower's passes do nothing; the leader knows the worker once the boards synced.
            #expect(try await b.schedule() == nil)
            #expect(try await a.schedule()?.placements.isEmpty == true)
            await b.sync.syncOnce(b.cursor)
            await a.sync.syncOnce(a.cursor)
            let placed = try #require(try await a.schedule())
            #expect(placed.placements.map(\.worker) == [worker] && placed.placements.map(\.job.rawValue) == [job])
            let assignment = try #require(try await lifecycle.assignment(follower, worker, token))
            #expect(assignment.job == job && assignment.epoch == 1)

            // a is paused past its claim (the row expires); b takes over. a's own clock has not
            // moved, so it still believes it leads, and its pass runs: every write is refused.
            let (second, secondToken) = try await lifecycle.register(follower)
            let next = try await lifecycle.submit(follower)
            _ = try await lifecycle.assignment(follower, second, secondToken)
            await b.sync.syncOnce(b.cursor)
            await a.sync.syncOnce(a.cursor)
            try await store.execute("UPDATE coordinator_leadership SET expires_at_ms = 0")
            #expect(await b.election.electOnce() == .takeOver(LeadershipFence(holder: "b", epoch: 2)))
            #expect(a.role.acts && b.role.acts)
            await #expect(throws: StateStoreError.notLeader(epoch: 1)) { _ = try await a.schedule() }
            #expect(try await store.job(JobID(next))?.state == .queued)
            #expect(try await store.lease(job: JobID(next)) == nil)

            let replaced = try #require(try await b.schedule())
            #expect(replaced.placements.map(\.worker) == [second])
            #expect(try await store.job(JobID(next))?.state == .provisioning)
            // a learns it lost at its next claim.
            #expect(await a.election.electOnce() == .stepDown && !a.role.acts)
            #expect(try await store.liveLeases().count == 2)
        }
    }
}
