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
        case id, name, state, version, attempts, preemptions, failures, outcome, tags, history
        case submittedAt = "submitted_at"
        case updatedAt = "updated_at"
    }

    public var isTerminal: Bool { JobState(rawValue: state)?.isTerminal ?? false }

    /// Dates as RFC 3339, keys sorted: what the API sends.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
