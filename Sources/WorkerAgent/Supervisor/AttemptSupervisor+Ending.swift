import SpotwiseCore

/// How the attempt ends: what the trainer's exit means, the model it leaves, and the report.
extension AttemptSupervisor {
    /// After the last output: decide the report from the exit status, the notice and a stop.
    mutating func report(at now: Duration) -> [Item] {
        guard case .flushing(let status) = phase else { return [] }
        if let stopping, notice == nil {
            // `max_cost` or a cancel: the coordinator ends the attempt itself.
            return end(.fenced(stopping))
        }
        if status == 0, settings.rank == 0 {
            // Completed, unless a notice came and the trainer only stopped early: its output tells.
            return [.action(.readOutputMetrics)]
        }
        return endingAfterNotice(status: status, at: now)
    }

    /// The ending of a trainer that did not complete (or a gang member that is not rank 0).
    private mutating func endingAfterNotice(status: Int32, at now: Duration) -> [Item] {
        let seen = notice.map { InterruptionNotice(kind: $0) }
        if let gang = settings.gang, let ending = GangExit(status: status, rank: gang.rank, notice: seen) {
            guard case .preempted(let withNotice) = ending.report else {
                guard ending.waitForAttemptEnd else { return end(ending.outcome) }
                // Rank 0 is committing the gang's checkpoint: heartbeat until the attempt is over.
                setPhase(.awaitingAttemptEnd(until: killAt ?? now + settings.noticeWindow, outcome: ending.outcome))
                wake(at: now + settings.attemptEndPoll)
                return [.action(.heartbeat(keepAlive))]
            }
            return startFinish(preempted(withNotice: withNotice), ending.outcome)
        }
        if notice != nil {
            return startFinish(preempted(withNotice: true), .preempted(committedStep: committedStep))
        }
        let failed = WorkerProtocol.AttemptFinished(
            epoch: settings.epoch, outcome: .failed, exitCode: status, lastStep: step, committedStep: committedStep)
        return startFinish(failed, .failed(exitCode: status))
    }

    private func preempted(withNotice: Bool) -> WorkerProtocol.AttemptFinished {
        WorkerProtocol.AttemptFinished(
            epoch: settings.epoch, outcome: .preempted, notice: withNotice, lastStep: step, committedStep: committedStep
        )
    }

    /// Whether the trainer said it trained every step.
    var reachedTotalSteps: Bool {
        guard let totalSteps, let step else { return false }
        return step >= totalSteps
    }

    /// Rank 0's trainer exited 0. After a notice, that is a completion only when the trainer left
    /// its final metrics or reached its last step; otherwise it stopped for the notice.
    mutating func outputRead(_ metrics: [String: Double]?, at now: Duration) -> [Item] {
        guard case .flushing(let status) = phase else { return [] }
        if notice != nil, metrics == nil, !reachedTotalSteps {
            return endingAfterNotice(status: status, at: now)
        }
        outputMetrics = metrics
        return [.action(.commitOutput)]
    }

    /// The output directory is the model: committed like a checkpoint, for the registry.
    mutating func outputCommitted(_ artifact: ModelArtifact?) -> [Item] {
        guard case .flushing = phase else { return [] }
        let finished = WorkerProtocol.AttemptFinished(
            epoch: settings.epoch, outcome: .completed, lastStep: step, committedStep: committedStep,
            metrics: outputMetrics, artifact: artifact)
        let note: [Item] = artifact == nil ? [.action(.note("could not commit the trainer's output"))] : []
        return note + startFinish(finished, .completed)
    }

    mutating func startFinish(_ finished: WorkerProtocol.AttemptFinished, _ outcome: AttemptOutcome) -> [Item] {
        setPhase(.reporting(finished, outcome))
        finishTries = 0
        wake(at: nil)
        return [.action(.finish(finished))]
    }

    mutating func finishAcknowledged() -> [Item] {
        guard case .reporting(_, let outcome) = phase else { return [] }
        return end(outcome)
    }

    /// Retried with backoff (0.25 s doubling to 8 s, each wait between half and all of that,
    /// spread by worker so that agents do not retry in step after an outage), `finishTries`
    /// times; fenced ends it.
    mutating func finishFailed(fenced: String?, at now: Duration) -> [Item] {
        guard case .reporting(_, let outcome) = phase else { return [] }
        if let why = fenced { return end(.fenced(why)) }
        finishTries += 1
        guard finishTries < settings.finishTries else { return end(outcome) }
        wake(at: now + Self.backoff(try: finishTries, worker: settings.workerID))
        return []
    }

    /// The wait before try `n + 1`: a ceiling of 0.25 s doubling to 8 s, and a point between half
    /// and all of it that depends on the worker and the try (FNV-1a: stable, no randomness).
    static func backoff(try n: Int, worker: WorkerID) -> Duration {
        let ceiling = min(8_000, 250 << min(n - 1, 5))
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(worker.rawValue.utf8) + [UInt8(truncatingIfNeeded: n)] {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return .milliseconds(ceiling / 2 + Int(hash % UInt64(ceiling / 2 + 1)))
    }
}
