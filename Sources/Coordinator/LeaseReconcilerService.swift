import Logging
import ServiceLifecycle

/// Runs the lease reconciler in the coordinator's service group: a pass every heartbeat period
/// on `clock` (tests inject `SpotwiseTesting.ManualClock`), until graceful shutdown. (The restart
/// grace is given before the server starts, or by a replica taking leadership over; see
/// `CoordinatorApplication.application`.)
public struct LeaseReconcilerService: Service {
    let reconciler: LeaseReconciler
    let policy: LeasePolicy
    let logger: Logger
    let clock: any Clock<Duration>
    /// Among replicas: passes run on the leader only, through its fenced store.
    let leaderOnly: LeaderOnly?

    public init(
        reconciler: LeaseReconciler, policy: LeasePolicy, logger: Logger,
        clock: any Clock<Duration> = ContinuousClock(), leaderOnly: LeaderOnly? = nil
    ) {
        self.leaderOnly = leaderOnly
        self.reconciler = reconciler
        self.policy = policy
        self.logger = logger
        self.clock = clock
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    var reconciler = reconciler
                    if let leaderOnly {
                        guard let fenced = leaderOnly.store() else {
                            // A follower looks again soon: a takeover is followed by a pass at once.
                            try await clock.sleep(
                                for: .milliseconds(
                                    min(policy.heartbeatMilliseconds, LeaderOnly.followerCheckMilliseconds)))
                            continue
                        }
                        reconciler = reconciler.writing(to: fenced)
                    }
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
