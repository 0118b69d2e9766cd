import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// Hostile bodies (issue 14, item 5): every refusal is JSON `{"error": {"code", "message"}}` that
/// says what was wrong, sizes and depths are refused before decoding, and values no attempt can
/// have are 400s that change nothing.
@Suite struct ErrorBodyTests {
    let store = InMemoryStateStore()
    let clock = ManualLeaseClock(1_000)

    func app() -> some ApplicationProtocol {
        Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: "admin", bootstrap: "boot"), settings: .init(),
                clock: SystemClock(lease: clock)))
    }

    /// The error's code and message; fails the test if the body is not the documented shape.
    static func error(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> (
        code: String, message: String
    ) {
        #expect(
            response.headers[.contentType]?.hasPrefix("application/json") == true,
            "content type \(response.headers[.contentType] ?? "none")", sourceLocation: sourceLocation)
        let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
        let error = try #require(object?["error"] as? [String: Any], sourceLocation: sourceLocation)
        return (
            try #require(error["code"] as? String, sourceLocation: sourceLocation),
            try #require(error["message"] as? String, sourceLocation: sourceLocation)
        )
    }

    /// A registered worker holding attempt 1 (epoch 1) of job `j`, in the running state.
    func leasedWorker(_ client: some TestClientProtocol) async throws -> WorkerProtocol.Registered {
        let job = try await store.submit(
            JobSubmission(id: JobID("j"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        let registered = try await client.execute(
            uri: "/v1/workers", method: .post, headers: [.authorization: "Bearer boot"],
            body: ByteBuffer(string: #"{"name": "n", "provider": "local"}"#))
        let worker = try JSONDecoder().decode(WorkerProtocol.Registered.self, from: Data(buffer: registered.body))
        let placed = try JobStateMachine.apply(
            .placed(Placement(provider: .local, region: "local", market: .spot)), to: job.record)
        _ = try await store.update(job.id, expectedVersion: 1, record: placed.record, events: [], at: Date())
        try await store.grantLease(
            Lease(
                job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: worker.workerID, expiresAtMilliseconds: 5_000))
        return worker
    }

    // MARK: Sizes

    /// Route, who sends, and the route's limit in bytes.
    static let limitedRoutes: [(route: String, path: String, token: String, limit: Int)] = [
        ("POST /v1/workers", "/v1/workers", "boot", 64 * 1024),
        ("POST /v1/workers/{id}/heartbeat", "/v1/workers/WORKER/heartbeat", "WORKER", 64 * 1024),
        ("POST /v1/jobs/{id}/attempts/{attempt}/logs", "/v1/jobs/j/attempts/1/logs", "WORKER", 4 << 20),
        ("POST /v1/models/{name}/aliases/{alias}", "/v1/models/m/aliases/production", "admin", 4_096),
        ("POST /v1/jobs", "/v1/jobs", "admin", InputLimits.maxSpecBytes),
    ]

    @Test(arguments: limitedRoutes.indices)
    func aBodyOverItsLimitIs413JSONNamingTheRouteAndTheLimit(index: Int) async throws {
        let (route, path, token, limit) = Self.limitedRoutes[index]
        try await app().test(.router) { client in
            let worker = try await leasedWorker(client)
            let before = try await store.job(JobID("j"))
            // A JSON string one byte past the limit: only its size is wrong.
            let body = "\"" + String(repeating: "x", count: limit - 1) + "\""
            let response = try await client.execute(
                uri: path.replacingOccurrences(of: "WORKER", with: worker.workerID.rawValue), method: .post,
                headers: [.authorization: "Bearer \(token == "WORKER" ? worker.token : token)"],
                body: ByteBuffer(string: body))
            #expect(response.status == .contentTooLarge)
            let error = try Self.error(response)
            #expect(error.code == "body_too_large")
            #expect(error.message.contains(route), "\(error.message)")
            #expect(error.message.contains("\(limit)-byte limit"), "\(error.message)")
            #expect(try await store.job(JobID("j")) == before)
            #expect(try await store.workers().count == 1)
        }
    }

    // MARK: Depth

    /// A JSON spec whose hyperparameters nest `levels` objects deep (the spec itself is one more).
    static func deepSpec(levels: Int) -> String {
        #"{"name": "deep", "run": "python3 train.py", "hyperparameters": "#
            + String(repeating: #"{"a": "#, count: levels) + "1" + String(repeating: "}", count: levels) + "}"
    }

    @Test(arguments: [600, 990, InputLimits.maxNestingDepth])
    func aSpecNestedTooDeeplyIs400JSONAndNothingIsStored(levels: Int) async throws {
        try await app().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: [.authorization: "Bearer admin"],
                body: ByteBuffer(string: Self.deepSpec(levels: levels)))
            #expect(response.status == .badRequest)
            let error = try Self.error(response)
            #expect(error.code == "invalid_spec")
            #expect(
                error.message.contains(
                    "nested too deeply; found more than \(InputLimits.maxNestingDepth) levels; allowed: at most \(InputLimits.maxNestingDepth) levels"
                ), "\(error.message.prefix(300))")
        }
        #expect(try await store.jobs(state: nil, limit: 10).isEmpty)
    }

    @Test func aSpecAtTheDepthLimitIsAccepted() async throws {
        try await app().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: [.authorization: "Bearer admin"],
                body: ByteBuffer(string: Self.deepSpec(levels: InputLimits.maxNestingDepth - 1)))
            #expect(response.status == .created, "\(String(buffer: response.body).prefix(300))")
        }
    }

    @Test func deeplyNestedWorkerBodiesAre400BeforeDecoding() async throws {
        try await app().test(.router) { client in
            let worker = try await leasedWorker(client)
            let auth: HTTPFields = [.authorization: "Bearer \(worker.token)"]
            let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
            let bodies: [(String, String)] = [
                (
                    "/v1/workers/\(worker.workerID)/heartbeat",
                    #"{"job": "j", "attempt": 1, "epoch": 1, "notice": \#(deep)}"#
                ),
                // Unclosed, 60,000 deep: refused at level 65, not handed to a decoder.
                ("/v1/workers/\(worker.workerID)/heartbeat", String(repeating: "[", count: 60_000)),
                ("/v1/jobs/j/attempts/1/logs", #"{"epoch": 1, "lines": \#(deep)}"#),
                ("/v1/jobs/j/attempts/1/finish", #"{"epoch": 1, "outcome": "completed", "metrics": \#(deep)}"#),
            ]
            for (path, body) in bodies {
                let response = try await client.execute(
                    uri: path, method: .post, headers: auth, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(path)")
                let error = try Self.error(response)
                #expect(error.code == "nested_too_deeply", "\(path): \(error)")
                #expect(error.message.contains("more than \(InputLimits.maxNestingDepth) levels"), "\(error.message)")
            }
            let alias = try await client.execute(
                uri: "/v1/models/m/aliases/production", method: .post, headers: [.authorization: "Bearer admin"],
                body: ByteBuffer(string: #"{"version": \#(deep)}"#))
            #expect(alias.status == .badRequest)
            #expect(try Self.error(alias).code == "nested_too_deeply")
            #expect(try await store.lease(job: JobID("j"))?.expiresAtMilliseconds == 5_000)
            #expect(try await store.logs(job: JobID("j"), after: 0, limit: 10).isEmpty)
        }
    }

    // MARK: Values

    static let impossibleHeartbeats: [(body: String, says: String)] = [
        (#"{"job": "j", "attempt": 1, "epoch": 1, "step": -5}"#, "step must be a whole number >= 0, not -5"),
        (
            #"{"job": "j", "attempt": 1, "epoch": 1, "total_steps": -1}"#,
            "total_steps must be a whole number >= 0, not -1"
        ),
        (
            #"{"job": "j", "attempt": 1, "epoch": 1, "committed_step": -100}"#,
            "committed_step must be a whole number >= 0, not -100"
        ),
        (#"{"job": "j", "attempt": 0, "epoch": 1}"#, "attempt must be a whole number from 1, not 0"),
        (#"{"job": "", "attempt": 1, "epoch": 1}"#, "job must be a job id of 1-100 characters"),
        (#"{"job": "j", "attempt": 1, "epoch": 1, "notice": ""}"#, "notice must be 1-40 characters"),
        (
            #"{"job": "j", "attempt": 1, "epoch": 1, "step": -1, "total_steps": -2}"#,
            "step must be a whole number >= 0, not -1; total_steps must be a whole number >= 0, not -2"
        ),
    ]

    @Test(arguments: impossibleHeartbeats.indices)
    func aHeartbeatWithImpossibleValuesIs400AndRenewsNothing(index: Int) async throws {
        let (body, says) = Self.impossibleHeartbeats[index]
        try await app().test(.router) { client in
            let worker = try await leasedWorker(client)
            clock.advance(milliseconds: 1_000)
            let response = try await client.execute(
                uri: "/v1/workers/\(worker.workerID)/heartbeat", method: .post,
                headers: [.authorization: "Bearer \(worker.token)"], body: ByteBuffer(string: body))
            #expect(response.status == .badRequest)
            let error = try Self.error(response)
            #expect(error.code == "invalid_heartbeat")
            #expect(error.message.contains(says), "\(error.message)")
            #expect(try await store.lease(job: JobID("j"))?.expiresAtMilliseconds == 5_000)
            #expect(try await store.job(JobID("j"))?.state == .provisioning)
        }
    }

    @Test func aFinishWithNegativeStepsIs400AndEndsNothing() async throws {
        try await app().test(.router) { client in
            let worker = try await leasedWorker(client)
            let before = try await store.job(JobID("j"))
            let response = try await client.execute(
                uri: "/v1/jobs/j/attempts/1/finish", method: .post, headers: [.authorization: "Bearer \(worker.token)"],
                body: ByteBuffer(
                    string: #"{"epoch": 1, "outcome": "preempted", "last_step": -7, "committed_step": -1}"#))
            #expect(response.status == .badRequest)
            let error = try Self.error(response)
            #expect(error.code == "invalid_finish")
            #expect(
                error.message
                    == "last_step must be a whole number >= 0, not -7; committed_step must be a whole number >= 0, not -1"
            )
            #expect(try await store.job(JobID("j")) == before)
        }
    }

    // MARK: Errors that are not the API's own

    @Test func anUnknownRouteIs404JSON() async throws {
        try await app().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/nothing/here", method: .get, headers: [.authorization: "Bearer admin"])
            #expect(response.status == .notFound)
            let error = try Self.error(response)
            #expect(error.code == "not_found")
            #expect(error.message.contains("/v1/nothing/here"))
        }
    }

    struct StoreOutage: Error, CustomStringConvertible {
        var description: String { "connection to postgres://spotwise:hunter2@db failed" }
    }

    @Test func anErrorThatIsNotTheAPIsIs500JSONWithoutItsDetail() async throws {
        let router = CoordinatorApplication.router(
            store: store, tokens: AccessTokens(admin: "admin", bootstrap: "boot"), settings: .init(),
            clock: SystemClock(lease: clock))
        // A route that fails as a store might; it gets the application's middleware like any other.
        router.get("v1/outage/:id") { _, _ -> Response in throw StoreOutage() }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/outage/7", method: .get, headers: [.authorization: "Bearer admin"])
            #expect(response.status == .internalServerError)
            let error = try Self.error(response)
            #expect(error.code == "internal_error")
            #expect(error.message.contains("GET /v1/outage/{id}") && error.message.contains("StoreOutage"))
            #expect(!error.message.contains("hunter2"), "the detail stays in the log")
        }
    }
}
