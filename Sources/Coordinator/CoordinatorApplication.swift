import Foundation
import Hummingbird
import Logging
import Scheduler
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

    public static func router(
        store: any StateStore, tokens: AccessTokens, settings: Settings,
        leaseClock: any LeaseClock = MonotonicLeaseClock(), leasePolicy: LeasePolicy = LeasePolicy(),
        metrics: CoordinatorMetrics = CoordinatorMetrics(), board: LiveBoard = LiveBoard(),
        clock: @escaping @Sendable () -> Date = Date.init,
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
        router.get("health") { _, _ in "ok\n" }
        router.get("metrics") { _, context in
            try context.requireReader("metrics")
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: try await metrics.render(store: store))))
        }
        JobsAPI(store: store, clock: clock, newJobID: newJobID, maxBodyBytes: settings.maxBodyBytes, board: board)
            .register(on: router)
        WorkersAPI(
            store: store, leaseClock: leaseClock, policy: leasePolicy, metrics: metrics, clock: clock, board: board,
            digests: digests
        )
        .register(on: router)
        AttemptsAPI(store: store, board: board, metrics: metrics, clock: clock, leaseClock: leaseClock).register(
            on: router)
        ModelsAPI(store: store, clock: clock).register(on: router)
        ReportsAPI(store: store, clock: clock).register(on: router)
        MLflowAPI(store: store, clock: clock).register(on: router)
        Dashboard(
            store: store, tokens: tokens, clock: clock, leaseClock: leaseClock, board: board,
            secureCookies: settings.secureCookies
        ).register(on: router)
        return router
    }

    public static func application(
        store: any StateStore, tokens: AccessTokens, settings: Settings, leaseClock: any LeaseClock,
        leasePolicy: LeasePolicy, planner: PlacementPlanner = PlacementPlanner(),
        schedulerPeriodMilliseconds: Int64? = nil, launcher: CapacityLauncher? = nil,
        logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        // Before any request is served: every live lease gets the restart grace on this process's
        // clock. Served first, a heartbeat would be told an expiry from the old process's clock.
        let reconciler = LeaseReconciler(store: store, clock: leaseClock)
        let extended = try await reconciler.resumeAfterRestart(policy: leasePolicy)
        if extended > 0 {
            logger.info(
                "restart: \(extended) live lease(s) get \(leasePolicy.restartGraceMilliseconds / 1000) s of grace")
        }
        let metrics = CoordinatorMetrics()
        let board = LiveBoard()
        return Application(
            router: router(
                store: store, tokens: tokens, settings: settings, leaseClock: leaseClock, leasePolicy: leasePolicy,
                metrics: metrics, board: board),
            server: settings.connections.server,
            configuration: settings.connections.configuration(address: .hostname(settings.host, port: settings.port)),
            services: [
                LeaseReconcilerService(
                    reconciler: LeaseReconciler(store: store, clock: leaseClock, metrics: metrics, board: board),
                    policy: leasePolicy, logger: logger),
                SchedulerService(
                    scheduler: JobScheduler(
                        store: store, leaseClock: leaseClock, leasePolicy: leasePolicy, board: board, planner: planner,
                        launcher: launcher),
                    periodMilliseconds: schedulerPeriodMilliseconds ?? leasePolicy.heartbeatMilliseconds,
                    logger: logger),
            ],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
            logger: logger)
    }
}
