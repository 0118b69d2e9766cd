/// A job's identifier, assigned by the coordinator at submission.
public struct JobID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The fencing token of an attempt. Every placement of a job gets a strictly larger epoch; a write
/// that carries an older epoch than the job's current one is refused and changes nothing.
public struct LeaseEpoch: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static let none = LeaseEpoch(0)
    public var next: LeaseEpoch { LeaseEpoch(value + 1) }
    public var description: String { String(value) }
    public static func < (lhs: LeaseEpoch, rhs: LeaseEpoch) -> Bool { lhs.value < rhs.value }
}

/// A worker agent's identifier, assigned by the coordinator when the worker registers. On the wire
/// and in the store it is the plain string (`"worker_id": "w-..."`).
public struct WorkerID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringInterpolation
{
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }
    public static func < (lhs: WorkerID, rhs: WorkerID) -> Bool { lhs.rawValue < rhs.rawValue }
}
