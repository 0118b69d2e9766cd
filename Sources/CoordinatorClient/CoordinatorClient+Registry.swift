import Foundation
import SpotwiseCore

/// Run tracking, the model registry and the savings report, from the outside.
extension CoordinatorClient {
    public func recordMetrics(job: String, attempt: Int, _ batch: WorkerProtocol.MetricBatch) async throws {
        struct Recorded: Decodable { var points: Int }
        _ = try await post("/v1/jobs/\(escaped(job))/attempts/\(attempt)/metrics", batch, as: Recorded.self)
    }

    public func metrics(job: String) async throws -> JobMetrics {
        try Self.decoder.decode(JobMetrics.self, from: try await send(.GET, "/v1/jobs/\(escaped(job))/metrics"))
    }

    public func models() async throws -> [ModelSummary] {
        try Self.decoder.decode([ModelSummary].self, from: try await send(.GET, "/v1/models"))
    }

    public func model(_ name: String) async throws -> ModelDetail {
        try Self.decoder.decode(ModelDetail.self, from: try await send(.GET, "/v1/models/\(escaped(name))"))
    }

    /// The reply of an alias move: the move (nil if the alias already pointed there) and the aliases after.
    public struct AliasMoved: Decodable, Sendable {
        public var move: AliasMove?
        public var aliases: [String: Int]
    }

    public func promote(model: String, version: Int, alias: String) async throws -> AliasMoved {
        struct Promotion: Encodable { var version: Int }
        return try await post(
            "/v1/models/\(escaped(model))/aliases/\(escaped(alias))", Promotion(version: version), as: AliasMoved.self)
    }

    public func rollback(model: String, alias: String) async throws -> AliasMoved {
        try Self.decoder.decode(
            AliasMoved.self,
            from: try await send(.POST, "/v1/models/\(escaped(model))/aliases/\(escaped(alias))/rollback"))
    }

    /// The savings report's body in `format` (json, csv or html); `query` holds since/until/by.
    public func savingsReport(query: [(String, String)], format: String) async throws -> Data {
        var components = URLComponents()
        components.queryItems = (query + [("format", format)]).map { URLQueryItem(name: $0.0, value: $0.1) }
        return try await send(.GET, "/v1/reports/savings?" + (components.percentEncodedQuery ?? ""))
    }
}

extension CoordinatorClient {
    /// GET /health (no token needed): the answering replica's role and who leads; throws when
    /// nothing answers.
    @discardableResult
    public func health() async throws -> HealthReply {
        try JSONDecoder().decode(HealthReply.self, from: try await send(.GET, "/health"))
    }
}
