import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// Registration, heartbeats, fencing and lease expiry with a manual clock: no sleeps.
@Suite struct WorkerLeaseTests {
    static let admin = "admin-secret"
    static let bootstrap = "bootstrap-secret"
    let store = InMemoryStateStore()
    let clock = ManualLeaseClock(1_000)
    let policy = LeasePolicy(heartbeatMilliseconds: 5_000, leaseMilliseconds: 15_000, restartGraceMilliseconds: 300_000)

    func app() -> some ApplicationProtocol {
        Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: Self.admin, readOnly: ["reader"], bootstrap: Self.bootstrap),
                settings: .init(), clock: SystemClock(lease: clock), leasePolicy: policy))
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    /// Registers a worker and returns (id, token).
    func registerWorker(_ client: some TestClientProtocol, name: String = "node-a") async throws -> (String, String) {
        let response = try await client.execute(
            uri: "/v1/workers", method: .post, headers: Self.bearer(Self.bootstrap),
            body: ByteBuffer(string: #"{"name": "\#(name)", "provider": "local"}"#))
        #expect(response.status == .created)
        let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
        return (object["worker_id"] as! String, object["token"] as! String)
    }

    /// What the scheduler will do: place the job and lease attempt 1 to the worker.
    func place(_ job: JobID, on worker: String) async throws -> LeaseEpoch {
        let stored = try #require(try await store.job(job))
        let transition = try JobStateMachine.apply(
            .placed(Placement(provider: .local, region: "local", market: .spot)), to: stored.record)
        _ = try await store.update(
            job, expectedVersion: stored.version, record: transition.record, events: ["placed"], at: Date())
        let live = try #require(transition.record.liveAttempt)
        try await store.grantLease(
            Lease(
                job: job, attempt: live.number, epoch: live.epoch, workerID: WorkerID(worker),
                expiresAtMilliseconds: clock.nowMilliseconds() + policy.leaseMilliseconds))
        return live.epoch
    }

    func heartbeat(
        _ client: some TestClientProtocol, worker: String, token: String, job: JobID, attempt: Int, epoch: UInt64,
        notice: String? = nil
    )
        async throws -> TestResponse
    {
        let noticeField = notice.map { #", "notice": "\#($0)""# } ?? ""
        return try await client.execute(
            uri: "/v1/workers/\(worker)/heartbeat", method: .post, headers: Self.bearer(token),
            body: ByteBuffer(
                string:
                    #"{"job": "\#(job.rawValue)", "attempt": \#(attempt), "epoch": \#(epoch), "step": 10, "committed_step": 5\#(noticeField)}"#
            ))
    }

    static func reply(_ response: TestResponse) throws -> WorkersAPI.HeartbeatReply {
        try JSONDecoder().decode(WorkersAPI.HeartbeatReply.self, from: Data(buffer: response.body))
    }

    @Test func registrationNeedsTheBootstrapToken() async throws {
        try await app().test(.router) { client in
            let body = ByteBuffer(string: #"{"name": "n", "provider": "local"}"#)
            #expect(try await client.execute(uri: "/v1/workers", method: .post, body: body).status == .unauthorized)
            #expect(
                try await client.execute(uri: "/v1/workers", method: .post, headers: Self.bearer("reader"), body: body)
                    .status == .forbidden)
            let unknownField = try await client.execute(
                uri: "/v1/workers", method: .post, headers: Self.bearer(Self.bootstrap),
                body: ByteBuffer(string: #"{"name": "n", "provider": "local", "gpu": 8}"#))
            #expect(unknownField.status == .badRequest)
            #expect(String(buffer: unknownField.body).contains("unknown field(s) gpu"))
            let (id, token) = try await registerWorker(client)
            #expect(id.hasPrefix("worker-") && token.hasPrefix(id + "."))
            // A worker token is not a user token: it cannot list jobs as admin would.
            #expect(
                try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.bearer(token), body: body).status
                    == .forbidden)
        }
    }

    @Test func heartbeatsRenewTheLeaseStartTheAttemptAndCarryCommands() async throws {
        let job = try await store.submit(
            JobSubmission(id: JobID("j1"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        try await app().test(.router) { client in
            let (worker, token) = try await registerWorker(client)
            let epoch = try await place(job.id, on: worker)
            clock.advance(milliseconds: 4_000)
            let first = try await heartbeat(
                client, worker: worker, token: token, job: job.id, attempt: 1, epoch: epoch.value)
            #expect(first.status == .ok)
            #expect(
                try Self.reply(first)
                    == WorkersAPI.HeartbeatReply(command: .continue, leaseExpiresInMilliseconds: 15_000))
            #expect(try await store.job(job.id)?.state == .running)
            #expect(try await store.lease(job: job.id)?.expiresAtMilliseconds == 20_000)

            let noticed = try await heartbeat(
                client, worker: worker, token: token, job: job.id, attempt: 1, epoch: epoch.value,
                notice: "spot-interruption")
            #expect(try Self.reply(noticed).command == .checkpointNow)

            _ = try await client.execute(uri: "/v1/jobs/j1/cancel", method: .post, headers: Self.bearer(Self.admin))
            // Cancelling fences the attempt: its next heartbeat is refused and told to stop.
            let afterCancel = try await heartbeat(
                client, worker: worker, token: token, job: job.id, attempt: 1, epoch: epoch.value)
            #expect(afterCancel.status == .conflict)
            #expect(String(buffer: afterCancel.body).contains("stop the trainer"))
            #expect(try await store.lease(job: job.id)?.revoked == true)
        }
    }

    @Test func staleEpochsAndOtherWorkersAreRefusedAndChangeNothing() async throws {
        let job = try await store.submit(
            JobSubmission(id: JobID("j2"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        try await app().test(.router) { client in
            let (worker, token) = try await registerWorker(client)
            let (other, otherToken) = try await registerWorker(client, name: "node-b")
            let epoch = try await place(job.id, on: worker)
            let before = try await store.job(job.id)
            let leaseBefore = try await store.lease(job: job.id)

            let stale = try await heartbeat(
                client, worker: worker, token: token, job: job.id, attempt: 1, epoch: epoch.value - 1)
            #expect(stale.status == .conflict)
            #expect(String(buffer: stale.body).contains("stale_epoch"))
            let impostor = try await heartbeat(
                client, worker: other, token: otherToken, job: job.id, attempt: 1, epoch: epoch.value)
            #expect(impostor.status == .forbidden)
            let asSomeoneElse = try await heartbeat(
                client, worker: worker, token: otherToken, job: job.id, attempt: 1, epoch: epoch.value)
            #expect(asSomeoneElse.status == .forbidden)
            let malformed = try await client.execute(
                uri: "/v1/workers/\(worker)/heartbeat", method: .post, headers: Self.bearer(token),
                body: ByteBuffer(string: "{\"job\": 5"))
            #expect(malformed.status == .badRequest)
            let missing = try await client.execute(
                uri: "/v1/workers/\(worker)/heartbeat", method: .post, headers: Self.bearer(token),
                body: ByteBuffer(string: #"{"job": "j2"}"#))
            #expect(String(buffer: missing.body).contains("missing field 'attempt'"))

            #expect(try await store.job(job.id) == before)
            #expect(try await store.lease(job: job.id) == leaseBefore)
        }
    }

    @Test func anExpiredLeaseEndsTheAttemptAsLostAndFencesTheOldWorker() async throws {
        let job = try await store.submit(
            JobSubmission(id: JobID("j3"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        let reconciler = LeaseReconciler(store: store, clock: SystemClock(lease: clock))
        try await app().test(.router) { client in
            let (worker, token) = try await registerWorker(client)
            let epoch = try await place(job.id, on: worker)
            _ = try await heartbeat(client, worker: worker, token: token, job: job.id, attempt: 1, epoch: epoch.value)
            clock.advance(milliseconds: 14_999)
            #expect(try await reconciler.reconcileOnce().isEmpty)
            clock.advance(milliseconds: 1)
            #expect(try await reconciler.reconcileOnce() == [job.id])
            let lost = try #require(try await store.job(job.id))
            #expect(lost.state == .recovering && lost.record.preemptions == 1 && lost.record.liveAttempt == nil)
            #expect(
                try await store.history(job.id).last?.message == "attempt 1 lost (heartbeat lease expired); recovering")
            // The old worker comes back: refused, and told to stop.
            let late = try await heartbeat(
                client, worker: worker, token: token, job: job.id, attempt: 1, epoch: epoch.value)
            #expect(late.status == .conflict)
            #expect(try await reconciler.reconcileOnce().isEmpty)
        }
    }

    @Test func afterARestartLeasesGetTheGracePeriodNotAMassExpiry() async throws {
        let job = try await store.submit(
            JobSubmission(id: JobID("j4"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        _ = try await place(job.id, on: "worker-x")
        // The new process's clock: far past the old lease's expiry would be a mass expiry.
        let restarted = ManualLeaseClock(0)
        let reconciler = LeaseReconciler(store: store, clock: SystemClock(lease: restarted))
        #expect(try await reconciler.resumeAfterRestart(policy: policy) == 1)
        restarted.advance(milliseconds: 299_999)
        #expect(try await reconciler.reconcileOnce().isEmpty)
        restarted.advance(milliseconds: 1)
        #expect(try await reconciler.reconcileOnce() == [job.id])
    }

    /// The grace is given while the application is built, before any heartbeat can be served: a
    /// heartbeat answered first would be told an expiry from the old process's clock.
    @Test func theApplicationGivesTheRestartGraceBeforeItServes() async throws {
        let job = try await store.submit(
            JobSubmission(id: JobID("j5"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        _ = try await place(job.id, on: "worker-x")  // expires at 16,000 on the old clock
        let restarted = ManualLeaseClock(500)
        _ = try await CoordinatorApplication.application(
            store: store, tokens: AccessTokens(admin: Self.admin), settings: .init(port: 0),
            clock: SystemClock(lease: restarted),
            leasePolicy: policy, logger: Logger(label: "test"))
        #expect(try await store.lease(job: job.id)?.expiresAtMilliseconds == 500 + policy.restartGraceMilliseconds)
    }
}
