import Foundation
import SpotwiseCore
import StateStore

/// What applying a job event came to.
enum JobEventResult {
    /// The event moved the job; this is the job as stored now.
    case applied(StoredJob)
    /// The job, as it is now, needed no event.
    case declined(StoredJob)
}

extension StateStore {
    /// Applies to a job the state-machine event that `event` picks for the job as it is now, by
    /// compare-and-swap on its version, writing the transition's history lines with it. On a
    /// conflict it rereads and asks `event` again. Throws `jobNotFound`, the machine's
    /// `JobTransitionError` when it refuses, or `versionConflict` when the job kept changing.
    /// `amend` adds to the new record what the event carries beside the transition (final metrics).
    func applyEvent(
        to id: JobID, at date: Date, _ event: (StoredJob) -> JobEvent?, amend: (inout JobRecord) -> Void = { _ in },
        note: String? = nil
    ) async throws -> JobEventResult {
        var conflict: StateStoreError?
        for _ in 0..<5 {
            guard let job = try await job(id) else { throw StateStoreError.jobNotFound(id) }
            guard let chosen = event(job) else { return .declined(job) }
            var transition = try JobStateMachine.apply(chosen, to: job.record)
            amend(&transition.record)
            var lines = transition.actions.compactMap { action -> String? in
                if case .recordEvent(let line) = action { return line }
                return nil
            }
            if let note { lines.append(note) }
            do {
                return .applied(
                    try await update(
                        id, expectedVersion: job.version, record: transition.record, events: lines, at: date))
            } catch let error as StateStoreError {
                guard case .versionConflict = error else { throw error }
                conflict = error
            }
        }
        throw conflict!
    }
}
