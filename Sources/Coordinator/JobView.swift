import Foundation
import SpotwiseCore
import StateStore

/// A job as the API shows it.
public struct JobView: Codable, Sendable, Equatable {
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
    public var history: [HistoryLine]?

    public struct HistoryLine: Codable, Sendable, Equatable {
        public var at: Date
        public var message: String
    }

    enum CodingKeys: String, CodingKey {
        case id, name, state, version, attempts, preemptions, failures, outcome, tags, history
        case submittedAt = "submitted_at"
        case updatedAt = "updated_at"
    }

    init(_ job: StoredJob, history: [JobHistoryEntry]? = nil) {
        id = job.id.rawValue
        name = job.spec.name
        state = job.state.rawValue
        version = job.version
        submittedAt = job.submittedAt
        updatedAt = job.updatedAt
        attempts = job.record.attemptCount
        preemptions = job.record.preemptions
        failures = job.record.failures
        outcome = job.record.outcome
        tags = job.spec.tags
        self.history = history?.map { HistoryLine(at: $0.at, message: $0.message) }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
}
