import Foundation
import NIOHTTP1
import SpotwiseCore

/// The worker protocol from the agent's side, and logs for users. A worker first registers with
/// the bootstrap token, then makes a client with its own token for everything else.
extension CoordinatorClient {
    static let encoder = JSONEncoder()

    func post<Body: Encodable, Reply: Decodable>(_ path: String, _ body: Body, as reply: Reply.Type) async throws
        -> Reply
    {
        let data = try await send(
            .POST, path, body: try Self.encoder.encode(body), headers: [("Content-Type", "application/json")])
        return try Self.decoder.decode(Reply.self, from: data)
    }

    public func register(_ registration: WorkerProtocol.Registration) async throws -> WorkerProtocol.Registered {
        try await post("/v1/workers", registration, as: WorkerProtocol.Registered.self)
    }

    public func assignment(worker: WorkerID) async throws -> WorkerProtocol.Assignment? {
        let data = try await send(.POST, "/v1/workers/\(escaped(worker.rawValue))/assignment")
        return try Self.decoder.decode(WorkerProtocol.AssignmentReply.self, from: data).assignment
    }

    public func heartbeat(worker: WorkerID, _ beat: WorkerProtocol.Heartbeat) async throws
        -> WorkerProtocol.HeartbeatReply
    {
        try await post(
            "/v1/workers/\(escaped(worker.rawValue))/heartbeat", beat, as: WorkerProtocol.HeartbeatReply.self)
    }

    public func commitCheckpoint(job: String, attempt: Int, _ commit: WorkerProtocol.CheckpointCommitted)
        async throws
    {
        _ = try await post(
            "/v1/jobs/\(escaped(job))/attempts/\(attempt)/checkpoints", commit, as: JobSummary.self)
    }

    public func finish(job: String, attempt: Int, _ finished: WorkerProtocol.AttemptFinished) async throws
        -> JobSummary
    {
        try await post("/v1/jobs/\(escaped(job))/attempts/\(attempt)/finish", finished, as: JobSummary.self)
    }

    public func appendLogs(job: String, attempt: Int, _ batch: WorkerProtocol.LogBatch) async throws {
        _ = try await post("/v1/jobs/\(escaped(job))/attempts/\(attempt)/logs", batch, as: LogsAppended.self)
    }

    public func deregister(worker: WorkerID) async throws {
        _ = try await send(.DELETE, "/v1/workers/\(escaped(worker.rawValue))")
    }

    public func logs(job: String, after sequence: Int64) async throws -> LogPage {
        try Self.decoder.decode(
            LogPage.self, from: try await send(.GET, "/v1/jobs/\(escaped(job))/logs?after=\(sequence)"))
    }

    /// Whether a failure means this attempt is over for this worker (stale epoch, fenced, gone).
    public static func isFenced(_ error: any Error) -> Bool {
        guard let failure = error as? Failure, let status = failure.status else { return false }
        return status == 409 || status == 403 || status == 404
    }
}
