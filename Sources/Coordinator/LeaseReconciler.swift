import Foundation
import Logging
import SpotwiseCore
import StateStore

/// Ends attempts whose lease ran out as `lost` (the job goes to recovering, or fails if its
/// budget is spent) and revokes the lease, so the old worker's writes are refused from then on.
public struct LeaseReconciler: Sendable {
    let store: any StateStore
    let clock: any LeaseClock
    let wallClock: @Sendable () -> Date
    let metrics: CoordinatorMetrics?

    public init(
        store: any StateStore, clock: any LeaseClock, metrics: CoordinatorMetrics? = nil,
        wallClock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.wallClock = wallClock
    }

    /// One pass; returns the jobs whose live attempt was declared lost.
    @discardableResult
    public func reconcileOnce() async throws -> [JobID] {
        var lost: [JobID] = []
        for lease in try await store.expiredLeases(nowMilliseconds: clock.nowMilliseconds()) {
            // Fence first: from here on the old epoch cannot renew, whatever happens next.
            try await store.revokeLease(job: lease.job, epoch: lease.epoch)
            for _ in 0..<5 {
                guard let job = try await store.job(lease.job), let live = job.record.liveAttempt,
                    live.epoch == lease.epoch
                else { break }
                guard
                    let transition = try? JobStateMachine.apply(
                        .attemptEnded(attempt: live.number, reason: .lost), to: job.record)
                else { break }
                let messages = transition.actions.compactMap { action -> String? in
                    if case .recordEvent(let message) = action { return message }
                    return nil
                }
                do {
                    _ = try await store.update(
                        job.id, expectedVersion: job.version, record: transition.record, events: messages,
                        at: wallClock())
                    lost.append(job.id)
                    metrics?.leaseExpiries.increment()
                    break
                } catch StateStoreError.versionConflict {
                    continue
                }
            }
        }
        return lost
    }

    /// After a restart: give every live lease the grace period on this process's clock.
    public func resumeAfterRestart(policy: LeasePolicy) async throws -> Int {
        try await store.resetLiveLeases(expiringAt: clock.nowMilliseconds() + policy.restartGraceMilliseconds)
    }
}
