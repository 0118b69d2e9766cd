import Foundation

/// A registered model version: what a finished job produced and passed its gate with.
/// Versions are numbered from 1 per model and never change once written.
public struct ModelVersion: Hashable, Sendable, Codable {
    public var model: String
    public var version: Int
    public var job: String
    public var createdAt: Date
    public var artifact: ModelArtifact
    public var metrics: [String: Double]
    public var hyperparameters: [String: JSONValue]
    public var lineage: ModelLineage

    public init(
        model: String, version: Int, job: String, createdAt: Date, artifact: ModelArtifact, metrics: [String: Double],
        hyperparameters: [String: JSONValue], lineage: ModelLineage
    ) {
        self.model = model
        self.version = version
        self.job = job
        self.createdAt = createdAt
        self.artifact = artifact
        self.metrics = metrics
        self.hyperparameters = hyperparameters
        self.lineage = lineage
    }

    enum CodingKeys: String, CodingKey {
        case model, version, job, artifact, metrics, hyperparameters, lineage
        case createdAt = "created_at"
    }
}

/// Where a version's files are (in the checkpoint store) and the SHA-256 of their manifest.
public struct ModelArtifact: Hashable, Sendable, Codable {
    /// The checkpoint store it was committed to (the job's `checkpoint.storage`, e.g. `file://checkpoints`).
    public var storage: String
    /// Relative to the store: `JOB/model-attempt-N`.
    public var location: String
    public var manifestDigest: String
    public var bytes: Int64

    public init(storage: String, location: String, manifestDigest: String, bytes: Int64) {
        self.storage = storage
        self.location = location
        self.manifestDigest = manifestDigest
        self.bytes = bytes
    }

    enum CodingKeys: String, CodingKey {
        case storage, location, bytes
        case manifestDigest = "manifest_digest"
    }
}

/// Where a version came from: the job, its attempts and interruptions, the checkpoint it finished
/// from and what it cost.
public struct ModelLineage: Hashable, Sendable, Codable {
    public var job: String
    public var jobName: String
    public var attempts: Int
    public var interruptions: Int
    public var checkpointStep: Int?
    public var checkpointDigest: String?
    public var costUSD: String

    public init(
        job: String, jobName: String, attempts: Int, interruptions: Int, checkpointStep: Int?,
        checkpointDigest: String?, costUSD: String
    ) {
        self.job = job
        self.jobName = jobName
        self.attempts = attempts
        self.interruptions = interruptions
        self.checkpointStep = checkpointStep
        self.checkpointDigest = checkpointDigest
        self.costUSD = costUSD
    }

    enum CodingKeys: String, CodingKey {
        case job, attempts, interruptions
        case jobName = "job_name"
        case checkpointStep = "checkpoint_step"
        case checkpointDigest = "checkpoint_digest"
        case costUSD = "cost_usd"
    }
}

/// What the gate said about a finished job's model: accepted (with the version it became) or
/// rejected (with why). One per job.
public struct GateDecision: Hashable, Sendable, Codable {
    public var job: String
    public var model: String
    public var decidedAt: Date
    public var accepted: Bool
    public var version: Int?
    public var reason: String
    public var metrics: [String: Double]

    public init(
        job: String, model: String, decidedAt: Date, accepted: Bool, version: Int? = nil, reason: String,
        metrics: [String: Double]
    ) {
        self.job = job
        self.model = model
        self.decidedAt = decidedAt
        self.accepted = accepted
        self.version = version
        self.reason = reason
        self.metrics = metrics
    }

    enum CodingKeys: String, CodingKey {
        case job, model, accepted, version, reason, metrics
        case decidedAt = "decided_at"
    }
}

/// One move of an alias: from the version it pointed to (nil: it did not exist) to another.
public struct AliasMove: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        case promote
        case rollback
        /// The alias was deleted (MLflow's `DELETE registered-models/alias`): `from` and `to` are
        /// the version it pointed at; after it the alias points nowhere until promoted again.
        case remove
    }

    /// Where the alias points after this move: nowhere after a removal.
    public var pointsAt: Int? { kind == .remove ? nil : to }

    public var model: String
    public var alias: String
    public var sequence: Int
    public var from: Int?
    public var to: Int
    public var kind: Kind
    public var at: Date

    public init(model: String, alias: String, sequence: Int, from: Int?, to: Int, kind: Kind, at: Date) {
        self.model = model
        self.alias = alias
        self.sequence = sequence
        self.from = from
        self.to = to
        self.kind = kind
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case model, alias, from, to, kind, at
        case sequence = "seq"
    }
}

/// GET /v1/models: each model with its newest version and aliases.
public struct ModelSummary: Hashable, Sendable, Codable {
    public var model: String
    public var versions: Int
    public var latest: ModelVersion?
    public var aliases: [String: Int]
    public var rejected: Int

    public init(model: String, versions: Int, latest: ModelVersion?, aliases: [String: Int], rejected: Int) {
        self.model = model
        self.versions = versions
        self.latest = latest
        self.aliases = aliases
        self.rejected = rejected
    }
}

/// GET /v1/models/{name}: every version, alias, alias move and gate decision of one model.
public struct ModelDetail: Hashable, Sendable, Codable {
    public var model: String
    public var versions: [ModelVersion]
    public var aliases: [String: Int]
    public var aliasHistory: [AliasMove]
    public var decisions: [GateDecision]

    public init(
        model: String, versions: [ModelVersion], aliases: [String: Int], aliasHistory: [AliasMove],
        decisions: [GateDecision]
    ) {
        self.model = model
        self.versions = versions
        self.aliases = aliases
        self.aliasHistory = aliasHistory
        self.decisions = decisions
    }

    enum CodingKeys: String, CodingKey {
        case model, versions, aliases, decisions
        case aliasHistory = "alias_history"
    }
}
