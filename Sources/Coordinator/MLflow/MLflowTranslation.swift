import Foundation
import SpotwiseCore
import StateStore

/// How Spotwise's registry and jobs read as MLflow's: a registered model is a Spotwise model, a
/// model version a version the gate accepted (always `READY`, stage `None`, `source` its
/// artifact's URI, `run_id` the job that trained it), a run a job (params its hyperparameters,
/// metrics the newest value of each series and its final metrics, tags its own tags and
/// Spotwise's facts under `spotwise.`). Pure: the routes read the store and call these.
enum MLflowTranslation {
    static func milliseconds(_ date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1000).rounded()
        guard value.isFinite, abs(value) < 9e15 else { return 0 }
        return Int64(value)
    }

    /// The artifact's URI: its store joined with its place in it (`file://checkpoints/JOB/model-attempt-2`).
    static func source(of artifact: ModelArtifact) -> String {
        artifact.storage.hasSuffix("/")
            ? artifact.storage + artifact.location : artifact.storage + "/" + artifact.location
    }

    static func version(_ version: SpotwiseCore.ModelVersion, aliases: [String: Int]) -> MLflowWire.ModelVersion {
        let created = milliseconds(version.createdAt)
        var tags = [
            MLflowWire.Tag(key: "spotwise.manifest_digest", value: version.artifact.manifestDigest),
            MLflowWire.Tag(key: "spotwise.bytes", value: String(version.artifact.bytes)),
            MLflowWire.Tag(key: "spotwise.job_name", value: version.lineage.jobName),
            MLflowWire.Tag(key: "spotwise.attempts", value: String(version.lineage.attempts)),
            MLflowWire.Tag(key: "spotwise.interruptions", value: String(version.lineage.interruptions)),
            MLflowWire.Tag(key: "spotwise.cost_usd", value: version.lineage.costUSD),
        ]
        if let step = version.lineage.checkpointStep {
            tags.append(MLflowWire.Tag(key: "spotwise.checkpoint_step", value: String(step)))
        }
        for (name, value) in version.metrics.sorted(by: { $0.key < $1.key }) {
            tags.append(MLflowWire.Tag(key: "spotwise.metric.\(name)", value: String(value)))
        }
        return MLflowWire.ModelVersion(
            name: version.model, version: String(version.version), creationTimestamp: created,
            lastUpdatedTimestamp: created, userId: "", currentStage: "None",
            description: "trained by job \(version.job) (\(version.lineage.jobName)); accepted by its gate",
            source: source(of: version.artifact), runId: version.job, status: "READY", statusMessage: "",
            tags: tags, aliases: aliases.filter { $0.value == version.version }.map(\.key).sorted())
    }

    /// A model from its versions (oldest first), its aliases and the alias moves (for the time it
    /// last changed). Nil when it has no version: a model whose every job the gate rejected has
    /// nothing MLflow could load.
    static func model(
        name: String, versions: [SpotwiseCore.ModelVersion], aliases: [String: Int], moves: [AliasMove]
    ) -> MLflowWire.RegisteredModel? {
        guard let first = versions.first, let latest = versions.last else { return nil }
        let updated = ([latest.createdAt] + moves.map(\.at)).max() ?? latest.createdAt
        return MLflowWire.RegisteredModel(
            name: name, creationTimestamp: milliseconds(first.createdAt), lastUpdatedTimestamp: milliseconds(updated),
            description: "", latestVersions: [version(latest, aliases: aliases)], tags: [],
            aliases: aliases.sorted { $0.key < $1.key }.map {
                MLflowWire.Alias(alias: $0.key, version: String($0.value))
            }
        )
    }

    static func runStatus(_ state: JobState) -> String {
        switch state {
        case .queued, .provisioning: "SCHEDULED"
        case .running, .recovering: "RUNNING"
        case .succeeded: "FINISHED"
        case .failed: "FAILED"
        case .cancelled: "KILLED"
        }
    }

    /// A hyperparameter's value as MLflow's params hold it: text, unquoted for text values.
    static func paramText(_ value: JSONValue) -> String {
        if case .string(let text) = value { return text }
        guard let data = try? JSONEncoder().encode(value), let text = String(data: data, encoding: .utf8) else {
            return ""
        }
        return text
    }

    /// When each attempt started, for the metric points it reported (a point's own time is not kept).
    static func attemptStarts(_ segments: [AttemptSegment]) -> [Int: Int64] {
        segments.reduce(into: [:]) { starts, segment in
            let start = milliseconds(segment.startedAt)
            starts[segment.attempt] = min(starts[segment.attempt] ?? start, start)
        }
    }

    static func metric(_ point: MetricPoint, starts: [Int: Int64], fallback: Int64) -> MLflowWire.Metric {
        MLflowWire.Metric(
            key: point.name, value: point.value, timestamp: starts[point.attempt] ?? fallback, step: point.step)
    }

    static func run(job: StoredJob, points: [MetricPoint], segments: [AttemptSegment]) -> MLflowWire.Run {
        let submitted = milliseconds(job.submittedAt)
        let ended = job.state.isTerminal ? milliseconds(job.updatedAt) : nil
        let starts = attemptStarts(segments)
        var latest: [String: MLflowWire.Metric] = [:]
        for point in points where (latest[point.name]?.step ?? Int.min) <= point.step {
            latest[point.name] = metric(point, starts: starts, fallback: submitted)
        }
        let lastStep = points.map(\.step).max() ?? job.record.committedCheckpoint?.step ?? 0
        for (name, value) in job.record.finalMetrics ?? [:] {
            latest[name] = MLflowWire.Metric(key: name, value: value, timestamp: ended ?? submitted, step: lastStep)
        }
        var tags = [
            MLflowWire.Tag(key: "mlflow.runName", value: job.spec.name),
            MLflowWire.Tag(key: "spotwise.state", value: job.state.rawValue),
            MLflowWire.Tag(key: "spotwise.attempts", value: String(job.record.attemptCount)),
            MLflowWire.Tag(key: "spotwise.interruptions", value: String(job.record.preemptions)),
        ]
        if let model = job.spec.register?.model {
            tags.append(MLflowWire.Tag(key: "spotwise.model", value: model))
        }
        tags += job.spec.tags.sorted { $0.key < $1.key }.map { MLflowWire.Tag(key: $0.key, value: $0.value) }
        return MLflowWire.Run(
            info: MLflowWire.RunInfo(
                runId: job.id.rawValue, runUuid: job.id.rawValue, runName: job.spec.name, experimentId: "0",
                userId: "", status: runStatus(job.state), startTime: submitted, endTime: ended,
                artifactUri: job.record.outputArtifact.map(source(of:)) ?? "", lifecycleStage: "active"),
            data: MLflowWire.RunData(
                metrics: latest.values.sorted { $0.key < $1.key },
                params: job.spec.hyperparameters.sorted { $0.key < $1.key }.map {
                    MLflowWire.Param(key: $0.key, value: paramText($0.value))
                },
                tags: tags))
    }
}
