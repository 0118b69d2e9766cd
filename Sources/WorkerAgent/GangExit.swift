/// What a gang member does when its trainer exits, by the trainer contract's gang exit codes:
/// 143 after checkpointing on a notice (its own or a peer's: the notice travels with the gang's
/// traffic), 75 when it lost a peer. Rank 0 reports the gang's stop on a notice and its
/// completion (it commits the gang's checkpoints); any rank reports a lost peer at once, so the
/// gang restarts without waiting for the lost member's lease. Only a member whose own node got
/// the notice leaves afterwards: the others stay to be placed again.
struct GangExit: Equatable {
    enum Report: Equatable {
        case preempted(withNotice: Bool)
    }

    /// What to tell the coordinator (nil: nothing; rank 0 reports for the gang).
    var report: Report?
    var outcome: AttemptOutcome
    /// A member that is not rank 0 and got its own node's notice keeps heartbeating until the
    /// attempt has ended (rank 0 is committing the gang's checkpoint), then leaves.
    var waitForAttemptEnd: Bool

    static let noticeStop: Int32 = 143
    static let peerLostCode: Int32 = 75

    /// Nil: not a gang ending; report as a single node would (a failure).
    init?(status: Int32, rank: Int, notice: InterruptionNotice?) {
        let ownNotice = notice.map { $0.isTermination && $0.kind != .gangMember } ?? false
        let stayed = AttemptOutcome.gangStopped("the gang stopped for a member's notice; this node stays")
        waitForAttemptEnd = false
        switch status {
        case Self.peerLostCode:
            report = .preempted(withNotice: false)
            outcome = ownNotice ? .preempted(committedStep: nil) : .gangStopped("lost a peer; the gang restarts")
        case 0 where rank != 0:
            report = nil
            outcome = .completed
        case _ where status == Self.noticeStop || notice != nil:
            if rank == 0 {
                report = .preempted(withNotice: true)
            } else {
                report = nil
                waitForAttemptEnd = ownNotice
            }
            outcome = ownNotice ? .preempted(committedStep: nil) : stayed
        default:
            return nil
        }
    }
}
