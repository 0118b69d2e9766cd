import Foundation
import Reports
import SpotwiseCore
import StateStore

/// Enforces a job's `max_cost`: once what it has cost reaches the budget, its attempt is asked to
/// checkpoint and stop (heartbeats answer `stop` while the lease stays live), and the job fails
/// with a clear reason once the checkpoint is in or a grace period has passed. A waiting job over
/// its budget is not placed again.
struct CostBudget: Sendable {
    let store: any StateStore
    let board: LiveBoard
    let leaseClock: any LeaseClock
    let wallClock: @Sendable () -> Date
    /// How long a stopping attempt gets to commit its checkpoint before the job is failed anyway.
    let stopGraceMilliseconds: Int64

    /// What `job` has cost so far (open segments priced up to now).
    func spent(_ job: StoredJob) async throws -> Money {
        try await SavingsReport.spent(by: job, in: store, now: wallClock())
    }

    /// One pass over the jobs that have a budget; returns the jobs it failed.
    @discardableResult
    func enforce(_ jobs: [StoredJob]) async throws -> [JobID] {
        var failed: [JobID] = []
        for job in jobs where !job.state.isTerminal {
            guard let budget = job.spec.maxCost else { continue }
            let spent = try await spent(job)
            guard spent >= budget else { continue }
            let reason = "max_cost \(budget) reached (spent \(spent))"
            let now = leaseClock.nowMilliseconds()
            if let live = job.record.liveAttempt, job.state == .running {
                if board.stopRequest(job.id) == nil {
                    // Written first: among replicas the store is the leader's fenced view, so a
                    // deposed leader's pass stops here and asks nothing of the job.
                    try await store.appendHistory(
                        job: job.id, lines: ["\(reason): attempt \(live.number) checkpoints and stops"], at: wallClock()
                    )
                    board.requestStop(job.id, atMilliseconds: now, committedStep: job.record.committedCheckpoint?.step)
                    continue
                }
                guard let asked = board.stopRequest(job.id) else { continue }
                let checkpointed = job.record.committedCheckpoint?.step != asked.committedStep
                guard checkpointed || now - asked.sinceMilliseconds >= stopGraceMilliseconds else { continue }
            }
            if try await abandon(job.id, reason: reason) { failed.append(job.id) }
        }
        return failed
    }

    func abandon(_ id: JobID, reason: String) async throws -> Bool {
        let ending = AttemptEnding(store: store, board: board, wallClock: wallClock)
        let result = try await ending.endJob(id, segmentKind: .stopped, segmentReason: "stopped: \(reason)") {
            $0.state.isTerminal ? nil : .abandoned(reason: reason)
        }
        guard case .applied = result else { return false }
        board.clearStop(id)
        return true
    }
}
