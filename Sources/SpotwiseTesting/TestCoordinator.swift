import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Scheduler
import SpotwiseCore
import StateStore
import Synchronization

/// A coordinator in the test process: its routes (served without a network), its scheduler and
/// lease reconciler, one store and one live board, on a `ManualTime` that moves only when the
/// test advances it. Passes run when the test says, so a behaviour test reads as a story:
/// register, submit, `schedule()`, heartbeat, `advance`, `reconcile()`... and never sleeps.
public struct TestCoordinator: Sendable {
    public static let admin = "admin-secret"
    public static let reader = "reader-secret"
    public static let bootstrap = "bootstrap-secret"

    public var store: any StateStore
    public var time: ManualTime
    public var board: LiveBoard
    public var policy: LeasePolicy
    public var planner: PlacementPlanner

    public init(
        store: any StateStore = InMemoryStateStore(), time: ManualTime = ManualTime(),
        policy: LeasePolicy = LeasePolicy(
            heartbeatMilliseconds: 1_000, leaseMilliseconds: 3_000, restartGraceMilliseconds: 60_000),
        planner: PlacementPlanner = PlacementPlanner(), board: LiveBoard = LiveBoard()
    ) {
        self.store = store
        self.time = time
        self.policy = policy
        self.planner = planner
        self.board = board
    }

    public var tokens: AccessTokens {
        AccessTokens(admin: Self.admin, readOnly: [Self.reader], bootstrap: Self.bootstrap)
    }

    public var router: Router<CoordinatorContext> {
        CoordinatorApplication.router(
            store: store, tokens: tokens, settings: .init(), clock: time, leasePolicy: policy, board: board)
    }

    public var scheduler: JobScheduler {
        JobScheduler(store: store, clock: time, leasePolicy: policy, board: board, planner: planner)
    }

    public var reconciler: LeaseReconciler {
        LeaseReconciler(store: store, clock: time, board: board)
    }

    /// Serves the routes to `body` through Hummingbird's test client (no sockets).
    public func serve<Value: Sendable>(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Value)
        async throws -> Value
    {
        try await Application(router: router).test(.router) { client in try await body(client) }
    }

    /// One scheduling pass, now.
    @discardableResult
    public func schedule() async throws -> PlacementPlan { try await scheduler.scheduleOnce() }

    /// One lease reconciler pass, now; the jobs whose attempts it declared lost.
    @discardableResult
    public func reconcile() async throws -> [JobID] { try await reconciler.reconcileOnce() }

    public func advance(milliseconds: Int64) { time.advance(milliseconds: milliseconds) }

    /// The same coordinator after its process restarted on `store` (the same one, or the same
    /// database opened again): an empty live board, and every live lease given the restart
    /// grace before anything is served. `leaseClockAt`: the new process's lease clock origin.
    public func restarted(on store: (any StateStore)? = nil, leaseClockAt start: Int64) async throws -> TestCoordinator
    {
        var next = self
        next.store = store ?? self.store
        next.time = ManualTime(leaseMilliseconds: start, date: time.now)
        next.board = LiveBoard()
        _ = try await next.reconciler.resumeAfterRestart(policy: policy)
        return next
    }

    // MARK: - Requests as the users and workers send them

    public static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    public static func post(_ client: any TestClientProtocol, _ uri: String, token: String, _ body: String)
        async throws -> TestResponse
    {
        try await client.execute(uri: uri, method: .post, headers: bearer(token), body: ByteBuffer(string: body))
    }

    /// Registers a worker of a local pool (`market`: spot or on_demand); its id and token.
    public static func register(
        _ client: any TestClientProtocol, name: String = "n", market: String = "spot", region: String = "local-a"
    ) async throws -> (worker: WorkerID, token: String) {
        let response = try await post(
            client, "/v1/workers", token: bootstrap,
            #"{"name": "\#(name)", "provider": "local", "pool": {"region": "\#(region)", "market": "\#(market)", "instance_type": "local.t4", "price_per_hour": "0.36", "on_demand_price_per_hour": "1.20"}}"#
        )
        guard response.status == .created else { throw Refused(response) }
        let registered = try JSONDecoder().decode(WorkerProtocol.Registered.self, from: Data(buffer: response.body))
        return (registered.workerID, registered.token)
    }

    /// Submits a job spec (YAML) as the admin; its id.
    public static func submit(_ client: any TestClientProtocol, _ spec: String) async throws -> JobID {
        let response = try await post(client, "/v1/jobs", token: admin, spec)
        guard response.status == .created || response.status == .ok else { throw Refused(response) }
        return JobID(try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: response.body)).id)
    }

    /// What the worker is leased now, if anything.
    public static func assignment(_ client: any TestClientProtocol, _ worker: WorkerID, _ token: String) async throws
        -> WorkerProtocol.Assignment?
    {
        let response = try await post(client, "/v1/workers/\(worker)/assignment", token: token, "")
        guard response.status == .ok else { throw Refused(response) }
        return try JSONDecoder().decode(WorkerProtocol.AssignmentReply.self, from: Data(buffer: response.body))
            .assignment
    }

    /// A heartbeat for `assignment`; the reply's command, or the refusal.
    public static func heartbeat(
        _ client: any TestClientProtocol, _ worker: WorkerID, _ token: String, _ assignment: WorkerProtocol.Assignment,
        step: Int = 1, notice: String? = nil
    ) async throws -> WorkerProtocol.HeartbeatReply {
        let noticeField = notice.map { #", "notice": "\#($0)""# } ?? ""
        let response = try await post(
            client, "/v1/workers/\(worker)/heartbeat", token: token,
            #"{"job": "\#(assignment.job)", "attempt": \#(assignment.attempt), "epoch": \#(assignment.epoch), "step": \#(step)\#(noticeField)}"#
        )
        guard response.status == .ok else { throw Refused(response) }
        return try JSONDecoder().decode(WorkerProtocol.HeartbeatReply.self, from: Data(buffer: response.body))
    }

    /// A request the coordinator refused: its status and body.
    public struct Refused: Error, CustomStringConvertible {
        public var status: HTTPResponse.Status
        public var body: String

        init(_ response: TestResponse) {
            status = response.status
            body = String(buffer: response.body)
        }

        public var description: String { "\(status.code): \(body)" }
    }
}
