/// Something that happened to a job, fed to the state machine.
public enum JobEvent: Hashable, Sendable, Codable {
    /// The scheduler placed the job (first time or recovery): a new attempt with a new epoch.
    case placed(Placement)
    /// The attempt's worker took it and the trainer began.
    case attemptStarted(attempt: Int)
    /// The attempt ended for `reason`.
    case attemptEnded(attempt: Int, reason: AttemptEndReason)
    /// The live attempt's worker committed a checkpoint (manifest written last, hashes listed).
    case checkpointCommitted(attempt: Int, checkpoint: CommittedCheckpoint)
    /// A user asked to cancel the job.
    case cancelRequested
    /// The job cannot go on for a reason outside its attempts (e.g. `max_cost` reached).
    case abandoned(reason: String)
}

/// What the services must do because of a transition. The state machine does no I/O itself.
public enum JobAction: Hashable, Sendable, Codable {
    /// Ask a provisioner for capacity for this attempt.
    case provision(attempt: Int, epoch: LeaseEpoch, placement: Placement)
    /// Tell the attempt's worker to stop (checkpointing first when it can).
    case stopAttempt(attempt: Int, epoch: LeaseEpoch)
    /// Revoke the attempt's lease: every later write with its epoch is refused.
    case fenceAttempt(attempt: Int, epoch: LeaseEpoch)
    /// Consult the spot policy for a new placement, resuming from the newest committed checkpoint.
    case requestPlacement(resume: Bool)
    /// The trainer finished: evaluate the quality gate and register the model.
    case registerModel
    /// Write an event to the job's history.
    case recordEvent(String)
}
