import Foundation
import Scheduler
import SpotwiseCore
import StateStore

/// What applying a job event came to.
enum JobEventResult {
    /// The event moved the job (and its actions were carried out); this is the job as stored now.
    case applied(StoredJob)
    /// The job, as it is now, needed no event.
    case declined(StoredJob)
}

/// The one way the coordinator moves a job: the state machine's transition, written by
/// compare-and-swap, then every action the machine asked of it carried out (`carryOut`).
struct JobEvents: Sendable {
    let store: any StateStore
    let board: LiveBoard
    let clock: any CoordinatorClock

    /// What an attempt the scheduler placed starts with: its lease and its ledger row, written
    /// with the placement in one transaction (`StateStore.place`).
    typealias Provision =
        @Sendable (_ job: StoredJob, _ attempt: Int, _ epoch: LeaseEpoch) -> (
            lease: Lease, segment: AttemptSegment
        )

    /// Applies to a job the state-machine event that `event` picks for the job as it is now, by
    /// compare-and-swap on its version, writing the transition's history lines with it. On a
    /// conflict it rereads and asks `event` again. Throws `jobNotFound`, the machine's
    /// `JobTransitionError` when it refuses, or `versionConflict` (or `staleEpoch`) when the job
    /// kept changing.
    /// `amend` adds to the new record what the event carries beside the transition (final metrics).
    /// A placement (`provision` gives its lease and ledger row) refused because the store already
    /// holds a newer lease epoch for the job is tried again past that epoch. Once written, the
    /// transition's actions are carried out (see `carryOut` for `afterFence`).
    func apply(
        to id: JobID, at date: Date, _ event: (StoredJob) -> JobEvent?, amend: (inout JobRecord) -> Void = { _ in },
        note: String? = nil, afterFence: (StoredJob) async throws -> Void = { _ in }, provision: Provision? = nil
    ) async throws -> JobEventResult {
        var conflict: StateStoreError?
        // The newest lease epoch the store holds for the job, when a placement found it ahead of
        // the job's record: the attempt then takes the epoch after it, so it can be granted.
        var epochTaken: LeaseEpoch?
        for _ in 0..<5 {
            guard let job = try await store.job(id) else { throw StateStoreError.jobNotFound(id) }
            guard let chosen = event(job) else { return .declined(job) }
            var record = job.record
            let skipped = epochTaken.flatMap { $0 > record.latestEpoch ? $0 : nil }
            if let skipped { record.latestEpoch = skipped }
            var transition = try JobStateMachine.apply(chosen, to: record)
            amend(&transition.record)
            var lines = transition.actions.compactMap { action -> String? in
                if case .recordEvent(let line) = action { return line }
                return nil
            }
            if let skipped {
                lines.append(
                    "lease epoch \(skipped) is already in the store, ahead of the job's record: the attempt takes a newer one"
                )
            }
            if let note { lines.append(note) }
            let stored: StoredJob
            do {
                if let (attempt, epoch) = Self.provisioned(transition.actions) {
                    // A placement is written whole with its lease and ledger row, or not at all.
                    // Only the scheduler places, with its provisioning; without it nothing is written.
                    guard let provision else { throw UnprovisionedPlacement(job: job.id) }
                    let started = provision(job, attempt, epoch)
                    stored = try await store.place(
                        id, expectedVersion: job.version, record: transition.record, events: lines,
                        lease: started.lease, segment: started.segment, at: date)
                } else {
                    stored = try await store.update(
                        id, expectedVersion: job.version, record: transition.record, events: lines, at: date)
                }
            } catch let error as StateStoreError {
                switch error {
                case .versionConflict:
                    conflict = error
                case .staleEpoch(_, _, let current?) where Self.provisioned(transition.actions) != nil:
                    // A lease newer than the job's record: never placed again on the same refused
                    // epoch (that would keep the job waiting for good); the next try goes past it.
                    guard epochTaken.map({ current > $0 }) ?? true else { throw error }
                    epochTaken = current
                    conflict = error
                default:
                    throw error
                }
                continue
            }
            try await carryOut(transition.actions, of: stored, afterFence: afterFence)
            return .applied(stored)
        }
        throw conflict!
    }

    /// The attempt a transition provisions (a placement), if it does.
    static func provisioned(_ actions: [JobAction]) -> (attempt: Int, epoch: LeaseEpoch)? {
        for action in actions {
            if case .provision(let attempt, let epoch, _) = action { return (attempt, epoch) }
        }
        return nil
    }

    /// Carries out what the state machine asked of a transition, in its order, every action
    /// handled here. `afterFence` runs right after the attempt is fenced, before what follows (the
    /// attempt's ledger row is closed there, so the gate prices the finished attempt); without a
    /// fence, after the rest.
    func carryOut(
        _ actions: [JobAction], of job: StoredJob, afterFence: (StoredJob) async throws -> Void
    ) async throws {
        var fenced = false
        for action in actions {
            switch action {
            case .recordEvent:
                break  // written with the transition, in the same compare-and-swap
            case .fenceAttempt(_, let epoch):
                // Every later write with the attempt's epoch is refused.
                try await store.revokeLease(job: job.id, epoch: epoch)
                try await afterFence(job)
                fenced = true
            case .stopAttempt:
                // Nothing to send: the attempt is no longer live, so its worker's next heartbeat
                // is answered `stop` (`HeartbeatCore`), and the fence refuses its writes.
                break
            case .requestPlacement:
                // The job is recovering: the next scheduling pass places it, from its newest
                // committed checkpoint.
                break
            case .provision:
                // Written with the transition: the lease and the ledger row (`StateStore.place`).
                break
            case .registerModel:
                // The gate now; a failure here is retried by the scheduler's gate sweep, never lost.
                do {
                    try await ModelDecisions(store: store, board: board, clock: clock).decide(job)
                } catch {
                    try? await store.appendHistory(
                        job: job.id, lines: ["model decision failed (the scheduler retries it): \(error)"],
                        at: clock.now)
                }
            }
        }
        if !fenced { try await afterFence(job) }
    }
}

/// A placement on a capacity offer reached the lease grant (a launch is not a placement): a bug,
/// reported instead of taking the coordinator down.
struct PlacementOnOffer: Error, CustomStringConvertible {
    var job: JobID
    var target: PlacementTarget
    var description: String { "job \(job): \(target) is capacity to launch, not a worker to lease" }
}

/// A placement was applied by a caller that cannot provision its attempt (only the scheduler
/// can): a bug, reported instead of taking the coordinator down. Nothing was written.
struct UnprovisionedPlacement: Error, CustomStringConvertible {
    var job: JobID
    var description: String { "job \(job): a placement was applied without provisioning its attempt" }
}
