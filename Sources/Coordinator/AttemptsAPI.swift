import Foundation
import Hummingbird
import SpotwiseCore
import StateStore

/// `/v1/jobs/{id}/attempts/{n}/...`: what a worker writes about the attempt it holds (committed
/// checkpoints, its end, trainer output), and `/v1/jobs/{id}/logs` for users. Every write is
/// fenced: only the worker holding the attempt's lease, with the lease's epoch, changes anything;
/// another worker gets 403, a stale epoch 409.
public struct AttemptsAPI: Sendable {
    let store: any StateStore
    let board: LiveBoard
    let metrics: CoordinatorMetrics
    let clock: any CoordinatorClock

    public static let routes = [
        "POST /v1/jobs/{id}/attempts/{attempt}/checkpoints", "POST /v1/jobs/{id}/attempts/{attempt}/finish",
        "POST /v1/jobs/{id}/attempts/{attempt}/logs", "GET /v1/jobs/{id}/logs",
        "POST /v1/jobs/{id}/attempts/{attempt}/metrics", "GET /v1/jobs/{id}/metrics",
    ]
    static let maxBodyBytes = 4 << 20
    static let maxLogsPerRead = 5_000

    func register(on router: Router<CoordinatorContext>) {
        router.post("v1/jobs/:id/attempts/:attempt/checkpoints", use: checkpointCommitted)
        router.post("v1/jobs/:id/attempts/:attempt/finish", use: finish)
        router.post("v1/jobs/:id/attempts/:attempt/logs", use: appendLogs)
        router.get("v1/jobs/:id/logs", use: readLogs)
        router.post("v1/jobs/:id/attempts/:attempt/metrics", use: recordMetrics)
        router.get("v1/jobs/:id/metrics", use: readMetrics)
    }

    var ending: AttemptEnding { AttemptEnding(store: store, board: board, clock: clock) }

    struct Target {
        var job: JobID
        var attempt: Int
        var epoch: LeaseEpoch
        /// The caller's rank (0 for a single-node attempt) and the gang's members (empty: one node).
        var rank: Int
        var members: [WorkerID]
    }

    /// The caller must be the worker holding the attempt's current, unrevoked lease.
    func fence(_ context: CoordinatorContext, epoch: UInt64) async throws -> Target {
        guard case .worker(let workerID) = context.role else {
            throw APIError.forbidden(
                "only the worker running the attempt may write for it, with its own token, not \(context.role?.kind ?? "no token")"
            )
        }
        // Heard from, even if what it says is refused below: a gang member reporting the same
        // lost peer a moment after another is alive, and may be placed again at once.
        board.sawWorker(workerID, atMilliseconds: clock.nowMilliseconds())
        let job = JobID(context.parameters.get("id") ?? "")
        guard let attempt = context.parameters.get("attempt").flatMap(Int.init), attempt >= 1 else {
            throw APIError.badRequest("invalid_attempt", "the attempt is a whole number from 1")
        }
        guard let lease = try await store.lease(job: job) else {
            throw APIError.notFound("no attempt of job \(job) is leased")
        }
        guard let rank = lease.rank(of: workerID) else {
            throw APIError.forbidden("attempt \(attempt) of job \(job) is leased to another worker")
        }
        guard lease.epoch.value == epoch, lease.attempt == attempt, !lease.revoked else {
            metrics.staleHeartbeats.increment()
            throw APIError.conflict(
                "stale_epoch",
                "attempt \(attempt) with epoch \(epoch) of job \(job) is not the live attempt (live: attempt \(lease.attempt), epoch \(lease.epoch)\(lease.revoked ? ", ended" : "")); stop the trainer"
            )
        }
        return Target(job: job, attempt: attempt, epoch: lease.epoch, rank: rank, members: lease.members)
    }

    /// A gang's checkpoints and completion are rank 0's to report (it commits the manifest that
    /// holds every rank's shard); other members report only failures and losses.
    static func requireRankZero(_ target: Target, _ what: String) throws {
        guard target.rank == 0 else {
            throw APIError.forbidden("rank \(target.rank) of a gang may not report \(what): rank 0 does")
        }
    }

    @Sendable func checkpointCommitted(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let body = try await request.body(upTo: Self.maxBodyBytes, context: context)
        let commit = try WorkersAPI.decode(
            WorkerProtocol.CheckpointCommitted.self, from: body, fields: WorkerProtocol.CheckpointCommitted.fields)
        guard commit.step >= 0, !commit.location.isEmpty, commit.location.count <= 1_000,
            commit.manifestDigest.count == 64, commit.manifestDigest.allSatisfy(\.isHexDigit)
        else {
            throw APIError.badRequest(
                "invalid_checkpoint", "step >= 0, a location of 1-1000 characters and a 64-hex-digit manifest_digest")
        }
        let target = try await fence(context, epoch: commit.epoch)
        try Self.requireRankZero(target, "a committed checkpoint")
        let checkpoint = CommittedCheckpoint(
            step: commit.step, attempt: target.attempt, location: commit.location, manifestDigest: commit.manifestDigest
        )
        // The same commit sent again (a retry after a lost reply) changes nothing: no new
        // version, no second history line, so it never makes a real change conflict.
        let result = try await applyFenced(target) { job in
            job.record.committedCheckpoint == checkpoint && job.record.liveAttempt?.number == target.attempt
                ? nil : .checkpointCommitted(attempt: target.attempt, checkpoint: checkpoint)
        }
        return try JobsAPI.json(JobSummary(result))
    }

    @Sendable func finish(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let body = try await request.body(upTo: Self.maxBodyBytes, context: context)
        let finished = try WorkersAPI.decode(
            WorkerProtocol.AttemptFinished.self, from: body, fields: WorkerProtocol.AttemptFinished.fields)
        if !finished.problems.isEmpty {
            throw APIError.badRequest("invalid_finish", finished.problems.joined(separator: "; "))
        }
        var reason: AttemptEndReason
        switch finished.outcome {
        case .completed: reason = .completed
        case .preempted: reason = .preempted(withNotice: finished.notice ?? false)
        case .infrastructure: reason = .infrastructureError(String((finished.message ?? "unspecified").prefix(300)))
        case .failed:
            guard let code = finished.exitCode, code != 0 else {
                throw APIError.badRequest("invalid_finish", "outcome 'failed' needs a non-zero exit_code")
            }
            reason = .userError(exitCode: code)
        }
        let target = try await fence(context, epoch: finished.epoch)
        if case .completed = reason { try Self.requireRankZero(target, "completion") }
        if case .preempted(true) = reason, let size = board.resizeTarget(target.job, epoch: target.epoch) {
            reason = .resized(to: size)  // the stop the coordinator asked for, not a preemption
        }
        if case .preempted = reason { metrics.interruptions.increment() }
        do {
            guard
                let job = try await ending.end(
                    target.job, attempt: target.attempt, epoch: target.epoch, reason: reason,
                    lastStep: finished.lastStep, metrics: finished.metrics, artifact: finished.artifact)
            else {
                throw APIError.conflict("stale_epoch", "attempt \(target.attempt) of job \(target.job) already ended")
            }
            // A member lost without notice may be any of the others: none is placed again before
            // it is heard from. (After a notice or a resize every member stopped cleanly.)
            if case .preempted(false) = reason {
                let others = target.members.enumerated().filter { $0.offset != target.rank }.map(\.element)
                board.suspect(others, atMilliseconds: clock.nowMilliseconds())
            }
            // (A completed job's gate was decided as the state machine asked: `JobEvents`.)
            return try JobsAPI.json(JobSummary(job))
        } catch let error as JobTransitionError {
            throw APIError.conflict("not_allowed", "job \(target.job): \(error)")
        } catch StateStoreError.versionConflict {
            throw APIError(.serviceUnavailable, code: "busy", message: "job \(target.job) kept changing; send it again")
        }
    }

    @Sendable func appendLogs(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let body = try await request.body(upTo: Self.maxBodyBytes, context: context)
        let batch = try WorkersAPI.decode(
            WorkerProtocol.LogBatch.self, from: body, fields: WorkerProtocol.LogBatch.fields)
        guard batch.lines.count <= WorkerProtocol.LogBatch.maxLines,
            batch.lines.allSatisfy({ $0.utf8.count <= WorkerProtocol.LogBatch.maxLineBytes })
        else {
            throw APIError.badRequest(
                "invalid_logs",
                "at most \(WorkerProtocol.LogBatch.maxLines) lines of at most \(WorkerProtocol.LogBatch.maxLineBytes) bytes each"
            )
        }
        let target = try await fence(context, epoch: batch.epoch)
        let last = try await store.appendLogs(
            job: target.job, attempt: target.attempt, lines: batch.lines, at: clock.now)
        return try JobsAPI.json(LogsAppended(lastSequence: last))
    }

    /// GET /v1/jobs/{id}/logs?after=SEQ&limit=N
    @Sendable func readLogs(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("logs")
        let job = JobID(context.parameters.get("id") ?? "")
        var after: Int64 = 0
        if let text = request.uri.queryParameters["after"] {
            guard let parsed = Int64(String(text)), parsed >= 0 else {
                throw APIError.badRequest("invalid_after", "after must be a whole number >= 0 (a log sequence number)")
            }
            after = parsed
        }
        var limit = 1_000
        if let text = request.uri.queryParameters["limit"] {
            guard let parsed = Int(String(text)), (1...Self.maxLogsPerRead).contains(parsed) else {
                throw APIError.badRequest(
                    "invalid_limit", "limit must be a whole number from 1 to \(Self.maxLogsPerRead)")
            }
            limit = parsed
        }
        let lines: [LogLine]
        do {
            lines = try await store.logs(job: job, after: after, limit: limit)
        } catch StateStoreError.jobNotFound {
            throw APIError.notFound("no job \(job)")
        }
        guard let stored = try await store.job(job) else { throw APIError.notFound("no job \(job)") }
        return try JobsAPI.json(
            LogPage(lines: lines, lastSequence: lines.last?.sequence ?? after, jobState: stored.state.rawValue))
    }

    @Sendable func recordMetrics(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let body = try await request.body(upTo: Self.maxBodyBytes, context: context)
        let batch = try WorkersAPI.decode(
            WorkerProtocol.MetricBatch.self, from: body, fields: WorkerProtocol.MetricBatch.fields)
        typealias Batch = WorkerProtocol.MetricBatch
        guard batch.lines.count <= Batch.maxLines, batch.resumedFromStep >= 0,
            batch.lines.allSatisfy({ line in
                line.step >= 0 && line.metrics.count <= Batch.maxMetricsPerLine
                    && line.metrics.allSatisfy { !$0.key.isEmpty && $0.key.count <= 100 && $0.value.isFinite }
            })
        else {
            throw APIError.badRequest(
                "invalid_metrics",
                "resumed_from_step >= 0 and at most \(Batch.maxLines) lines, each a step >= 0 with at most \(Batch.maxMetricsPerLine) finite metrics named by 1-100 characters"
            )
        }
        let target = try await fence(context, epoch: batch.epoch)
        let points = batch.lines.flatMap { line in
            line.metrics.map { MetricPoint(name: $0.key, step: line.step, value: $0.value, attempt: target.attempt) }
        }
        try await store.recordMetrics(
            job: target.job, attempt: target.attempt, resumedFromStep: batch.resumedFromStep, points: points)
        if let reached = batch.lines.map(\.step).max(), reached > batch.resumedFromStep {
            try await store.markFirstStep(job: target.job, attempt: target.attempt, at: clock.now)
            // Kept in the store, not only on the live board: if the node dies without a word,
            // this is how far the ledger knows the attempt got.
            try await store.recordReachedStep(job: target.job, attempt: target.attempt, step: reached)
        }
        return try JobsAPI.json(MetricsRecorded(points: points.count))
    }

    struct MetricsRecorded: Codable {
        var points: Int
    }

    /// GET /v1/jobs/{id}/metrics: hyperparameters, final metrics and every series.
    @Sendable func readMetrics(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("a job's metrics")
        let id = JobID(context.parameters.get("id") ?? "")
        guard let job = try await store.job(id) else { throw APIError.notFound("no job \(id)") }
        return try JobsAPI.json(JobMetrics(job: job.identity, points: try await store.metrics(job: id)))
    }

    func applyFenced(_ target: Target, _ event: (StoredJob) -> JobEvent?) async throws -> StoredJob {
        do {
            switch try await ending.events.apply(to: target.job, at: clock.now, event) {
            case .applied(let job), .declined(let job): return job
            }
        } catch let error as JobTransitionError {
            throw APIError.conflict("stale_epoch", "job \(target.job): \(error); stop the trainer")
        } catch StateStoreError.versionConflict {
            throw APIError(.serviceUnavailable, code: "busy", message: "job \(target.job) kept changing; send it again")
        }
    }
}
