import Foundation

/// MLflow's REST shapes (mlflow/protos service.proto and model_registry.proto, as the Python
/// client reads them), encoded with snake_case keys by `MLflowWire.encoder`. Times are epoch
/// milliseconds; a model version's number is text, as in MLflow.
enum MLflowWire {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    struct Tag: Encodable, Equatable {
        var key: String
        var value: String
    }

    struct Alias: Encodable, Equatable {
        var alias: String
        var version: String
    }

    struct RegisteredModel: Encodable, Equatable {
        var name: String
        var creationTimestamp: Int64
        var lastUpdatedTimestamp: Int64
        var description: String
        var latestVersions: [ModelVersion]
        var tags: [Tag]
        var aliases: [Alias]
    }

    struct ModelVersion: Encodable, Equatable {
        var name: String
        var version: String
        var creationTimestamp: Int64
        var lastUpdatedTimestamp: Int64
        var userId: String
        var currentStage: String
        var description: String
        var source: String
        var runId: String
        var status: String
        var statusMessage: String
        var tags: [Tag]
        var aliases: [String]
    }

    struct Metric: Encodable, Equatable {
        var key: String
        var value: Double
        var timestamp: Int64
        var step: Int
    }

    struct Param: Encodable, Equatable {
        var key: String
        var value: String
    }

    struct RunInfo: Encodable, Equatable {
        var runId: String
        var runUuid: String
        var runName: String
        var experimentId: String
        var userId: String
        var status: String
        var startTime: Int64
        var endTime: Int64?
        var artifactUri: String
        var lifecycleStage: String
    }

    struct RunData: Encodable, Equatable {
        var metrics: [Metric]
        var params: [Param]
        var tags: [Tag]
    }

    struct Run: Encodable, Equatable {
        var info: RunInfo
        var data: RunData
    }

    // Bodies of the routes' answers.
    struct RegisteredModelReply: Encodable { var registeredModel: RegisteredModel }
    struct RegisteredModelsPage: Encodable {
        var registeredModels: [RegisteredModel]
        var nextPageToken: String?
    }
    struct ModelVersionReply: Encodable { var modelVersion: ModelVersion }
    struct ModelVersionsPage: Encodable {
        var modelVersions: [ModelVersion]
        var nextPageToken: String?
    }
    struct LatestVersions: Encodable { var modelVersions: [ModelVersion] }
    struct DownloadURI: Encodable { var artifactUri: String }
    struct RunReply: Encodable { var run: Run }
    struct MetricHistory: Encodable {
        var metrics: [Metric]
        var nextPageToken: String?
    }
    struct Empty: Encodable {}

    /// MLflow's error body: `{"error_code": ..., "message": ...}`.
    struct ErrorReply: Encodable {
        var errorCode: String
        var message: String
    }

    /// Bodies the client sends (POST and DELETE carry JSON; GET carries the same fields as query).
    struct SetAlias: Decodable {
        var name: String
        var alias: String
        var version: String
    }
    struct DeleteAlias: Decodable {
        var name: String
        var alias: String
    }
    struct LatestVersionsRequest: Decodable {
        var name: String
        var stages: [String]?
    }
}
