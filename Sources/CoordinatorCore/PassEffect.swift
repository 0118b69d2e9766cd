import Scheduler
import SpotwiseCore

/// What a scheduling pass decided to do, for the driver to carry out in order. Every effect that
/// writes is carried out through the store the driver holds (a leader's fenced view among
/// replicas), so a deposed leader's effects change nothing.
public enum PassEffect: Hashable, Sendable {
    /// A live attempt with no lease of its epoch: a pass died between placing it and granting
    /// its lease, so no worker can write for it. Ended as lost (placed again), unless the store,
    /// read once more, shows its lease after all.
    case endOrphan(job: JobID, attempt: Int, epoch: LeaseEpoch)
    /// A running attempt reached its job's `max_cost`: `line` goes to the history first, then the
    /// attempt is asked to checkpoint and stop (heartbeats answer `stop`).
    case askToStop(job: JobID, line: String, committedStep: Int?)
    /// The job fails with `reason`; a live attempt it still has ends (`max_cost`: as stopped).
    case abandon(job: JobID, reason: String, cause: AbandonCause)
    /// A succeeded job whose model was never decided: evaluate its gate and register it.
    case decideModel(JobID)
    /// An elastic gang has idle workers of its pool again: `line` goes to the history first, then
    /// its attempt is asked to checkpoint and restart with `size` members.
    case resize(job: JobID, epoch: LeaseEpoch, size: Int, line: String)
    /// Launch capacity of the offer's pool for the job (it waits for its worker to register).
    case launch(PlannedPlacement)
    /// Start the job's next attempt on registered workers: the transition, its lease, its
    /// ledger row. `onReservedCapacity`: the worker is capacity launched for this job.
    case place(PlannedPlacement, onReservedCapacity: Bool)
}

/// Why the coordinator failed a job on its own.
public enum AbandonCause: Hashable, Sendable {
    /// What it cost reached its `max_cost`.
    case maxCost
    /// Capacity launches failed (other than for capacity) more often than its infrastructure budget.
    case failedLaunches
}

/// One pass's decision: its effects, in the order to carry them out, and why each job that is
/// not placed waits.
public struct PassDecision: Hashable, Sendable {
    public var effects: [PassEffect] = []
    public var waiting: [JobID: String] = [:]
    /// The waiting jobs the planner considered (neither on capacity launched for them nor waiting
    /// for such capacity to register).
    public var planned: [JobID] = []

    public init(effects: [PassEffect] = [], waiting: [JobID: String] = [:]) {
        self.effects = effects
        self.waiting = waiting
    }

    /// The placements (registered workers and launches), in the order decided.
    public var placements: [PlannedPlacement] {
        effects.compactMap { effect in
            switch effect {
            case .place(let placement, _), .launch(let placement): placement
            default: nil
            }
        }
    }

    /// The jobs the pass fails.
    public var abandoned: [JobID] {
        effects.compactMap { if case .abandon(let job, _, _) = $0 { job } else { nil } }
    }
}
