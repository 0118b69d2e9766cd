import Foundation
import Hummingbird
import Logging
import Scheduler
import ServiceLifecycle
import SpotwiseCore
import StateStore

/// The coordinator's HTTP application: routes, auth, error bodies.
public enum CoordinatorApplication {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var maxBodyBytes: Int
        public var connections: ConnectionLimits
        /// The dashboard's session cookie is `Secure` (sent over TLS only). Without this setting it
        /// is when a proxy in front says the browser came over TLS (`X-Forwarded-Proto: https`).
        public var secureCookies: Bool

        public init(
            host: String = "127.0.0.1", port: Int = 7070, maxBodyBytes: Int = InputLimits.maxSpecBytes,
            connections: ConnectionLimits = ConnectionLimits(), secureCookies: Bool = false
        ) {
            self.secureCookies = secureCookies
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.connections = connections
        }
    }

    /// Replicas on one PostgreSQL database: this one's role, the leadership row, the shared lease
    /// clock, and the leader's fenced view of the store.
    public struct Replication: Sendable {
        public var role: ReplicaRole
        public var leadership: any LeadershipStore
        public var sharedBoard: any SharedBoardStore
        public var election: LeaderElectionService.Settings
        public var leaseClock: DatabaseLeaseClock
        public var fenced: @Sendable (LeadershipFence) -> any StateStore

        public init(
            role: ReplicaRole, leadership: any LeadershipStore, sharedBoard: any SharedBoardStore,
            election: LeaderElectionService.Settings, leaseClock: DatabaseLeaseClock,
            fenced: @escaping @Sendable (LeadershipFence) -> any StateStore
        ) {
            self.role = role
            self.leadership = leadership
            self.sharedBoard = sharedBoard
            self.election = election
            self.leaseClock = leaseClock
            self.fenced = fenced
        }
    }

    public static func router(
        store: any StateStore, tokens: AccessTokens, settings: Settings,
        role: ReplicaRole = ReplicaRole(replica: "coordinator", address: "", single: true),
        clock: any CoordinatorClock = SystemClock(), leasePolicy: LeasePolicy = LeasePolicy(),
        metrics: CoordinatorMetrics = CoordinatorMetrics(), board: LiveBoard = LiveBoard(),
        newJobID: @escaping @Sendable () -> JobID = { JobID("job-" + UUID().uuidString.prefix(8).lowercased()) }
    ) -> Router<CoordinatorContext> {
        let router = Router(context: CoordinatorContext.self)
        // Outermost, so nothing a later middleware or a handler throws leaves without a JSON body.
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        let digests = WorkerDigestCache()
        router.add(middleware: TokenAuthMiddleware(tokens: tokens, store: store, workerDigests: digests))
        // Where no route matched: a served path with another method is 405 with Allow, not 404.
        router.add(middleware: MethodNotAllowedMiddleware())
        router.get("health") { _, _ in try JobsAPI.json(role.health) }
        router.get("metrics") { _, context in
            try context.requireReader("metrics")
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: try await metrics.render(store: store, role: role))))
        }
        JobsAPI(store: store, clock: clock, newJobID: newJobID, maxBodyBytes: settings.maxBodyBytes, board: board)
            .register(on: router)
        WorkersAPI(
            store: store, policy: leasePolicy, metrics: metrics, clock: clock, board: board,
            digests: digests
        )
        .register(on: router)
        AttemptsAPI(store: store, board: board, metrics: metrics, clock: clock).register(
            on: router)
        ModelsAPI(store: store, clock: clock).register(on: router)
        ReportsAPI(store: store, clock: clock).register(on: router)
        MLflowAPI(store: store, clock: clock).register(on: router)
        Dashboard(
            store: store, tokens: tokens, clock: clock, board: board,
            secureCookies: settings.secureCookies
        ).register(on: router)
        return router
    }

    /// The coordinator's application with its services (scheduler, lease reconciler and, with
    /// `replication`, the leader election and board sync). `clock` is the coordinator's one
    /// clock for a single coordinator; with `replication` it is replaced by wall time with the
    /// database's lease clock, which every replica judges leases by.
    public static func application(
        store: any StateStore, tokens: AccessTokens, settings: Settings, clock: any CoordinatorClock = SystemClock(),
        leasePolicy: LeasePolicy, planner: PlacementPlanner = PlacementPlanner(),
        schedulerPeriodMilliseconds: Int64? = nil, launcher: CapacityLauncher? = nil,
        replication: Replication? = nil,
        logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        let role = replication?.role ?? ReplicaRole(replica: "coordinator", address: "", single: true)
        // Among replicas leases are judged on the database's clock, the one the election keeps
        // in step: never a caller's local lease clock beside it.
        let clock = replication.map { SystemClock(lease: $0.leaseClock) } ?? clock
        let leaderOnly = replication.map { LeaderOnly(role: $0.role, fenced: $0.fenced) }
        var services: [any Service] = []
        if let replication {
            // Among replicas the grace is given by whichever replica takes leadership over (all
            // replicas share the database's lease clock), under its fence.
            services.append(
                LeaderElectionService(
                    store: replication.leadership, role: replication.role, settings: replication.election,
                    leaseClock: replication.leaseClock, logger: logger
                ) { fence, vacancy in
                    launcher?.reloadOnNextPass()
                    let reconciler = LeaseReconciler(store: replication.fenced(fence), clock: clock)
                    // Replicas that stayed up served heartbeats throughout a quick failover: one
                    // lease period covers workers moving to another URL. After a long vacancy
                    // (every replica down, or none ever led) workers get the restart grace.
                    let grace =
                        vacancy.map { $0 <= leasePolicy.leaseMilliseconds } == true
                        ? leasePolicy.leaseMilliseconds : leasePolicy.restartGraceMilliseconds
                    let extended = try await reconciler.extendLiveLeases(byAtLeast: grace)
                    logger.info("takeover: \(extended) live lease(s) extended to at least \(grace / 1000) s from now")
                })
        } else {
            // Before any request is served: every live lease gets the restart grace on this
            // process's clock. Served first, a heartbeat would be told an expiry from the old
            // process's clock.
            let reconciler = LeaseReconciler(store: store, clock: clock)
            let extended = try await reconciler.resumeAfterRestart(policy: leasePolicy)
            if extended > 0 {
                logger.info(
                    "restart: \(extended) live lease(s) get \(leasePolicy.restartGraceMilliseconds / 1000) s of grace")
            }
        }
        let metrics = CoordinatorMetrics()
        let board = LiveBoard(sharing: replication != nil)
        if let replication {
            services.append(
                BoardSyncService(
                    board: board, store: replication.sharedBoard, leaseClock: clock, logger: logger))
        }
        services += [
            LeaseReconcilerService(
                reconciler: LeaseReconciler(store: store, clock: clock, metrics: metrics, board: board),
                policy: leasePolicy, logger: logger, leaderOnly: leaderOnly) as any Service,
            SchedulerService(
                scheduler: JobScheduler(
                    store: store, clock: clock, leasePolicy: leasePolicy, board: board, planner: planner,
                    launcher: launcher),
                periodMilliseconds: schedulerPeriodMilliseconds ?? leasePolicy.heartbeatMilliseconds,
                logger: logger, leaderOnly: leaderOnly, metrics: metrics),
        ]
        return Application(
            router: router(
                store: store, tokens: tokens, settings: settings, role: role, clock: clock,
                leasePolicy: leasePolicy, metrics: metrics, board: board),
            server: settings.connections.server,
            configuration: settings.connections.configuration(address: .hostname(settings.host, port: settings.port)),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger)
    }
}
