import Foundation
import Logging
import SpotwiseCore
import StateStore

/// Ends attempts whose lease ran out as `lost` (the job goes to recovering, or fails if its
/// budget is spent) and revokes the lease, so the old worker's writes are refused from then on.
public struct LeaseReconciler: Sendable {
    private(set) var store: any StateStore
    let clock: any CoordinatorClock
    let metrics: CoordinatorMetrics?
    let board: LiveBoard

    public init(
        store: any StateStore, clock: any CoordinatorClock, metrics: CoordinatorMetrics? = nil,
        board: LiveBoard = LiveBoard()
    ) {
        self.board = board
        self.store = store
        self.clock = clock
        self.metrics = metrics
    }

    var ending: AttemptEnding { AttemptEnding(store: store, board: board, clock: clock) }

    /// The same reconciler writing through `store`: a leader's fenced view.
    public func writing(to store: any StateStore) -> LeaseReconciler {
        var copy = self
        copy.store = store
        return copy
    }

    /// One pass; returns the jobs whose live attempt was declared lost.
    @discardableResult
    public func reconcileOnce() async throws -> [JobID] {
        var lost: [JobID] = []
        for lease in try await store.expiredLeases(nowMilliseconds: clock.nowMilliseconds()) {
            // Fence first, and only if the lease is still expired now: a heartbeat that renewed it
            // since the list was read keeps it; one that comes after is refused. Then the job: if
            // it cannot be moved now (it kept changing), the scheduler's pass ends it, since its
            // live attempt no longer has a live lease.
            guard
                try await store.revokeLeaseIfExpired(
                    job: lease.job, epoch: lease.epoch, nowMilliseconds: clock.nowMilliseconds())
            else { continue }
            do {
                if try await ending.end(lease.job, attempt: lease.attempt, epoch: lease.epoch, reason: .lost) != nil {
                    lost.append(lease.job)
                    metrics?.leaseExpiries.increment()
                }
            } catch StateStoreError.versionConflict {
                continue
            } catch StateStoreError.jobNotFound {
                // Nothing to recover; the lease is fenced already.
            }
        }
        return lost
    }

    /// After a takeover among replicas: every live lease lasts at least `milliseconds` from now
    /// (none is shortened; an expiry an older version wrote on its own process's clock is far in
    /// the past of the database's and is extended too).
    public func extendLiveLeases(byAtLeast milliseconds: Int64) async throws -> Int {
        try await store.extendLiveLeases(toAtLeast: clock.nowMilliseconds() + milliseconds)
    }

    /// After a restart: give every live lease the grace period on this process's clock.
    public func resumeAfterRestart(policy: LeasePolicy) async throws -> Int {
        try await store.resetLiveLeases(expiringAt: clock.nowMilliseconds() + policy.restartGraceMilliseconds)
    }
}
