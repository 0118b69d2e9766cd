import Foundation
import HTTPTypes
import Hummingbird
import SpotwiseCore
import StateStore

/// `/v1/jobs`: submit, list, show, cancel.
public struct JobsAPI: Sendable {
    let store: any StateStore
    let clock: any CoordinatorClock
    let newJobID: @Sendable () -> JobID
    let maxBodyBytes: Int
    let board: LiveBoard

    /// Every route this API serves, as `METHOD /path` with `{id}` for parameters (docs/openapi.yaml
    /// must list each one; a test checks).
    public static let routes = [
        "POST /v1/jobs", "GET /v1/jobs", "GET /v1/jobs/{id}", "POST /v1/jobs/{id}/cancel",
    ]

    func register(on router: Router<CoordinatorContext>) {
        let jobs = router.group("v1/jobs")
        jobs.post(use: submit)
        jobs.get(use: list)
        jobs.get(":id", use: show)
        jobs.post(":id/cancel", use: cancel)
    }

    static let listLimit = 1_000

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        try Self.json(value, status: status)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JobSummary.encoder.encode(value))))
    }

    /// POST /v1/jobs: a spec as YAML or JSON; `Idempotency-Key` makes retries safe.
    @Sendable func submit(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireAdmin("submit jobs")
        // Never above what `spotwise validate` accepts; the operator may set it lower.
        let limit = min(maxBodyBytes, InputLimits.maxSpecBytes)
        let body = try await request.body(upTo: limit, context: context, what: "a job spec")
        let submittedAt = clock.now
        let spec: JobSpec
        switch JobSpecParser(now: submittedAt).parse(Array(buffer: body), file: "request body") {
        case .success(let parsed): spec = parsed
        case .failure(let error): throw APIError.badRequest("invalid_spec", error.description)
        }
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        if let key, key.isEmpty || key.count > 200 {
            throw APIError.badRequest("invalid_idempotency_key", "Idempotency-Key must be 1-200 characters")
        }
        do {
            let (job, created) = try await store.submit(
                JobSubmission(id: newJobID(), spec: spec, idempotencyKey: key, submittedAt: submittedAt))
            return try json(JobSummary(job), status: created ? .created : .ok)
        } catch let error as StateStoreError {
            if case .idempotencyKeyReused = error {
                throw APIError.conflict("idempotency_key_reused", error.description)
            }
            throw error
        }
    }

    /// GET /v1/jobs?state=S&limit=N
    @Sendable func list(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("jobs")
        var state: JobState?
        if let text = request.uri.queryParameters["state"] {
            guard let parsed = JobState(rawValue: String(text)) else {
                let allowed = JobState.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError.badRequest("invalid_state", "unknown state '\(text)'; allowed: \(allowed)")
            }
            state = parsed
        }
        var limit = 100
        if let text = request.uri.queryParameters["limit"] {
            guard let parsed = Int(String(text)), (1...Self.listLimit).contains(parsed) else {
                throw APIError.badRequest("invalid_limit", "limit must be a whole number from 1 to \(Self.listLimit)")
            }
            limit = parsed
        }
        var tag: (key: String, value: String)?
        if let text = request.uri.queryParameters["tag"] {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw APIError.badRequest("invalid_tag", "tag must be KEY=VALUE, e.g. tag=team=vision")
            }
            tag = (parts[0], parts[1])
        }
        let model = request.uri.queryParameters["model"].map(String.init)
        // Filters on spec fields are applied to the newest `listLimit` jobs of the state.
        let stored = try await store.jobs(state: state, limit: tag == nil && model == nil ? limit : Self.listLimit)
        let matching = stored.filter { job in
            (tag.map { job.spec.tags[$0.key] == $0.value } ?? true)
                && (model.map { job.spec.register?.model == $0 } ?? true)
        }
        struct Listing: Encodable { var jobs: [JobSummary] }
        return try json(Listing(jobs: matching.prefix(limit).map { JobSummary($0, board: board) }))
    }

    /// GET /v1/jobs/{id}: the job with its history.
    @Sendable func show(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("jobs")
        let id = try jobID(context)
        guard let job = try await store.job(id) else { throw APIError.notFound("no job \(id)") }
        var summary = JobSummary(
            job, history: try await store.history(id), board: board, segments: try await store.segments(job: id),
            now: clock.now)
        if let live = job.record.liveAttempt, let lease = try await store.lease(job: id), lease.epoch == live.epoch,
            lease.members.count > 1
        {
            summary.gangMembers = lease.members.map(\.rawValue)
        }
        return try json(summary)
    }

    /// POST /v1/jobs/{id}/cancel: moves the job to cancelled through the state machine.
    @Sendable func cancel(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireAdmin("cancel jobs")
        return try json(
            JobSummary(try await Self.cancelJob(try jobID(context), store: store, board: board, clock: clock)))
    }

    /// Cancels a job (the API's route and the dashboard's button): the job as stored after, or
    /// as it was when it had already ended (cancelling twice changes nothing).
    static func cancelJob(_ id: JobID, store: any StateStore, board: LiveBoard, clock: any CoordinatorClock)
        async throws -> StoredJob
    {
        do {
            let ending = AttemptEnding(store: store, board: board, clock: clock)
            switch try await ending.endJob(
                id, segmentKind: .cancelled, segmentReason: "cancelled", { _ in .cancelRequested })
            {
            case .applied(let job), .declined(let job): return job
            }
        } catch let error as JobTransitionError {
            throw APIError.conflict("not_cancellable", "job \(id) cannot be cancelled: \(error)")
        } catch StateStoreError.jobNotFound {
            throw APIError.notFound("no job \(id)")
        } catch StateStoreError.versionConflict {
            throw APIError(.serviceUnavailable, code: "busy", message: "job \(id) kept changing; try again")
        }
    }

    func jobID(_ context: CoordinatorContext) throws -> JobID {
        guard let id = context.parameters.get("id"), !id.isEmpty, id.count <= 100 else {
            throw APIError.badRequest("invalid_id", "a job id is 1-100 characters")
        }
        return JobID(id)
    }
}
