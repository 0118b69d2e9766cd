/// How an attempt ended, as a type: what billing, reports and the dashboard decide on. Stored in
/// its own column (`attempt_segments.end_kind`) beside the words a person reads
/// (`end_reason`), and sent as `end_kind` on the wire. The raw values are the stored and wire
/// strings; never rename one.
public enum AttemptEndKind: String, Hashable, Sendable, CaseIterable, Codable {
    /// The trainer exited 0.
    case completed
    /// The provider took the capacity back after a notice; the worker reported the last step.
    case preemptedWithNotice = "preempted_with_notice"
    /// The provider took the capacity back without a notice the worker saw.
    case preemptedWithoutNotice = "preempted_without_notice"
    /// Heartbeats stopped past the lease: fenced off, how far it got unknown.
    case lost
    /// The trainer exited non-zero.
    case failed
    /// Provisioning or the node failed, not the user's code.
    case infrastructure
    /// Stopped on a user's request.
    case cancelled
    /// An elastic gang stopped to restart at another size: not an interruption.
    case resized
    /// Stopped by the coordinator for a rule of the spec (`max_cost`).
    case stopped
    /// An end an older Spotwise recorded in words this version does not know (the upgrade to
    /// schema 7 reads them once), or a kind a newer coordinator sent. Never written.
    case other

    /// The kind of an end the job state machine knows.
    public init(_ reason: AttemptEndReason) {
        switch reason {
        case .completed: self = .completed
        case .preempted(let withNotice): self = withNotice ? .preemptedWithNotice : .preemptedWithoutNotice
        case .lost: self = .lost
        case .userError: self = .failed
        case .infrastructureError: self = .infrastructure
        case .cancelled: self = .cancelled
        case .resized: self = .resized
        }
    }

    /// Capacity taken away under the attempt (a preemption or a loss): what the savings report
    /// counts as an interruption.
    public var isInterruption: Bool {
        self == .preemptedWithNotice || self == .preemptedWithoutNotice || self == .lost
    }

    /// Whether the worker's final report said how far the trainer got. Otherwise (lost, preempted
    /// without notice, an infrastructure failure, cancelled, stopped) the coordinator knows only the steps it heard of
    /// before, and lost work is a lower bound.
    public var reportsHowFarItGot: Bool {
        switch self {
        case .completed, .preemptedWithNotice, .failed, .resized: true
        case .preemptedWithoutNotice, .lost, .infrastructure, .cancelled, .stopped, .other: false
        }
    }

    /// The kind of an end an older coordinator recorded in words only: the schema-7 migration's
    /// reading (its `CASE`), also used for a row an older coordinator ended after another process
    /// upgraded the database (its `end_kind` is empty). Unknown words are `.other`.
    public init(legacyWords words: String) {
        if words == "completed" {
            self = .completed
        } else if words == "preempted with notice" {
            self = .preemptedWithNotice
        } else if words.hasPrefix("preempted") {
            self = .preemptedWithoutNotice
        } else if words.hasPrefix("lost") {
            self = .lost
        } else if words.hasPrefix("failed with exit code") {
            self = .failed
        } else if words.hasPrefix("infrastructure error") {
            self = .infrastructure
        } else if words == "cancelled" {
            self = .cancelled
        } else if words.hasPrefix("resized to") {
            self = .resized
        } else if words.hasPrefix("stopped:") {
            self = .stopped
        } else {
            self = .other
        }
    }

    /// Reads a stored or sent kind; one this version does not know is `.other`, so a newer
    /// coordinator's rows never make a report fail.
    public init(stored: String) {
        self = Self(rawValue: stored) ?? .other
    }

    public init(from decoder: any Decoder) throws {
        self.init(stored: try decoder.singleValueContainer().decode(String.self))
    }
}

extension AttemptEndReason {
    /// The words stored beside the kind, for people (`preempted with notice`, ...).
    public var words: String {
        switch self {
        case .completed: "completed"
        case .preempted(let withNotice): withNotice ? "preempted with notice" : "preempted without notice"
        case .lost: "lost (lease expired)"
        case .userError(let code): "failed with exit code \(code)"
        case .infrastructureError(let detail): "infrastructure error: \(detail)"
        case .cancelled: "cancelled"
        case .resized(let size): "resized to a gang of \(size)"
        }
    }
}
