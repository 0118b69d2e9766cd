/// The live attempt of a job: its number (1, 2, ...), fencing epoch and placement.
public struct LiveAttempt: Hashable, Sendable, Codable {
    public var number: Int
    public var epoch: LeaseEpoch
    public var placement: Placement
    public var started: Bool

    public init(number: Int, epoch: LeaseEpoch, placement: Placement, started: Bool = false) {
        self.number = number
        self.epoch = epoch
        self.placement = placement
        self.started = started
    }
}

/// How many retries of each kind a job may use.
///
/// Preemptions (with or without notice), lost heartbeats and exit codes listed in
/// `retry_on_exit_codes` are not the user's fault and spend `maxPreemptions`; other non-zero
/// exits spend `maxFailures`; infrastructure errors spend their own `maxInfrastructureErrors`.
public struct RetryBudget: Hashable, Sendable, Codable {
    public var maxPreemptions: Int?
    public var maxFailures: Int
    public var maxInfrastructureErrors: Int
    public var retryOnExitCodes: Set<Int32>

    public static let defaultMaxInfrastructureErrors = 3

    public init(
        maxPreemptions: Int? = nil, maxFailures: Int = RetryPolicy.defaultMaxFailures,
        maxInfrastructureErrors: Int = RetryBudget.defaultMaxInfrastructureErrors, retryOnExitCodes: Set<Int32> = []
    ) {
        self.maxPreemptions = maxPreemptions
        self.maxFailures = maxFailures
        self.maxInfrastructureErrors = maxInfrastructureErrors
        self.retryOnExitCodes = retryOnExitCodes
    }

    public init(_ policy: RetryPolicy) {
        self.init(
            maxPreemptions: policy.maxPreemptions, maxFailures: policy.maxFailures,
            retryOnExitCodes: policy.retryOnExitCodes)
    }
}

/// Everything the state machine needs to know about one job; persisted by the state store.
public struct JobRecord: Hashable, Sendable, Codable {
    public var state: JobState
    public var budget: RetryBudget
    public var liveAttempt: LiveAttempt?
    /// Attempts created so far; the next one is numbered `attemptCount + 1`.
    public var attemptCount: Int
    /// The newest epoch handed out; the next placement gets a larger one.
    public var latestEpoch: LeaseEpoch
    public var preemptions: Int
    public var failures: Int
    public var infrastructureErrors: Int
    /// Why a terminal job ended, in words.
    public var outcome: String?
    /// The newest committed checkpoint of any attempt: where the next attempt resumes from.
    public var committedCheckpoint: CommittedCheckpoint?
    /// The trainer's final metrics, from the attempt that completed.
    public var finalMetrics: [String: Double]?
    /// The completed attempt's committed output (the model), for the registry.
    public var outputArtifact: ModelArtifact?

    public init(budget: RetryBudget) {
        self.state = .queued
        self.budget = budget
        self.liveAttempt = nil
        self.attemptCount = 0
        self.latestEpoch = .none
        self.preemptions = 0
        self.failures = 0
        self.infrastructureErrors = 0
        self.outcome = nil
        self.committedCheckpoint = nil
        self.finalMetrics = nil
    }
}

/// A checkpoint whose manifest was written last (see `checkpoints/FORMAT.md`): safe to resume from.
public struct CommittedCheckpoint: Hashable, Sendable, Codable {
    public var step: Int
    /// The attempt that wrote it.
    public var attempt: Int
    /// Where the checkpoint store keeps it (e.g. `digits-logreg/job-1234/step-00000050`).
    public var location: String
    /// SHA-256 of the manifest, hex: what a restore verifies first.
    public var manifestDigest: String

    public init(step: Int, attempt: Int, location: String, manifestDigest: String) {
        self.step = step
        self.attempt = attempt
        self.location = location
        self.manifestDigest = manifestDigest
    }

    enum CodingKeys: String, CodingKey {
        case step, attempt, location
        case manifestDigest = "manifest_digest"
    }
}
