import Foundation
import Reports
import SpotwiseCore
import StateStore

extension JobSummary {
    /// The API's view of a stored job; with `board`, the live progress and why it waits; with
    /// `segments`, every attempt and what the job has cost so far (open segments priced up to `now`).
    init(
        _ job: StoredJob, history: [JobHistoryEntry]? = nil, board: LiveBoard? = nil,
        segments: [AttemptSegment]? = nil, now: Date = Date()
    ) {
        self.init(
            id: job.id.rawValue, name: job.spec.name, state: job.state.rawValue, version: job.version,
            submittedAt: job.submittedAt, updatedAt: job.updatedAt, attempts: job.record.attemptCount,
            preemptions: job.record.preemptions, failures: job.record.failures, outcome: job.record.outcome,
            tags: job.spec.tags, history: history?.map { HistoryLine(at: $0.at, message: $0.message) })
        checkpoint = job.record.committedCheckpoint
        metrics = job.record.finalMetrics
        if let board {
            if let live = job.record.liveAttempt, let reported = board.progress(job.id), reported.epoch == live.epoch {
                progress = Progress(
                    attempt: live.number, step: reported.step, totalSteps: reported.totalSteps,
                    committedStep: reported.committedStep ?? job.record.committedCheckpoint?.step)
            }
            if job.state == .queued || job.state == .recovering { waiting = board.waiting(job.id) }
        }
        if let segments {
            var cost = Money.zero
            var onDemand = Money.zero
            self.segments = segments.map { segment in
                let row = LedgerRow(segment: segment, job: job, now: now)
                cost = cost + row.cost
                onDemand = onDemand + row.onDemandEquivalent
                return Segment(
                    attempt: segment.attempt, worker: segment.workerID.rawValue,
                    placement: "\(segment.provider)/\(segment.pool.region)/\(segment.pool.market.rawValue)",
                    instanceType: segment.pool.instanceType, pricePerHour: segment.pool.pricePerHour.exactDescription,
                    startedAt: segment.startedAt, endedAt: segment.endedAt, endReason: segment.endReason,
                    resumedFromStep: segment.resumedFromStep, lastStep: segment.lastStep,
                    committedStep: segment.committedStep, costUSD: row.cost.exactDescription,
                    nodes: segment.nodes > 1 ? segment.nodes : nil, endKind: segment.endKind)
            }
            costUSD = cost.exactDescription
            onDemandCostUSD = onDemand.exactDescription
        }
    }
}
