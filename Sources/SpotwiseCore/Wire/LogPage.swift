import Foundation

/// One line of a trainer's output, numbered per job from 1 in the order the coordinator took it.
public struct LogLine: Hashable, Sendable, Codable {
    public var sequence: Int64
    public var attempt: Int
    public var at: Date
    public var text: String

    public init(sequence: Int64, attempt: Int, at: Date, text: String) {
        self.sequence = sequence
        self.attempt = attempt
        self.at = at
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case sequence = "seq"
        case attempt, at, text
    }
}

/// GET /v1/jobs/{id}/logs: lines after a sequence number, and the job's state (a follower stops
/// once the job is terminal and no line is left).
public struct LogPage: Codable, Sendable, Equatable {
    public var lines: [LogLine]
    public var lastSequence: Int64
    public var jobState: String

    public init(lines: [LogLine], lastSequence: Int64, jobState: String) {
        self.lines = lines
        self.lastSequence = lastSequence
        self.jobState = jobState
    }

    enum CodingKeys: String, CodingKey {
        case lines
        case lastSequence = "last_seq"
        case jobState = "job_state"
    }
}

/// POST /v1/jobs/{id}/attempts/{n}/logs: the sequence number of the last line stored.
public struct LogsAppended: Codable, Sendable, Equatable {
    public var lastSequence: Int64

    public init(lastSequence: Int64) { self.lastSequence = lastSequence }

    enum CodingKeys: String, CodingKey { case lastSequence = "last_seq" }
}
