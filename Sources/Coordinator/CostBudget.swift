import Foundation
import Reports
import SpotwiseCore
import StateStore

/// Carries out a job's `max_cost` as the scheduling core decides it (`SchedulingCore.budgets`):
/// what the job has cost so far, and failing it once over (its attempt was asked to checkpoint
/// and stop first; heartbeats answer `stop` while the lease stays live).
struct CostBudget: Sendable {
    let store: any StateStore
    let board: LiveBoard
    let clock: any CoordinatorClock

    /// What `job` has cost so far (open segments priced up to now).
    func spent(_ job: StoredJob) async throws -> Money {
        try await SavingsReport.spent(by: job, in: store, now: clock.now)
    }

    /// Fails the job over its budget: its live attempt ends as stopped.
    func abandon(_ id: JobID, reason: String) async throws -> Bool {
        let ending = AttemptEnding(store: store, board: board, clock: clock)
        let result = try await ending.endJob(id, segmentKind: .stopped, segmentReason: "stopped: \(reason)") {
            $0.state.isTerminal ? nil : .abandoned(reason: reason)
        }
        guard case .applied = result else { return false }
        board.clearStop(id)
        return true
    }
}
