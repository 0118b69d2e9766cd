import Foundation

/// A job as the coordinator's API shows it: the one wire shape the server writes and the client
/// reads (`docs/openapi.yaml`, schema `Job`).
public struct JobSummary: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var state: String
    public var version: Int
    public var submittedAt: Date
    public var updatedAt: Date
    public var attempts: Int
    public var preemptions: Int
    public var failures: Int
    public var outcome: String?
    public var tags: [String: String]
    /// Present when one job is shown, absent in listings.
    public var history: [HistoryLine]?
    /// The live attempt's progress as its trainer last reported it.
    public var progress: Progress?
    /// Why a queued or recovering job is not placed yet (the scheduler's last word).
    public var waiting: String?
    /// Money spent so far: every attempt segment at its price, exact dollars ("0.123456").
    public var costUSD: String?
    /// The useful compute (overhead and lost work left out) at the on-demand price, exact dollars:
    /// the savings report's yardstick.
    public var onDemandCostUSD: String?
    /// The newest committed checkpoint.
    public var checkpoint: CommittedCheckpoint?
    /// The trainer's final metrics once it completed.
    public var metrics: [String: Double]?
    /// Present when one job is shown: one entry per attempt.
    public var segments: [Segment]?
    /// Present when one job is shown and its live attempt is a gang's: the workers by rank.
    public var gangMembers: [String]?

    public struct Progress: Codable, Sendable, Equatable {
        public var attempt: Int
        public var step: Int?
        public var totalSteps: Int?
        public var committedStep: Int?

        public init(attempt: Int, step: Int?, totalSteps: Int?, committedStep: Int?) {
            self.attempt = attempt
            self.step = step
            self.totalSteps = totalSteps
            self.committedStep = committedStep
        }

        enum CodingKeys: String, CodingKey {
            case attempt, step
            case totalSteps = "total_steps"
            case committedStep = "committed_step"
        }
    }

    /// One attempt on one worker: where, at what price, how long, how it ended.
    public struct Segment: Codable, Sendable, Equatable {
        public var attempt: Int
        public var worker: String
        public var placement: String
        public var instanceType: String
        public var pricePerHour: String
        public var startedAt: Date
        public var endedAt: Date?
        /// How it ended, as a type (nil while it runs); `endReason` says it in words.
        public var endKind: AttemptEndKind?
        public var endReason: String?
        public var resumedFromStep: Int?
        public var lastStep: Int?
        public var committedStep: Int?
        public var costUSD: String
        /// A gang's size (its cost bills every node); nil for one node.
        public var nodes: Int?

        public init(
            attempt: Int, worker: String, placement: String, instanceType: String, pricePerHour: String,
            startedAt: Date, endedAt: Date?, endReason: String?, resumedFromStep: Int?, lastStep: Int?,
            committedStep: Int?, costUSD: String, nodes: Int? = nil, endKind: AttemptEndKind? = nil
        ) {
            self.nodes = nodes
            self.endKind = endKind
            self.attempt = attempt
            self.worker = worker
            self.placement = placement
            self.instanceType = instanceType
            self.pricePerHour = pricePerHour
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.endReason = endReason
            self.resumedFromStep = resumedFromStep
            self.lastStep = lastStep
            self.committedStep = committedStep
            self.costUSD = costUSD
        }

        enum CodingKeys: String, CodingKey {
            case attempt, worker, placement, nodes
            case instanceType = "instance_type"
            case pricePerHour = "price_per_hour"
            case startedAt = "started_at"
            case endedAt = "ended_at"
            case endKind = "end_kind"
            case endReason = "end_reason"
            case resumedFromStep = "resumed_from_step"
            case lastStep = "last_step"
            case committedStep = "committed_step"
            case costUSD = "cost_usd"
        }
    }

    public struct HistoryLine: Codable, Sendable, Equatable {
        public var at: Date
        public var message: String

        public init(at: Date, message: String) {
            self.at = at
            self.message = message
        }
    }

    public init(
        id: String, name: String, state: String, version: Int, submittedAt: Date, updatedAt: Date, attempts: Int,
        preemptions: Int, failures: Int, outcome: String?, tags: [String: String], history: [HistoryLine]?
    ) {
        self.id = id
        self.name = name
        self.state = state
        self.version = version
        self.submittedAt = submittedAt
        self.updatedAt = updatedAt
        self.attempts = attempts
        self.preemptions = preemptions
        self.failures = failures
        self.outcome = outcome
        self.tags = tags
        self.history = history
    }

    enum CodingKeys: String, CodingKey {
        case id, name, state, version, attempts, preemptions, failures, outcome, tags, history, progress, waiting
        case checkpoint, metrics, segments
        case gangMembers = "gang_members"
        case costUSD = "cost_usd"
        case onDemandCostUSD = "on_demand_cost_usd"
        case submittedAt = "submitted_at"
        case updatedAt = "updated_at"
    }

    public var isTerminal: Bool { JobState(rawValue: state)?.isTerminal ?? false }

    /// Dates as RFC 3339 with milliseconds (recovery times are measured from them; whole seconds
    /// were too coarse), keys sorted: what the API sends.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(rfc3339))
        }
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// Reads RFC 3339 times with or without fractional seconds.
    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = (try? Date(text, strategy: rfc3339)) ?? (try? Date(text, strategy: .iso8601)) { return date }
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not an RFC 3339 time")
        }
        return decoder
    }()

    static let rfc3339 = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
