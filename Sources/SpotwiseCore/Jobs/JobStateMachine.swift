/// Why an event was refused. A refused event changes nothing.
public enum JobTransitionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The job already ended; nothing moves it again.
    case jobIsTerminal(JobState)
    /// The event names an attempt that is not the live one (a fenced-off, older attempt).
    case staleAttempt(event: Int, live: Int?)
    /// The event makes no sense in this state (e.g. a start while queued).
    case notAllowed(event: String, state: JobState)

    public var description: String {
        switch self {
        case .jobIsTerminal(let state): "the job is already \(state.rawValue)"
        case .staleAttempt(let event, let live):
            "attempt \(event) is not the live attempt (\(live.map { "live: \($0)" } ?? "none is live"))"
        case .notAllowed(let event, let state): "\(event) is not allowed while the job is \(state.rawValue)"
        }
    }
}

/// The result of applying one event: the new record and what the services must do.
public struct JobTransition: Hashable, Sendable {
    public var record: JobRecord
    public var actions: [JobAction]

    public init(record: JobRecord, actions: [JobAction]) {
        self.record = record
        self.actions = actions
    }
}

/// The job state machine: pure, synchronous, no I/O. Event in, new state and actions out.
///
/// ```
/// queued --placed--> provisioning --started--> running --ended(completed)--> succeeded
///                         |                       |
///                         +------ended(preempted, lost, error)------> recovering --placed--> provisioning
///                                        (budget spent) --> failed
/// any non-terminal --cancelRequested--> cancelled      any non-terminal --abandoned--> failed
/// ```
public enum JobStateMachine {
    public static func apply(_ event: JobEvent, to record: JobRecord) throws(JobTransitionError) -> JobTransition {
        guard !record.state.isTerminal else { throw .jobIsTerminal(record.state) }
        var next = record
        switch event {
        case .placed(let placement):
            guard record.state == .queued || record.state == .recovering else {
                throw .notAllowed(event: "placing the job", state: record.state)
            }
            next.attemptCount += 1
            next.latestEpoch = record.latestEpoch.next
            next.liveAttempt = LiveAttempt(number: next.attemptCount, epoch: next.latestEpoch, placement: placement)
            next.state = .provisioning
            return JobTransition(
                record: next,
                actions: [
                    .provision(attempt: next.attemptCount, epoch: next.latestEpoch, placement: placement),
                    .recordEvent("attempt \(next.attemptCount) placed on \(placement) (epoch \(next.latestEpoch))"),
                ])

        case .attemptStarted(let attempt):
            let live = try liveAttempt(attempt, in: record)
            guard record.state == .provisioning else {
                throw .notAllowed(event: "starting an attempt", state: record.state)
            }
            next.liveAttempt?.started = true
            next.state = .running
            return JobTransition(record: next, actions: [.recordEvent("attempt \(live.number) started")])

        case .attemptEnded(let attempt, let reason):
            let live = try liveAttempt(attempt, in: record)
            return try end(live, reason: reason, record: record)

        case .checkpointCommitted(let attempt, let checkpoint):
            let live = try liveAttempt(attempt, in: record)
            guard checkpoint.attempt == live.number else {
                throw .staleAttempt(event: checkpoint.attempt, live: live.number)
            }
            next.committedCheckpoint = checkpoint
            return JobTransition(
                record: next,
                actions: [.recordEvent("attempt \(live.number) committed checkpoint at step \(checkpoint.step)")])

        case .cancelRequested:
            next.state = .cancelled
            next.liveAttempt = nil
            next.outcome = "cancelled on request"
            var actions: [JobAction] = []
            if let live = record.liveAttempt {
                actions.append(.stopAttempt(attempt: live.number, epoch: live.epoch))
                actions.append(.fenceAttempt(attempt: live.number, epoch: live.epoch))
            }
            actions.append(.recordEvent("job cancelled on request"))
            return JobTransition(record: next, actions: actions)

        case .abandoned(let reason):
            next.state = .failed
            next.liveAttempt = nil
            next.outcome = reason
            var actions: [JobAction] = []
            if let live = record.liveAttempt {
                actions.append(.stopAttempt(attempt: live.number, epoch: live.epoch))
                actions.append(.fenceAttempt(attempt: live.number, epoch: live.epoch))
            }
            actions.append(.recordEvent("job failed: \(reason)"))
            return JobTransition(record: next, actions: actions)
        }
    }

    private static func liveAttempt(_ attempt: Int, in record: JobRecord) throws(JobTransitionError) -> LiveAttempt {
        guard let live = record.liveAttempt, live.number == attempt else {
            throw .staleAttempt(event: attempt, live: record.liveAttempt?.number)
        }
        return live
    }

    private static func end(_ live: LiveAttempt, reason: AttemptEndReason, record: JobRecord) throws(JobTransitionError)
        -> JobTransition
    {
        var next = record
        next.liveAttempt = nil
        let fence = JobAction.fenceAttempt(attempt: live.number, epoch: live.epoch)
        let name = "attempt \(live.number)"

        func retry(_ what: String) -> JobTransition {
            next.state = .recovering
            return JobTransition(
                record: next,
                actions: [fence, .recordEvent("\(name) \(what); recovering"), .requestPlacement(resume: true)])
        }
        func fail(_ why: String) -> JobTransition {
            next.state = .failed
            next.outcome = why
            return JobTransition(record: next, actions: [fence, .recordEvent("\(name): job failed: \(why)")])
        }
        func spendPreemption(_ what: String) -> JobTransition {
            next.preemptions += 1
            if let limit = record.budget.maxPreemptions, next.preemptions > limit {
                return fail("\(what), and the preemption budget (\(limit)) is spent")
            }
            return retry(what)
        }

        switch reason {
        case .completed:
            guard live.started else {
                throw .notAllowed(event: "completing an attempt that never started", state: record.state)
            }
            next.state = .succeeded
            next.outcome = "training completed"
            return JobTransition(record: next, actions: [fence, .recordEvent("\(name) completed"), .registerModel])
        case .preempted(let withNotice):
            return spendPreemption(withNotice ? "preempted with notice" : "preempted without notice")
        case .lost:
            return spendPreemption("lost (heartbeat lease expired)")
        case .resized(let size):
            return retry("checkpointed to restart as a gang of \(size)")
        case .userError(let exitCode):
            guard live.started else {
                throw .notAllowed(event: "a trainer exit before the attempt started", state: record.state)
            }
            if record.budget.retryOnExitCodes.contains(exitCode) {
                return spendPreemption("exited with retryable code \(exitCode)")
            }
            next.failures += 1
            if next.failures > record.budget.maxFailures {
                return fail(
                    "trainer exited with code \(exitCode), and the failure budget (\(record.budget.maxFailures)) is spent"
                )
            }
            return retry("failed with exit code \(exitCode)")
        case .infrastructureError(let detail):
            next.infrastructureErrors += 1
            if next.infrastructureErrors > record.budget.maxInfrastructureErrors {
                return fail(
                    "infrastructure error (\(detail)), and the infrastructure budget (\(record.budget.maxInfrastructureErrors)) is spent"
                )
            }
            return retry("hit an infrastructure error (\(detail))")
        case .cancelled:
            next.state = .cancelled
            next.outcome = "cancelled"
            return JobTransition(record: next, actions: [fence, .recordEvent("\(name) cancelled; job cancelled")])
        }
    }
}
