/// Where a job is in its life. Terminal states never change again.
public enum JobState: String, Hashable, Sendable, Codable, CaseIterable {
    case queued
    case provisioning
    case running
    case recovering
    case succeeded
    case failed
    case cancelled

    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .queued, .provisioning, .running, .recovering: false
        }
    }

    /// States in which the job has exactly one live attempt.
    public var hasLiveAttempt: Bool { self == .provisioning || self == .running }
}

/// Why an attempt ended.
public enum AttemptEndReason: Hashable, Sendable, Codable {
    /// The trainer exited 0.
    case completed
    /// The provider took the capacity back; `withNotice` when a notice arrived first.
    case preempted(withNotice: Bool)
    /// Heartbeats stopped past the lease; the attempt is fenced off.
    case lost
    /// The trainer exited non-zero: the user's code failed.
    case userError(exitCode: Int32)
    /// Provisioning or the node failed for reasons that are not the user's code.
    case infrastructureError(String)
    /// Stopped on request.
    case cancelled
    /// An elastic gang checkpointed and stopped to restart with `to` members (capacity came
    /// back): not an interruption, and no budget is spent.
    case resized(to: Int)
}

/// The market an attempt actually runs on (a spec may say `auto`; a placement never does).
public enum Market: String, Hashable, Sendable, Codable, CaseIterable {
    case spot
    case onDemand = "on-demand"
}

/// Where an attempt runs: a pool is a provider, a region (or zone) and a market.
public struct Placement: Hashable, Sendable, Codable, CustomStringConvertible {
    public var provider: ProviderName
    public var region: String
    public var market: Market

    public init(provider: ProviderName, region: String, market: Market) {
        self.provider = provider
        self.region = region
        self.market = market
    }

    public var description: String { "\(provider.rawValue)/\(region)/\(market.rawValue)" }
}
