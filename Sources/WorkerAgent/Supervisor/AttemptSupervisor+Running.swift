import Checkpoints
import SpotwiseCore

/// A running trainer: its progress, notices, the coordinator's commands, and the timers.
extension AttemptSupervisor {
    mutating func observed(_ observation: Observation, at now: Duration) -> [Item] {
        switch phase {
        case .running, .draining, .lastLook: break
        default: return []
        }
        pendingLogs += observation.output
        var items: [Item] = []
        for line in observation.progress { items += progressLine(line, at: now) }
        if case .running = phase, let status = observation.exitStatus {
            // The child is gone; the trainer behind a wrapper may still be writing its last
            // checkpoint: wait for the whole group (bounded), committing as it goes.
            setPhase(.draining(status: status, giveUpAt: now + settings.groupExitWait))
        }
        if case .draining(let status, let giveUpAt) = phase, !observation.groupAlive || now >= giveUpAt {
            items.append(.action(.killGroup))
            setPhase(.lastLook(status: status))  // the last output may still arrive
        } else if case .lastLook(let status) = phase {
            setPhase(.settlingGang(status: status))
        }
        return items + [.stage(.afterProgress)]
    }

    private mutating func progressLine(_ line: ProgressReader.Line, at now: Duration) -> [Item] {
        var items: [Item] = []
        if let pid = line.pid { items.append(.action(.adopt(pid: pid))) }
        if let reported = line.step {
            noteStep(reported)
            if settings.rank == 0 {
                let finite = (line.metrics ?? [:]).filter {
                    $0.value.isFinite && !$0.key.isEmpty && $0.key.count <= 100
                }
                pendingMetrics.append(
                    WorkerProtocol.MetricBatch.Line(
                        step: reported,
                        metrics: finite.count <= WorkerProtocol.MetricBatch.maxMetricsPerLine ? finite : [:]))
            }
            if !firstStepLogged, reported > startStep {
                firstStepLogged = true
                nextFlush = now  // the coordinator marks the end of overhead from it
                // Recovery, as the benchmarks split it: restore, then the first trained step.
                log(
                    "[spotwise] timing: restore \(restoreMilliseconds) ms, first step \(Self.milliseconds(now)) ms after the assignment"
                )
            }
        }
        if let total = line.totalSteps { noteTotal(total) }
        guard let name = line.checkpoint, let at = line.step else { return items }
        guard CheckpointManifest.isSafeName(name) else {
            log("[spotwise] refused checkpoint directory name '\(name)'")
            return items
        }
        if let gang = settings.gang {
            return items + [.action(.commitShard(step: at, directory: name, rank: gang.rank))]
        }
        return items + [.action(.commit(step: at, directory: name))]
    }

    /// After a look: rank 0 commits the gang steps whose shards are in, then the phase goes on.
    mutating func afterProgress(at now: Duration) -> [Item] {
        if case .settlingGang(let status) = phase {
            if status == GangExit.peerLostCode {
                // After a lost peer its shards will not come: each pending step gets one look.
                for index in pendingGang.indices { pendingGang[index].deadline = now }
            }
            return [.stage(.settleGang)]
        }
        var items = tryGangCommit()
        switch phase {
        case .running:
            if notice == nil, now >= nextWatch {
                nextWatch = now + settings.watchPeriod
                items.append(.action(.pollWatchers))
            }
        case .draining, .lastLook:
            wake(at: now + settings.drainTick)
        default: return items
        }
        return items + [.stage(.dueChecks)]
    }

    /// The timers: heartbeat, output, the kill after a notice's window or a stop's grace.
    mutating func dueChecks(at now: Duration) -> [Item] {
        var items: [Item] = []
        if now >= nextHeartbeat {
            nextHeartbeat = now + settings.heartbeatPeriod
            items.append(.action(.heartbeat(heartbeat)))
        }
        guard case .running = phase else { return items }
        if now >= nextFlush {
            nextFlush = now + settings.flushPeriod
            items += flush()
        }
        if let killAt, now >= killAt { items.append(.action(.killGroup)) }
        wake(at: now + settings.tick)
        return items
    }

    mutating func noticed(_ kind: InterruptionNotice.Kind, window: Duration?, at now: Duration) -> [Item] {
        guard case .running = phase, notice == nil else { return [] }
        if kind == .rebalance {
            // A recommendation stays up until the node goes: one checkpoint for it, not one per look.
            guard !rebalanceSeen else { return [] }
            rebalanceSeen = true
            log("[spotwise] rebalance: checkpointing now")
            return [.action(.signal(.checkpointNow))]
        }
        setNotice(kind)
        let granted = max(.seconds(1), window ?? settings.noticeWindow)
        log("[spotwise] \(kind.rawValue) notice (\(Int(granted.components.seconds)) s): checkpointing and stopping")
        killNoLaterThan(now + granted)
        // Tell the coordinator at once: its node is not placed on again, and a gang's other
        // members hear of the notice on their next heartbeat.
        nextHeartbeat = now
        return stopping == nil ? [.action(.signal(.stop))] : []
    }

    mutating func replied(_ command: WorkerProtocol.HeartbeatCommand, at now: Duration) -> [Item] {
        switch phase {
        case .restoring:
            guard command == .stop else { return [] }
            return end(.fenced("the coordinator said stop"), after: [.cancelRestore])
        case .awaitingAttemptEnd(_, let outcome):
            guard command != .stop else { return end(outcome) }
            wake(at: now + settings.attemptEndPoll)
            return []
        case .running: break
        case .settlingGang:
            // The attempt is over: the shards still missing would be refused; one more look each.
            if command == .stop { for index in pendingGang.indices { pendingGang[index].deadline = now } }
            return []
        default: return []  // the trainer has exited: what is left is committing and reporting
        }
        switch command {
        case .continue: return []
        case .checkpointNow:
            return notice == nil && stopping == nil ? [.action(.signal(.checkpointNow))] : []
        case .notice:
            guard notice == nil, stopping == nil else { return [] }
            setNotice(.gangMember)
            log("[spotwise] another member of the gang got a notice: checkpointing and stopping")
            killNoLaterThan(now + settings.noticeWindow)
            return [.action(.signal(.stop))]
        case .stop:
            guard stopping == nil else { return [] }
            setStopping("the coordinator said stop")
            killNoLaterThan(now + settings.terminationGrace)
            return notice == nil ? [.action(.signal(.stop))] : []
        }
    }

    mutating func heartbeatFailed(fenced: String?, _ message: String, at now: Duration) -> [Item] {
        guard let why = fenced else {
            if case .awaitingAttemptEnd = phase { wake(at: now + settings.attemptEndPoll) }
            return [.action(.note("heartbeat failed (training goes on): \(message)"))]
        }
        switch phase {
        case .restoring: return end(.fenced(why), after: [.cancelRestore])
        case .running:
            queue.removeAll()
            setPhase(.fencing(why))
            wake(at: now + settings.fencedGrace)
            return [.action(.signal(.stop))]
        case .awaitingAttemptEnd(_, let outcome): return end(outcome)
        case .draining, .lastLook, .settlingGang: return end(.fenced(why), after: [.killGroup])
        default: return []
        }
    }
}
