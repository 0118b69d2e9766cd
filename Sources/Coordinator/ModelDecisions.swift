import Foundation
import Registry
import Reports
import SpotwiseCore
import StateStore

/// Puts a succeeded job's model before its gate (through `ModelRegistry`) and writes the outcome
/// into the job's history.
struct ModelDecisions: Sendable {
    let store: any StateStore
    let board: LiveBoard
    let clock: any CoordinatorClock

    @discardableResult
    func decide(_ job: StoredJob) async throws -> GateDecision? {
        guard job.spec.register != nil, try await store.gateDecision(job: job.id) == nil else { return nil }
        let now = clock.now
        let cost = try await SavingsReport.spent(by: job, in: store, now: now)
        guard let decision = try await ModelRegistry(store: store).decide(job, cost: cost, now: now) else { return nil }
        let line =
            decision.accepted
            ? "model \(decision.model) version \(decision.version ?? 0) registered (\(decision.reason))"
            : "model \(decision.model) not registered: \(decision.reason)"
        try? await store.appendHistory(job: job.id, lines: [line], at: now)
        return decision
    }
}
