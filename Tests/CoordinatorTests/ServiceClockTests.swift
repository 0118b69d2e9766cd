import Coordinator
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// The scheduler and the lease reconciler run as the coordinator runs them, as services, on an
/// injected clock: a pass at start, then one per period. The test moves time; it never waits for it.
extension AttemptLifecycleTests {
    @Test(.timeLimit(.minutes(1))) func theServicesPassOncePerPeriodOnTheInjectedClock() async throws {
        let ticks = ManualClock()
        let logger = Logger(label: "service-clock-test")
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let id = try await submit(client)
            let scheduler = self.scheduler
            let reconciler = LeaseReconciler(store: store, clock: clock, board: board)
            let policy = self.policy
            let services = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try? await SchedulerService(
                            scheduler: scheduler, periodMilliseconds: 1_000, logger: logger, clock: ticks
                        ).run()
                    }
                    group.addTask {
                        try? await LeaseReconcilerService(
                            reconciler: reconciler, policy: policy, logger: logger, clock: ticks
                        ).run()
                    }
                }
            }
            // The first passes ran at start: the job is placed.
            await ticks.parked(2)
            #expect(try await assignment(client, worker, token)?.attempt == 1)

            // The lease (3 s) runs out on the lease clock; nothing happens before the services' next period.
            clock.advance(milliseconds: 4_000)
            ticks.advance(by: .milliseconds(999))
            #expect(ticks.sleeping == 2)
            #expect(try await store.lease(job: JobID(id))?.revoked == false)
            #expect(try await assignment(client, worker, token) == nil)

            // One period: the reconciler ends the attempt as lost.
            ticks.advance(by: .milliseconds(1))
            await ticks.parked(2)
            // (The scheduler's pass of the same period may already have placed attempt 2.)
            let lease = try await store.lease(job: JobID(id))
            #expect(lease?.revoked == true || lease?.attempt == 2)
            #expect(try await store.segments(job: JobID(id)).first?.endKind == .lost)

            // The next period at the latest, the scheduler places attempt 2 on the worker.
            ticks.advance(by: .milliseconds(1_000))
            await ticks.parked(2)
            #expect(try await assignment(client, worker, token)?.attempt == 2)

            services.cancel()
            await services.value
            #expect(ticks.sleeping == 0)
        }
    }
}
