import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// The scheduler places a job on a worker; the worker takes the assignment, commits checkpoints,
/// streams logs and ends the attempt; every write is fenced by the lease epoch. The kit's
/// in-process coordinator, on its manual time.
@Suite struct AttemptLifecycleTests {
    static let admin = TestCoordinator.admin
    static let bootstrap = TestCoordinator.bootstrap
    static let reader = TestCoordinator.reader
    /// The kit's in-process coordinator; its store, clock, board and scheduler by their names here.
    let coordinator = TestCoordinator()
    var store: any StateStore { coordinator.store }
    var clock: ManualTime { coordinator.time }
    var board: LiveBoard { coordinator.board }
    var policy: LeasePolicy { coordinator.policy }
    var scheduler: JobScheduler { coordinator.scheduler }

    func app() -> some ApplicationProtocol { Application(router: coordinator.router) }

    static func bearer(_ token: String) -> HTTPFields { TestCoordinator.bearer(token) }
    static let digest = String(repeating: "ab", count: 32)

    func post(_ client: some TestClientProtocol, _ uri: String, token: String, _ body: String) async throws
        -> TestResponse
    {
        try await TestCoordinator.post(client, uri, token: token, body)
    }

    func register(_ client: some TestClientProtocol, market: String = "spot") async throws -> (WorkerID, String) {
        try await TestCoordinator.register(client, market: market)
    }

    func submit(_ client: some TestClientProtocol) async throws -> String {
        try await TestCoordinator.submit(
            client, "name: digits\nrun: python3 train.py\ndeadline: 36h\ncheckpoint: {every_steps: 10}\n"
        ).rawValue
    }

    func assignment(_ client: some TestClientProtocol, _ worker: WorkerID, _ token: String) async throws
        -> WorkerProtocol.Assignment?
    {
        try await TestCoordinator.assignment(client, worker, token)
    }

    @Test func aJobIsPlacedRunsCheckpointsAndRecoversOnANewEpochFromItsCheckpoint() async throws {
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let id = try await submit(client)
            #expect(try await assignment(client, worker, token) == nil)

            let plan = try await scheduler.scheduleOnce()
            #expect(plan.placements.map(\.worker) == [worker])
            let first = try #require(try await assignment(client, worker, token))
            #expect(first.job == id && first.attempt == 1 && first.resume == nil && first.checkpointEverySteps == 10)

            let beat = #"{"job": "\#(id)", "attempt": 1, "epoch": \#(first.epoch), "step": 12, "total_steps": 100}"#
            #expect(try await post(client, "/v1/workers/\(worker)/heartbeat", token: token, beat).status == .ok)
            let commit = try await post(
                client, "/v1/jobs/\(id)/attempts/1/checkpoints", token: token,
                #"{"epoch": \#(first.epoch), "step": 10, "location": "digits/\#(id)/step-10", "manifest_digest": "\#(Self.digest)"}"#
            )
            #expect(commit.status == .ok)
            // The same commit again (a retry after a lost reply) changes nothing.
            let committed = try #require(try await store.job(JobID(id)))
            let again = try await post(
                client, "/v1/jobs/\(id)/attempts/1/checkpoints", token: token,
                #"{"epoch": \#(first.epoch), "step": 10, "location": "digits/\#(id)/step-10", "manifest_digest": "\#(Self.digest)"}"#
            )
            #expect(again.status == .ok)
            #expect(try await store.job(JobID(id))?.version == committed.version)
            #expect(
                try await store.history(JobID(id)).filter { $0.message.contains("committed checkpoint") }.count
                    == 1)
            let logs = try await post(
                client, "/v1/jobs/\(id)/attempts/1/logs", token: token,
                #"{"epoch": \#(first.epoch), "lines": ["step 10 loss 0.5", "step 12"]}"#)
            #expect(logs.status == .ok)
            let preempted = try await post(
                client, "/v1/jobs/\(id)/attempts/1/finish", token: token,
                #"{"epoch": \#(first.epoch), "outcome": "preempted", "notice": true, "last_step": 12}"#)
            #expect(preempted.status == .ok)
            #expect(try await store.job(JobID(id))?.state == .recovering)
            #expect(try await store.lease(job: JobID(id))?.revoked == true)

            // The old epoch is fenced off everywhere.
            let late = try await post(
                client, "/v1/jobs/\(id)/attempts/1/logs", token: token,
                #"{"epoch": \#(first.epoch), "lines": ["late"]}"#)
            #expect(late.status == .conflict)

            clock.advance(milliseconds: 500)
            try await scheduler.scheduleOnce()
            let second = try #require(try await assignment(client, worker, token))
            #expect(second.attempt == 2 && second.epoch > first.epoch)
            #expect(second.resume?.step == 10 && second.resume?.manifestDigest == Self.digest)
            let stale = try await post(
                client, "/v1/jobs/\(id)/attempts/2/finish", token: token,
                #"{"epoch": \#(first.epoch), "outcome": "completed"}"#)
            #expect(stale.status == .conflict)
            let beat2 = #"{"job": "\#(id)", "attempt": 2, "epoch": \#(second.epoch), "step": 11}"#
            #expect(try await post(client, "/v1/workers/\(worker)/heartbeat", token: token, beat2).status == .ok)
            let done = try await post(
                client, "/v1/jobs/\(id)/attempts/2/finish", token: token,
                #"{"epoch": \#(second.epoch), "outcome": "completed", "metrics": {"auc": 0.97}, "last_step": 100}"#)
            #expect(done.status == .ok)

            let shown = try await client.execute(uri: "/v1/jobs/\(id)", method: .get, headers: Self.bearer(Self.reader))
            let job = try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: shown.body))
            #expect(job.state == "succeeded" && job.metrics == ["auc": 0.97])
            #expect(job.segments?.map(\.endReason) == ["preempted with notice", "completed"])
            #expect(job.segments?.map(\.endKind) == [.preemptedWithNotice, .completed])
            #expect(job.segments?.map(\.resumedFromStep) == [nil, 10])
            #expect(job.segments?.first?.lastStep == 12 && job.segments?.first?.committedStep == 10)
            #expect(job.costUSD != nil && job.history?.contains { $0.message.contains("policy spotwise") } == true)

            let read = try await client.execute(
                uri: "/v1/jobs/\(id)/logs?after=1", method: .get, headers: Self.bearer(Self.reader))
            #expect(String(buffer: read.body).contains(#""text":"step 12""#))
            #expect(!String(buffer: read.body).contains("late"))
        }
    }

    @Test func anotherWorkerCannotWriteAndADeregisteredWorkerLosesItsTokenAndItsAttempt() async throws {
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let (_, otherToken) = try await register(client)
            let id = try await submit(client)
            try await scheduler.scheduleOnce()
            // Both workers are idle and alive; the planner picks one. Find who got it.
            let mine = try await assignment(client, worker, token)
            let holderToken = mine != nil ? token : otherToken
            let intruderToken = mine != nil ? otherToken : token
            let holder = String(holderToken.prefix { $0 != "." })
            let epoch = try #require(try await store.lease(job: JobID(id))?.epoch.value)
            let forged = try await post(
                client, "/v1/jobs/\(id)/attempts/1/finish", token: intruderToken,
                #"{"epoch": \#(epoch), "outcome": "completed"}"#)
            #expect(forged.status == .forbidden)
            let userWrite = try await post(
                client, "/v1/jobs/\(id)/attempts/1/logs", token: Self.admin, #"{"epoch": \#(epoch), "lines": []}"#)
            #expect(userWrite.status == .forbidden)
            let badFinish = try await post(
                client, "/v1/jobs/\(id)/attempts/1/finish", token: holderToken,
                #"{"epoch": \#(epoch), "outcome": "failed"}"#)
            #expect(badFinish.status == .badRequest)

            let gone = try await client.execute(
                uri: "/v1/workers/\(holder)", method: .delete, headers: Self.bearer(holderToken))
            #expect(gone.status == .noContent)
            #expect(try await store.job(JobID(id))?.state == .recovering)
            let after = try await post(client, "/v1/workers/\(holder)/assignment", token: holderToken, "")
            #expect(after.status == .unauthorized)
        }
    }

    @Test func aPlacementWhoseLeaseWasNeverGrantedIsFencedAndPlacedAgain() async throws {
        let job = try await store.submit(
            JobSubmission(id: JobID("j"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        // A coordinator that crashed between placing the job and granting its lease.
        let placed = try JobStateMachine.apply(
            .placed(Placement(provider: .local, region: "local-a", market: .spot)), to: job.record)
        _ = try await store.update(job.id, expectedVersion: 1, record: placed.record, events: [], at: Date())
        try await scheduler.scheduleOnce()
        let after = try #require(try await store.job(job.id))
        #expect(after.state == .recovering && after.record.preemptions == 1)
    }

    @Test func aWorkerNotHeardFromWithinTheLeaseIsNotGivenWork() async throws {
        try await app().test(.router) { client in
            _ = try await register(client)
            _ = try await submit(client)
            clock.advance(milliseconds: policy.leaseMilliseconds + 1)
            let plan = try await scheduler.scheduleOnce()
            #expect(plan.placements.isEmpty)
        }
    }

    /// A trainer that exits before the agent's first heartbeat did run: its finish was refused (409,
    /// "a trainer exit before the attempt started"), the lease expired, and the trainer ran again.
    @Test(arguments: [
        (#""outcome": "failed", "exit_code": 3"#, JobState.recovering),
        (#""outcome": "completed", "metrics": {"auc": 0.9}"#, JobState.succeeded),
    ])
    func aTrainerThatEndsBeforeItsFirstHeartbeatIsRecordedOnce(outcome: String, state: JobState) async throws {
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let id = try await submit(client)
            try await scheduler.scheduleOnce()
            let first = try #require(try await assignment(client, worker, token))
            #expect(try await store.job(JobID(id))?.state == .provisioning)
            let finished = try await post(
                client, "/v1/jobs/\(id)/attempts/1/finish", token: token, #"{"epoch": \#(first.epoch), \#(outcome)}"#)
            #expect(finished.status == .ok, "\(String(buffer: finished.body))")
            let job = try #require(try await store.job(JobID(id)))
            #expect(job.state == state)
            #expect(job.record.liveAttempt == nil)
            #expect(try await store.lease(job: JobID(id))?.revoked == true)
            if state == .recovering { #expect(job.record.failures == 1) }
        }
    }
}

extension AttemptLifecycleTests {
    /// A worker whose lease ran out but was not yet revoked may still be running the attempt (a
    /// late heartbeat renews it), so it is not given a second job until the reconciler revokes
    /// the lease. It was, when it was heard from meanwhile: the pass counted only unexpired leases,
    /// and the late heartbeat left the worker holding two (found by CoordinatorInvariantTests).
    @Test func aWorkerWhoseLeaseRanOutIsNotGivenAnotherJobBeforeTheLeaseIsRevoked() async throws {
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let first = try await submit(client)
            clock.advance(milliseconds: 1)  // submitted later: placed later
            _ = try await submit(client)
            #expect(try await scheduler.scheduleOnce().placements.count == 1)
            let given = try #require(try await assignment(client, worker, token))
            #expect(given.job == first)
            // Past the 3 s lease, before the reconciler's pass, the worker is heard from: still busy.
            clock.advance(milliseconds: 4_000)
            #expect(try await assignment(client, worker, token) == nil)
            #expect(try await scheduler.scheduleOnce().placements.isEmpty)
            let late = #"{"job": "\#(first)", "attempt": 1, "epoch": \#(given.epoch), "step": 5}"#
            #expect(try await post(client, "/v1/workers/\(worker)/heartbeat", token: token, late).status == .ok)
            #expect(try await store.liveLeases(worker: worker).map(\.job.rawValue) == [first])
            #expect(try await scheduler.scheduleOnce().placements.isEmpty)
            // Once the reconciler revokes it (the lease ran out again), the worker takes the next job.
            clock.advance(milliseconds: 4_000)
            #expect(
                try await LeaseReconciler(store: store, clock: clock, board: board).reconcileOnce().map(\.rawValue) == [
                    first
                ])
            #expect(try await assignment(client, worker, token) == nil)
            #expect(try await scheduler.scheduleOnce().placements.map(\.worker) == [worker])
        }
    }
}
