import Foundation
import Hummingbird
import Registry
import SpotwiseCore
import StateStore

/// MLflow's REST API, the registry's read side and aliases, under `/api/2.0/mlflow/`, so that
/// `MlflowClient` (with `MLFLOW_TRACKING_TOKEN` set to a Spotwise token) reads Spotwise's models,
/// versions, aliases, runs and metric histories. Reads need a user token; setting or deleting an
/// alias needs the admin token and is recorded in the alias history like `spotwise models promote`.
/// Versions are created only by the quality gate. Errors are MLflow's `{"error_code", "message"}`
/// (`MLflowErrorShape`). docs/mlflow.md says what is served and what is not.
public struct MLflowAPI: Sendable {
    let store: any StateStore
    let clock: any CoordinatorClock

    static let prefix = "/api/2.0/mlflow"

    public static let routes = [
        "GET \(prefix)/registered-models/get", "GET \(prefix)/registered-models/search",
        "POST \(prefix)/registered-models/get-latest-versions", "GET \(prefix)/model-versions/get",
        "GET \(prefix)/model-versions/search", "GET \(prefix)/model-versions/get-download-uri",
        "GET \(prefix)/registered-models/alias", "POST \(prefix)/registered-models/alias",
        "DELETE \(prefix)/registered-models/alias", "GET \(prefix)/runs/get", "GET \(prefix)/metrics/get-history",
        "POST \(prefix)/registered-models/create", "POST \(prefix)/model-versions/create",
    ]

    func register(on router: Router<CoordinatorContext>) {
        let group = router.group(RouterPath(String(Self.prefix.dropFirst())))
        group.get("registered-models/get", use: getModel)
        group.get("registered-models/search", use: searchModels)
        group.post("registered-models/get-latest-versions", use: latestVersions)
        group.get("model-versions/get", use: getVersion)
        group.get("model-versions/search", use: searchVersions)
        group.get("model-versions/get-download-uri", use: downloadURI)
        group.get("registered-models/alias", use: versionByAlias)
        group.post("registered-models/alias", use: setAlias)
        group.delete("registered-models/alias", use: deleteAlias)
        group.get("runs/get", use: getRun)
        group.get("metrics/get-history", use: metricHistory)
        group.post("registered-models/create", use: refuseCreate)
        group.post("model-versions/create", use: refuseCreate)
    }

    var registry: ModelRegistry { ModelRegistry(store: store) }

    static let largestModelsPage = 1_000
    static let largestVersionsPage = 10_000
    static let largestHistoryPage = 25_000

    // MARK: Registered models

    @Sendable func getModel(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let name = try Self.required("name", request)
        return try Self.json(MLflowWire.RegisteredModelReply(registeredModel: try await model(name)))
    }

    @Sendable func searchModels(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let filter = try Self.filter(request, keys: ["name"])
        let page = try Self.page(request, defaultSize: 100, largest: Self.largestModelsPage)
        let versionsByModel = Dictionary(grouping: try await store.modelVersions(model: nil), by: \.model)
        var matching: [MLflowWire.RegisteredModel] = []
        for (name, versions) in versionsByModel {
            guard let found = try await model(name, versions: versions), filter.matches(Self.fields(of: found)) else {
                continue
            }
            matching.append(found)
        }
        let (items, next) = page.slice(
            try Self.ordered(matching, request, keys: Self.modelOrderKeys, key: Self.modelOrderKey))
        return try Self.json(MLflowWire.RegisteredModelsPage(registeredModels: items, nextPageToken: next))
    }

    @Sendable func latestVersions(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let body: MLflowWire.LatestVersionsRequest = try await Self.decode(request, context: context)
        let found = try await model(body.name)
        // Every version is in stage None: asked for other stages only, there is none.
        let stages = body.stages ?? []
        let wanted = stages.isEmpty || stages.contains { $0.lowercased() == "none" }
        return try Self.json(MLflowWire.LatestVersions(modelVersions: wanted ? found.latestVersions : []))
    }

    // MARK: Model versions

    @Sendable func getVersion(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let (name, number) = try Self.nameAndVersion(request)
        return try Self.json(MLflowWire.ModelVersionReply(modelVersion: try await version(name, number)))
    }

    @Sendable func searchVersions(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let filter = try Self.filter(request, keys: ["name", "run_id"])
        let page = try Self.page(request, defaultSize: Self.largestVersionsPage, largest: Self.largestVersionsPage)
        var aliasesByModel: [String: [String: Int]] = [:]
        var matching: [MLflowWire.ModelVersion] = []
        for stored in try await store.modelVersions(model: nil) {
            if aliasesByModel[stored.model] == nil {
                aliasesByModel[stored.model] = try await registry.aliases(of: stored.model)
            }
            let version = MLflowTranslation.version(stored, aliases: aliasesByModel[stored.model] ?? [:])
            if filter.matches(Self.fields(of: version)) { matching.append(version) }
        }
        let (items, next) = page.slice(
            try Self.ordered(matching, request, keys: Self.versionOrderKeys, key: Self.versionOrderKey))
        return try Self.json(MLflowWire.ModelVersionsPage(modelVersions: items, nextPageToken: next))
    }

    @Sendable func downloadURI(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let (name, number) = try Self.nameAndVersion(request)
        return try Self.json(MLflowWire.DownloadURI(artifactUri: try await version(name, number).source))
    }

    // MARK: Aliases

    @Sendable func versionByAlias(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let name = try Self.required("name", request)
        let alias = try Self.required("alias", request)
        let resolved = try await Self.mapping {
            try await registry.resolve(ModelReference(model: name, selector: .alias(alias)))
        }
        return try Self.json(
            MLflowWire.ModelVersionReply(
                modelVersion: MLflowTranslation.version(resolved, aliases: try await registry.aliases(of: name))))
    }

    @Sendable func setAlias(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireAdmin("set model aliases")
        let body: MLflowWire.SetAlias = try await Self.decode(request, context: context)
        guard let number = MLflowPage.wholeNumber(body.version), number >= 1 else {
            throw APIError.badRequest(
                "invalid_version", "version is '\(body.version.prefix(40))'; it must be a version number from 1")
        }
        _ = try await Self.mapping {
            try await registry.promote(model: body.name, version: number, alias: body.alias, now: clock.now)
        }
        return try Self.json(MLflowWire.Empty())
    }

    @Sendable func deleteAlias(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireAdmin("delete model aliases")
        let body: MLflowWire.DeleteAlias = try await Self.decode(request, context: context)
        _ = try await Self.mapping {
            try await registry.removeAlias(model: body.name, alias: body.alias, now: clock.now)
        }
        return try Self.json(MLflowWire.Empty())
    }

    @Sendable func refuseCreate(_ request: Request, context: CoordinatorContext) async throws -> Response {
        throw APIError.forbidden(
            "Spotwise creates models and versions only through a job's quality gate (the spec's register section); submit a job with POST /v1/jobs"
        )
    }

    // MARK: Runs

    @Sendable func getRun(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let job = try await job(try Self.runID(request))
        let run = MLflowTranslation.run(
            job: job, points: try await store.metrics(job: job.id), segments: try await store.segments(job: job.id))
        return try Self.json(MLflowWire.RunReply(run: run))
    }

    /// The series the final model saw: after a resume, the points of the abandoned branch are gone
    /// (the store keeps one value per step, from the attempt that went on from there).
    @Sendable func metricHistory(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try ModelsAPI.requireReader(context)
        let job = try await job(try Self.runID(request))
        let key = try Self.required("metric_key", request)
        let page = try Self.page(request, defaultSize: Self.largestHistoryPage, largest: Self.largestHistoryPage)
        let starts = MLflowTranslation.attemptStarts(try await store.segments(job: job.id))
        let fallback = MLflowTranslation.milliseconds(job.submittedAt)
        var points = try await store.metrics(job: job.id).filter { $0.name == key }.sorted { $0.step < $1.step }
            .map { MLflowTranslation.metric($0, starts: starts, fallback: fallback) }
        if points.isEmpty, let final = job.record.finalMetrics?[key] {
            // A final metric (metrics.json) without a progress series: one point, as MLflow logs it.
            points = [
                MLflowWire.Metric(
                    key: key, value: final, timestamp: MLflowTranslation.milliseconds(job.updatedAt),
                    step: job.record.committedCheckpoint?.step ?? 0)
            ]
        }
        let (items, next) = page.slice(points)
        return try Self.json(MLflowWire.MetricHistory(metrics: items, nextPageToken: next))
    }

    // MARK: Reading the store

    /// What a filter reads of a model: its name and tags.
    static func fields(of model: MLflowWire.RegisteredModel) -> [String: String] {
        model.tags.reduce(into: ["name": model.name]) { $0["tag." + $1.key] = $1.value }
    }

    /// What a filter reads of a version: its model's name, its run (job) and its tags.
    static func fields(of version: MLflowWire.ModelVersion) -> [String: String] {
        version.tags.reduce(into: ["name": version.name, "run_id": version.runId]) { $0["tag." + $1.key] = $1.value }
    }

    /// The model `name`; 404 when it has no version.
    func model(_ name: String) async throws -> MLflowWire.RegisteredModel {
        try await Self.mapping { try ModelReference.checkModel(name) }
        guard let found = try await model(name, versions: try await store.modelVersions(model: name)) else {
            throw APIError.notFound("no registered model '\(name)'")
        }
        return found
    }

    /// A model from its versions (already read), with its aliases; nil without versions.
    func model(_ name: String, versions: [SpotwiseCore.ModelVersion]) async throws -> MLflowWire.RegisteredModel? {
        let moves = try await store.aliasHistory(model: name)
        return MLflowTranslation.model(
            name: name, versions: versions, aliases: ModelRegistry.current(moves), moves: moves)
    }

    func version(_ name: String, _ number: Int) async throws -> MLflowWire.ModelVersion {
        let stored = try await Self.mapping {
            try await registry.resolve(ModelReference(model: name, selector: .version(number)))
        }
        return MLflowTranslation.version(stored, aliases: try await registry.aliases(of: name))
    }

    func job(_ id: JobID) async throws -> StoredJob {
        guard let job = try await store.job(id) else { throw APIError.notFound("no run '\(id)' (runs are jobs)") }
        return job
    }
}
