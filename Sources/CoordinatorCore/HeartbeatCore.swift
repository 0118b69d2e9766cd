import SpotwiseCore

/// The heartbeat's decisions, pure: what the worker is told to do next, and whether its notice
/// means its node is going away.
public enum HeartbeatCore {
    /// What the coordinator knows about the beat's attempt when it answers.
    public struct Attempt: Hashable, Sendable {
        /// The job ended (succeeded, failed, cancelled).
        public var jobIsTerminal: Bool
        /// The beat's epoch is still the job's live attempt.
        public var isLive: Bool
        /// The job was asked to checkpoint and stop (`max_cost`).
        public var stopAsked: Bool
        /// How many workers hold the attempt (1 for a single node).
        public var gangSize: Int
        /// A notice another member of the gang (or the coordinator, to resize) gave this attempt.
        public var gangNotice: String?

        public init(jobIsTerminal: Bool, isLive: Bool, stopAsked: Bool, gangSize: Int, gangNotice: String?) {
            self.jobIsTerminal = jobIsTerminal
            self.isLive = isLive
            self.stopAsked = stopAsked
            self.gangSize = gangSize
            self.gangNotice = gangNotice
        }
    }

    /// Heartbeat notices that mean the node is going away (a rebalance recommendation and a
    /// gang peer's notice do not).
    public static let terminationNotices: Set<String> = ["spot-termination", "preempted", "sigterm"]

    /// Whether a worker that sent `notice` is not to be placed on again (it may stay to see its
    /// attempt end).
    public static func meansLeaving(_ notice: String?) -> Bool {
        notice.map(terminationNotices.contains) ?? false
    }

    /// The command for a beat that renewed its lease: stop an attempt that is over or asked to
    /// stop; checkpoint now on the worker's own notice; pass a gang peer's notice on; else go on.
    public static func command(for attempt: Attempt, notice: String?) -> WorkerProtocol.HeartbeatCommand {
        if attempt.jobIsTerminal || !attempt.isLive || attempt.stopAsked { return .stop }
        if notice != nil { return .checkpointNow }
        if attempt.gangSize > 1, attempt.gangNotice != nil { return .notice }
        return .continue
    }
}
