import Logging
import ServiceLifecycle

/// Runs the lease reconciler in the coordinator's service group: a pass every heartbeat period
/// on `clock` (tests inject `SpotwiseTesting.ManualClock`), until graceful shutdown. (The restart
/// grace is given before the server starts; see `CoordinatorApplication.application`.)
public struct LeaseReconcilerService: Service {
    let reconciler: LeaseReconciler
    let policy: LeasePolicy
    let logger: Logger
    let clock: any Clock<Duration>

    public init(
        reconciler: LeaseReconciler, policy: LeasePolicy, logger: Logger,
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.reconciler = reconciler
        self.policy = policy
        self.logger = logger
        self.clock = clock
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let lost = try await reconciler.reconcileOnce()
                    for job in lost { logger.warning("job \(job): attempt lost (lease expired); recovering") }
                } catch {
                    logger.error("lease reconciler pass failed: \(error)")
                }
                try await clock.sleep(for: .milliseconds(policy.heartbeatMilliseconds))
            }
        }
    }
}
