import SpotwiseCore

/// From the assignment to a running trainer: restore (heartbeating meanwhile), then start.
extension AttemptSupervisor {
    mutating func begin(at now: Duration) -> [Item] {
        guard let wanted = settings.resume else {
            setPhase(.starting)
            return [.action(.startTrainer(resume: nil))]
        }
        setPhase(.restoring(since: now))
        // A large checkpoint takes longer than a lease to restore: heartbeat meanwhile.
        nextHeartbeat = now + settings.heartbeatPeriod
        wake(at: nextHeartbeat)
        return [.action(.restore(atMostStep: wanted))]
    }

    mutating func tick(at now: Duration) -> [Item] {
        switch phase {
        case .restoring:
            guard now >= nextHeartbeat else {
                wake(at: nextHeartbeat)
                return []
            }
            nextHeartbeat = now + settings.heartbeatPeriod
            wake(at: nextHeartbeat)
            return [.action(.heartbeat(keepAlive))]
        case .running, .draining, .lastLook: return [.action(.observe)]
        case .settlingGang: return [.stage(.settleGang)]
        case .reporting(let finished, _): return [.action(.finish(finished))]
        case .awaitingAttemptEnd(let until, let outcome):
            guard now < until else { return end(outcome) }
            return [.action(.heartbeat(keepAlive))]
        case .fencing(let why): return end(.fenced(why), after: [.killGroup])
        case .assigned, .starting, .flushing, .ended: return []
        }
    }

    mutating func restoreDone(_ restored: Restored, at now: Duration) -> [Item] {
        guard case .restoring(let since) = phase else { return [] }
        for skipped in restored.skipped {
            log("[spotwise] checkpoint at step \(skipped.step) skipped: \(skipped.reason)")
        }
        restoreMilliseconds = Self.milliseconds(now - since)
        var resume: ResumePoint?
        if let step = restored.step {
            noteCommitted(step)
            startStep = step
            log(
                "[spotwise] restored step \(step) (\(restored.bytes) bytes, hashes verified) in \(restoreMilliseconds) ms"
            )
            resume = .whole
            if let gang = settings.gang, let written = restored.writtenWorldSize {
                resume = .rank(gang.rank)
                if written != gang.worldSize {
                    log(
                        "[spotwise] the checkpoint was written by a gang of \(written); this one has \(gang.worldSize): rank \(gang.rank) resumes from its part"
                    )
                }
            }
        } else {
            log("[spotwise] no committed checkpoint verified; starting from step 0")
        }
        setPhase(.starting)
        wake(at: nil)
        return [.action(.startTrainer(resume: resume))]
    }

    mutating func trainerStarted(at now: Duration) -> [Item] {
        guard phase == .starting else { return [] }
        log("[spotwise] attempt \(settings.attempt) started on \(settings.workerID): \(settings.run)")
        setPhase(.running)
        nextHeartbeat = now
        nextFlush = now
        nextWatch = now
        return [.action(.observe)]
    }

    /// The attempt cannot go on (the storage is misconfigured, the trainer cannot be spawned, the
    /// restore failed): stop what runs and report `infrastructure`.
    mutating func infrastructureFailure(_ why: String, at now: Duration) -> [Item] {
        let started: Bool
        switch phase {
        case .running, .draining, .lastLook: started = true
        default: started = false
        }
        queue.removeAll()
        let finished = WorkerProtocol.AttemptFinished(
            epoch: settings.epoch, outcome: .infrastructure, lastStep: step, committedStep: committedStep, message: why)
        return (started ? [.action(.killGroup)] : []) + startFinish(finished, .infrastructure(why))
    }
}
