import SpotwiseCore
import StateStore

extension JobSummary {
    /// The API's view of a stored job, with its history when one job is shown.
    init(_ job: StoredJob, history: [JobHistoryEntry]? = nil) {
        self.init(
            id: job.id.rawValue, name: job.spec.name, state: job.state.rawValue, version: job.version,
            submittedAt: job.submittedAt, updatedAt: job.updatedAt, attempts: job.record.attemptCount,
            preemptions: job.record.preemptions, failures: job.record.failures, outcome: job.record.outcome,
            tags: job.spec.tags, history: history?.map { HistoryLine(at: $0.at, message: $0.message) })
    }
}
