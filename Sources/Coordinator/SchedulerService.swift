import Logging
import ServiceLifecycle

/// Runs the scheduler loop in the coordinator's service group until graceful shutdown: a pass,
/// then a sleep of one period on `clock` (tests inject `SpotwiseTesting.ManualClock`).
public struct SchedulerService: Service {
    let scheduler: JobScheduler
    let periodMilliseconds: Int64
    let logger: Logger
    let clock: any Clock<Duration>
    /// Among replicas: passes run on the leader only, through its fenced store.
    let leaderOnly: LeaderOnly?
    let metrics: CoordinatorMetrics?

    public init(
        scheduler: JobScheduler, periodMilliseconds: Int64, logger: Logger,
        clock: any Clock<Duration> = ContinuousClock(), leaderOnly: LeaderOnly? = nil,
        metrics: CoordinatorMetrics? = nil
    ) {
        self.leaderOnly = leaderOnly
        self.metrics = metrics
        self.scheduler = scheduler
        self.periodMilliseconds = periodMilliseconds
        self.logger = logger
        self.clock = clock
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    var scheduler = scheduler
                    if let leaderOnly {
                        guard let fenced = leaderOnly.store() else {
                            // A follower looks again soon: a takeover is followed by a pass at once.
                            try await clock.sleep(
                                for: .milliseconds(min(periodMilliseconds, LeaderOnly.followerCheckMilliseconds)))
                            continue
                        }
                        scheduler = scheduler.writing(to: fenced)
                    }
                    let plan = try await scheduler.scheduleOnce()
                    metrics?.schedulingPasses.increment()
                    for placed in plan.placements {
                        logger.info(
                            "job \(placed.job): placed on \(placed.target) \(placed.placement): \(placed.reason)")
                    }
                } catch {
                    logger.error("scheduler pass failed: \(error)")
                }
                try await clock.sleep(for: .milliseconds(periodMilliseconds))
            }
        }
    }
}
