import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// Every route against every kind of credential (issue 14, item 3): the bootstrap token only
/// registers a worker; a worker token reaches only its own worker routes and the attempts leased
/// to it; read-only tokens read; admin does everything but a worker's own writes. Each case runs
/// in a world of its own: two registered workers, A holding job J's attempt 1 and B idle.
@Suite struct TokenScopeTests {
    enum Credential: String, CaseIterable, CustomStringConvertible {
        case missing, wrong, admin, reader, bootstrap, workerA, workerB
        var description: String { rawValue }
    }

    struct Case: CustomStringConvertible, Sendable {
        var route: String
        var uri: String
        var body: String?
        /// Who gets through (any status but 401 and 403); everyone else gets 401 or 403.
        var allowed: Set<String>
        var description: String { "\(route) (\(uri))" }
    }

    static let spec = "name: j\nrun: python3 train.py\n"
    static let heartbeat = #"{"job": "{J}", "attempt": 1, "epoch": {E}}"#

    /// `{A}`, `{B}`: the workers' ids; `{J}`: the job leased to A; `{E}`: its epoch.
    static let cases: [Case] = [
        Case(route: "GET /health", uri: "/health", allowed: Set(Credential.allCases.map(\.rawValue))),
        Case(route: "GET /metrics", uri: "/metrics", allowed: ["admin", "reader"]),
        Case(route: "POST /v1/jobs", uri: "/v1/jobs", body: spec, allowed: ["admin"]),
        Case(route: "GET /v1/jobs", uri: "/v1/jobs", allowed: ["admin", "reader"]),
        Case(route: "GET /v1/jobs/{id}", uri: "/v1/jobs/{J}", allowed: ["admin", "reader"]),
        Case(route: "POST /v1/jobs/{id}/cancel", uri: "/v1/jobs/{J}/cancel", allowed: ["admin"]),
        Case(route: "GET /v1/jobs/{id}/logs", uri: "/v1/jobs/{J}/logs", allowed: ["admin", "reader"]),
        Case(route: "GET /v1/jobs/{id}/metrics", uri: "/v1/jobs/{J}/metrics", allowed: ["admin", "reader"]),
        Case(
            route: "POST /v1/workers", uri: "/v1/workers", body: #"{"name": "n", "provider": "local"}"#,
            allowed: ["admin", "bootstrap"]),
        Case(
            route: "POST /v1/workers/{id}/heartbeat", uri: "/v1/workers/{A}/heartbeat", body: heartbeat,
            allowed: ["workerA"]),
        // B heartbeats as itself, for the job leased to A.
        Case(route: "POST /v1/workers/{id}/heartbeat", uri: "/v1/workers/{B}/heartbeat", body: heartbeat, allowed: []),
        Case(route: "POST /v1/workers/{id}/assignment", uri: "/v1/workers/{A}/assignment", allowed: ["workerA"]),
        Case(route: "DELETE /v1/workers/{id}", uri: "/v1/workers/{A}", allowed: ["workerA", "admin"]),
        Case(
            route: "POST /v1/jobs/{id}/attempts/{attempt}/checkpoints", uri: "/v1/jobs/{J}/attempts/1/checkpoints",
            body:
                #"{"epoch": {E}, "step": 10, "location": "file:///c/step-10", "manifest_digest": "\#(String(repeating: "ab", count: 32))"}"#,
            allowed: ["workerA"]),
        Case(
            route: "POST /v1/jobs/{id}/attempts/{attempt}/finish", uri: "/v1/jobs/{J}/attempts/1/finish",
            body: #"{"epoch": {E}, "outcome": "failed", "exit_code": 1}"#, allowed: ["workerA"]),
        Case(
            route: "POST /v1/jobs/{id}/attempts/{attempt}/logs", uri: "/v1/jobs/{J}/attempts/1/logs",
            body: #"{"epoch": {E}, "lines": ["hello"]}"#, allowed: ["workerA"]),
        Case(
            route: "POST /v1/jobs/{id}/attempts/{attempt}/metrics", uri: "/v1/jobs/{J}/attempts/1/metrics",
            body: #"{"epoch": {E}, "resumed_from_step": 0, "lines": [{"step": 1, "metrics": {"loss": 1}}]}"#,
            allowed: ["workerA"]),
        Case(route: "GET /v1/models", uri: "/v1/models", allowed: ["admin", "reader"]),
        Case(route: "GET /v1/models/{name}", uri: "/v1/models/m", allowed: ["admin", "reader"]),
        Case(
            route: "POST /v1/models/{name}/aliases/{alias}", uri: "/v1/models/m/aliases/prod",
            body: #"{"version": 1}"#, allowed: ["admin"]),
        Case(
            route: "POST /v1/models/{name}/aliases/{alias}/rollback", uri: "/v1/models/m/aliases/prod/rollback",
            allowed: ["admin"]),
        Case(route: "GET /v1/reports/savings", uri: "/v1/reports/savings", allowed: ["admin", "reader"]),
        Case(route: "GET /reports/savings", uri: "/reports/savings", allowed: ["admin", "reader"]),
        // Not routes: a bootstrap or worker token learns nothing, not even that they do not exist.
        Case(route: "", uri: "/v1/nothing-here", allowed: ["admin", "reader"]),
        Case(route: "", uri: "/v1/workers/{A}/../{B}/heartbeat", body: heartbeat, allowed: ["admin", "reader"]),
    ]

    static let allRoutes =
        JobsAPI.routes + WorkersAPI.routes + AttemptsAPI.routes + ModelsAPI.routes + ReportsAPI.routes + [
            "GET /health", "GET /metrics",
        ]

    @Test func everyRouteIsInTheTable() {
        #expect(Set(Self.allRoutes).subtracting(Self.cases.map(\.route)).isEmpty)
    }

    struct World {
        var app: Application<RouterResponder<CoordinatorContext>>
        var tokens: [Credential: String]
        var substitutions: [String: String]
    }

    static func world() async throws -> World {
        let store = InMemoryStateStore()
        let clock = ManualLeaseClock(1_000)
        let policy = LeasePolicy(
            heartbeatMilliseconds: 5_000, leaseMilliseconds: 15_000, restartGraceMilliseconds: 300_000)
        let app = Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: "admin-t", readOnly: ["reader-t"], bootstrap: "bootstrap-t"),
                settings: .init(), clock: SystemClock(lease: clock), leasePolicy: policy))
        let workers = try await app.test(.router) { client in
            var registered: [(String, String)] = []
            for name in ["a", "b"] {
                let response = try await client.execute(
                    uri: "/v1/workers", method: .post, headers: [.authorization: "Bearer bootstrap-t"],
                    body: ByteBuffer(string: #"{"name": "\#(name)", "provider": "local"}"#))
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                registered.append(
                    (try #require(object["worker_id"] as? String), try #require(object["token"] as? String)))
            }
            return registered
        }
        let job = try await store.submit(
            JobSubmission(id: JobID("j1"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        let transition = try JobStateMachine.apply(
            .placed(Placement(provider: .local, region: "local", market: .spot)), to: job.record)
        _ = try await store.update(
            job.id, expectedVersion: job.version, record: transition.record, events: ["placed"], at: Date())
        let live = try #require(transition.record.liveAttempt)
        try await store.grantLease(
            Lease(
                job: job.id, attempt: live.number, epoch: live.epoch, workerID: WorkerID(workers[0].0),
                expiresAtMilliseconds: clock.nowMilliseconds() + policy.leaseMilliseconds))
        return World(
            app: app,
            tokens: [
                .wrong: "not-a-token", .admin: "admin-t", .reader: "reader-t", .bootstrap: "bootstrap-t",
                .workerA: workers[0].1, .workerB: workers[1].1,
            ],
            substitutions: ["{A}": workers[0].0, "{B}": workers[1].0, "{J}": "j1", "{E}": String(live.epoch.value)])
    }

    static func fill(_ text: String, _ substitutions: [String: String]) -> String {
        substitutions.reduce(text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
    }

    @Test(arguments: cases, Credential.allCases)
    func aCredentialReachesARouteOnlyIfItsKindMay(_ route: Case, _ credential: Credential) async throws {
        let world = try await Self.world()
        let method = HTTPRequest.Method(String(route.route.split(separator: " ").first ?? "GET")) ?? .get
        let uri = Self.fill(route.uri, world.substitutions)
        let headers: HTTPFields = world.tokens[credential].map { [.authorization: "Bearer \($0)"] } ?? [:]
        try await world.app.test(.router) { client in
            let response = try await client.execute(
                uri: uri, method: route.route.isEmpty && route.body != nil ? .post : method, headers: headers,
                body: route.body.map { ByteBuffer(string: Self.fill($0, world.substitutions)) })
            let refused = response.status == .unauthorized || response.status == .forbidden
            if route.allowed.contains(credential.rawValue) {
                #expect(!refused, "\(credential) on \(uri): \(response.status) \(String(buffer: response.body))")
            } else {
                #expect(refused, "\(credential) on \(uri): \(response.status) \(String(buffer: response.body))")
                let expected: HTTPResponse.Status =
                    credential == .missing || credential == .wrong ? .unauthorized : .forbidden
                #expect(response.status == expected)
                // The refusal is JSON and, for a known token, names the kind that was used.
                let body = try JSONDecoder().decode(ErrorReply.self, from: Data(buffer: response.body))
                let kind: String? =
                    switch credential {
                    case .admin: "the admin token"
                    case .reader: "read-only token"
                    case .bootstrap: "bootstrap token"
                    case .workerA, .workerB: "worker"
                    case .missing, .wrong: nil
                    }
                if let kind { #expect(body.error.message.contains(kind), "\(body.error.message)") }
            }
        }
    }

    struct ErrorReply: Decodable {
        struct Detail: Decodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    /// Issue 14, item 9: the bootstrap token on POST /v1/jobs was refused "a read-only token cannot
    /// submit jobs".
    @Test func theBootstrapTokenIsToldWhatItMayDo() async throws {
        let world = try await Self.world()
        try await world.app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: [.authorization: "Bearer bootstrap-t"],
                body: ByteBuffer(string: Self.spec))
            #expect(response.status == .forbidden)
            let message = try JSONDecoder().decode(ErrorReply.self, from: Data(buffer: response.body)).error.message
            #expect(!message.contains("read-only"))
            #expect(message.contains("the bootstrap token may only register a worker (POST /v1/workers)"))
            #expect(message.contains("POST /v1/jobs needs the admin token"))
        }
    }

    @Test func aReadOnlyTokenIsToldItMayOnlyRead() async throws {
        let world = try await Self.world()
        try await world.app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: [.authorization: "Bearer reader-t"],
                body: ByteBuffer(string: Self.spec))
            let message = try JSONDecoder().decode(ErrorReply.self, from: Data(buffer: response.body)).error.message
            #expect(message == "a read-only token cannot submit jobs (it may only read); that needs the admin token")
        }
    }
}
