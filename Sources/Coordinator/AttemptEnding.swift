import Foundation
import SpotwiseCore
import StateStore

/// Ends a job's live attempt everywhere it is recorded: the state machine (by compare-and-swap),
/// then the lease (so the old worker's writes are refused), then the attempt's ledger row, then
/// what else the machine asks (the gate for a completed job). The order matters: a job that
/// cannot be moved now keeps its lease, and the caller retries later.
struct AttemptEnding: Sendable {
    let store: any StateStore
    let board: LiveBoard
    let clock: any CoordinatorClock

    var events: JobEvents { JobEvents(store: store, board: board, clock: clock) }

    /// Ends `attempt` of epoch `epoch` for `reason`; returns the job as stored after, or nil when
    /// the attempt was no longer the live one (nothing changed).
    @discardableResult
    func end(
        _ job: JobID, attempt: Int, epoch: LeaseEpoch, reason: AttemptEndReason, lastStep: Int? = nil,
        metrics: [String: Double]? = nil, artifact: ModelArtifact? = nil
    ) async throws -> StoredJob? {
        let now = clock.now
        if reason.meansTheTrainerRan {
            // A trainer that exits before its first heartbeat did start: a refused finish left the
            // lease to expire and the trainer ran a second time, its exit unrecorded (issue 14).
            _ = try await events.apply(to: job, at: now) { stored in
                guard stored.state == .provisioning, let live = stored.record.liveAttempt, live.number == attempt,
                    live.epoch == epoch
                else { return nil }
                return .attemptStarted(attempt: attempt)
            }
        }
        let result = try await events.apply(
            to: job, at: now,
            { stored in
                guard let live = stored.record.liveAttempt, live.number == attempt, live.epoch == epoch else {
                    return nil
                }
                return .attemptEnded(attempt: attempt, reason: reason)
            },
            amend: { record in
                if case .completed = reason {
                    if let metrics { record.finalMetrics = metrics }
                    record.outputArtifact = artifact
                }
            },
            afterFence: { stored in
                try await closeSegment(
                    of: stored, attempt: attempt, kind: AttemptEndKind(reason), reason: reason.words,
                    lastStep: lastStep, at: now)
            })
        guard case .applied(let stored) = result else { return nil }
        return stored
    }

    /// Ends a job from outside its attempts (cancel, `max_cost`) through `event`. The attempt it
    /// had, read in the same compare-and-swap, is over: its lease is revoked and its ledger row
    /// ends as `segmentKind`, in the words `segmentReason`.
    func endJob(
        _ id: JobID, segmentKind: AttemptEndKind, segmentReason: String, _ event: (StoredJob) -> JobEvent?
    ) async throws
        -> JobEventResult
    {
        var ended: LiveAttempt?
        return try await events.apply(
            to: id, at: clock.now,
            { job in
                ended = job.record.liveAttempt
                return event(job)
            },
            afterFence: { job in
                guard let live = ended else { return }
                try await closeSegment(
                    of: job, attempt: live.number, kind: segmentKind, reason: segmentReason, lastStep: nil,
                    at: clock.now)
            })
    }

    /// Closes the attempt's ledger row. Its last step is the highest the coordinator heard of for
    /// the attempt: the worker's final report, the last heartbeat, a checkpoint it committed (and,
    /// in the store, its metric batches). A lost attempt's last heartbeat alone can be steps
    /// behind a metric batch that came after it.
    func closeSegment(
        of job: StoredJob, attempt: Int, kind: AttemptEndKind, reason: String, lastStep: Int?, at now: Date
    ) async throws {
        let progress = board.progress(job.id)
        let heartbeat = progress?.attempt == attempt ? progress?.step : nil
        let committed = job.record.committedCheckpoint.flatMap { $0.attempt == attempt ? $0.step : nil }
        try await store.closeSegment(
            job: job.id, attempt: attempt,
            end: SegmentEnd(
                at: now, kind: kind, reason: reason,
                lastStep: [lastStep, heartbeat, committed].compactMap { $0 }.max(),
                committedStep: committed ?? job.record.committedCheckpoint?.step))
    }
}

extension AttemptEndReason {
    /// Whether the worker's report of this end means the trainer process ran (it exited).
    var meansTheTrainerRan: Bool {
        switch self {
        case .completed, .userError: true
        default: false
        }
    }
}
