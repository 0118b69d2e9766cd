import Checkpoints
import SpotwiseCore

/// Checkpoints: a single node's commits, a gang's shards, rank 0's gang commits, and telling the
/// coordinator of each.
extension AttemptSupervisor {
    /// Rank 0: the oldest gang step waiting for shards gets a commit try.
    func tryGangCommit() -> [Item] {
        guard let first = pendingGang.first, let gang = settings.gang, gang.rank == 0 else { return [] }
        return [.action(.commitGang(step: first.step, worldSize: gang.worldSize))]
    }

    mutating func committed(_ ref: CommittedCheckpointRef) -> [Item] {
        noteCommitted(ref.step)
        return [.action(.recordCommit(ref))]
    }

    mutating func shardCommitted(_ at: Int, now: Duration) -> [Item] {
        guard settings.rank == 0 else {
            noteCommitted(at)  // this rank's shard; the step is committed by rank 0
            return []
        }
        // Committed once every rank's shard is in; tried on every look meanwhile, so heartbeats
        // go on while the other ranks upload.
        let deadline = min(killAt ?? now + settings.gangCommitWait, now + settings.gangCommitWait)
        pendingGang.append(PendingGangStep(step: at, deadline: deadline))
        return []
    }

    mutating func gangCommitted(_ ref: CommittedCheckpointRef) -> [Item] {
        pendingGang.removeAll { $0.step == ref.step }
        noteCommitted(ref.step)
        return [.action(.recordCommit(ref))] + tryGangCommit() + settledOnce()
    }

    /// A step still missing a shard at its deadline is given up (the gang resumes from an
    /// earlier one); before it, the next look tries again.
    mutating func gangIncomplete(_ at: Int, now: Duration) -> [Item] {
        guard let index = pendingGang.firstIndex(where: { $0.step == at }), now >= pendingGang[index].deadline else {
            return []
        }
        pendingGang.remove(at: index)
        log("[spotwise] gang checkpoint at step \(at) not committed: not every rank's shard arrived in time")
        return tryGangCommit() + settledOnce()
    }

    /// After the trainer exited, the last pending gang step settled: go on at once.
    private func settledOnce() -> [Item] {
        guard pendingGang.isEmpty, case .settlingGang = phase else { return [] }
        return [.stage(.settleGang)]
    }

    mutating func commitRecorded(fenced: String?) -> [Item] {
        // Unreachable (nil): the next heartbeat carries committed_step; the checkpoint is on disk.
        guard let why = fenced else { return [] }
        return end(.fenced(why), after: [.killGroup])
    }

    /// Rank 0 after its trainer exited: waits (bounded by each step's deadline) for the shards
    /// of the gang's last checkpoints, heartbeating meanwhile; then the last output goes.
    mutating func settleGang(at now: Duration) -> [Item] {
        guard case .settlingGang(let status) = phase else { return [] }
        guard pendingGang.isEmpty || settings.rank != 0 else {
            if now >= nextHeartbeat {
                nextHeartbeat = now + settings.heartbeatPeriod
                wake(at: now + settings.tick)
                return tryGangCommit() + [.action(.heartbeat(heartbeat))]
            }
            wake(at: now + settings.tick)
            return tryGangCommit()
        }
        setPhase(.flushing(status: status))
        wake(at: nil)
        return flush() + [.stage(.report)]
    }
}
