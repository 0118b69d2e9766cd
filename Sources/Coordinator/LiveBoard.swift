import CoordinatorCore
import SpotwiseCore
import StateStore
import Synchronization

/// What the coordinator knows only while it runs: when each worker was last heard from, the
/// progress each live attempt's trainer reported, and why waiting jobs wait. Kept in memory on
/// purpose: after a restart workers report all of it again within one heartbeat period.
///
/// Among replicas (`sharing`), what decides for a worker or job that may talk to another replica
/// is also kept in an outbox that `BoardSyncService` shares through the database, and what the
/// others shared is merged in: when each worker was last heard from and whether its node is
/// going away (for the leader's placements and every replica's gang checks), and what was asked
/// of a job (stop at `max_cost`, a gang's resize or a member's notice). Progress, pace and
/// waiting reasons stay each replica's own.
public final class LiveBoard: Sendable {
    public struct Progress: Sendable {
        public var attempt: Int
        public var epoch: LeaseEpoch
        public var step: Int?
        public var totalSteps: Int?
        public var committedStep: Int?
        /// Seconds per step, smoothed over heartbeats (nil until two heartbeats moved the step).
        public var secondsPerStep: Double?
        var lastStepAt: (step: Int, milliseconds: Int64)?
    }

    struct State {
        var lastSeen: [WorkerID: Int64] = [:]
        /// Workers of a gang whose attempt ended with another member's report: since when they
        /// have not been heard from (one of them may be the member that was lost).
        var suspected: [WorkerID: Int64] = [:]
        /// Workers that reported a termination notice: their node is going away.
        var leaving: Set<WorkerID> = []
        /// When each worker last said whether it is leaving (a notice, or asking for work again).
        var leavingSaid: [WorkerID: Int64] = [:]
        var progress: [JobID: Progress] = [:]
        var waiting: [JobID: String] = [:]
        /// Jobs asked to checkpoint and stop (max_cost reached): since when, and the checkpoint
        /// step they had then.
        var stopping: [JobID: (sinceMilliseconds: Int64, committedStep: Int?)] = [:]
        /// The newest pace measured per job, kept across attempts for the policy's work estimate.
        var pace: [JobID: (secondsPerStep: Double, totalSteps: Int)] = [:]
        /// Gang attempts: when each member was last heard from, and whether one saw a notice.
        var gangs: [JobID: GangAttempt] = [:]
        /// Among replicas: what changed here and is not shared yet.
        var presenceOut: [WorkerID: WorkerPresence] = [:]
        var directivesOut: [JobID: JobDirective] = [:]
    }

    private let state = Mutex(State())
    /// Whether changes are kept for `BoardSyncService` to share with other replicas.
    public let sharing: Bool

    public init(sharing: Bool = false) { self.sharing = sharing }

    public func sawWorker(_ id: WorkerID, atMilliseconds now: Int64) {
        state.withLock { state in
            state.lastSeen[id] = max(now, state.lastSeen[id] ?? .min)
            if let since = state.suspected[id], now >= since { state.suspected[id] = nil }
            if sharing { state.outbox(presenceOf: id) }
        }
    }

    /// These workers are not placed on again until heard from after `now`.
    public func suspect(_ workers: [WorkerID], atMilliseconds now: Int64) {
        state.withLock { state in for worker in workers { state.suspected[worker] = now } }
    }

    /// When the worker was last heard from, if it counts as live for placement: heard from at all,
    /// not suspected since, and not going away.
    public func placeable(_ id: WorkerID) -> Int64? {
        state.withLock { state in
            state.suspected[id] == nil && !state.leaving.contains(id) ? state.lastSeen[id] : nil
        }
    }

    /// The worker reported a termination notice (its node is going away: it is not placed on),
    /// or asked for work again (it stayed after all).
    func setLeaving(_ id: WorkerID, _ leaving: Bool, atMilliseconds now: Int64) {
        state.withLock { state in
            // Among replicas a word older than one merged from another replica changes nothing.
            if sharing, let said = state.leavingSaid[id], now < said { return }
            if leaving { state.leaving.insert(id) } else { state.leaving.remove(id) }
            // Among replicas every word counts, changed here or not: another replica may have
            // heard the opposite earlier.
            guard sharing else { return }
            state.leavingSaid[id] = now
            state.outbox(presenceOf: id)
        }
    }

    /// Whether the worker said its node is going away.
    func isLeaving(_ id: WorkerID) -> Bool { state.withLock { $0.leaving.contains(id) } }

    public func lastSeen(_ id: WorkerID) -> Int64? { state.withLock { $0.lastSeen[id] } }

    /// Records what a heartbeat said about its attempt; a newer attempt replaces an older one.
    public func report(
        job: JobID, attempt: Int, epoch: LeaseEpoch, step: Int?, totalSteps: Int?, committedStep: Int?,
        atMilliseconds now: Int64
    ) {
        state.withLock { state in
            var progress = state.progress[job]
            if progress == nil || progress!.epoch < epoch {
                progress = Progress(attempt: attempt, epoch: epoch)
            }
            guard var current = progress, current.epoch == epoch else { return }
            if let step {
                if let last = current.lastStepAt, step > last.step, now > last.milliseconds {
                    let measured = Double(now - last.milliseconds) / 1000 / Double(step - last.step)
                    current.secondsPerStep = current.secondsPerStep.map { 0.7 * $0 + 0.3 * measured } ?? measured
                }
                if current.lastStepAt == nil || step != current.lastStepAt!.step {
                    current.lastStepAt = (step, now)
                }
                current.step = step
            }
            current.totalSteps = totalSteps ?? current.totalSteps
            current.committedStep = committedStep ?? current.committedStep
            if let pace = current.secondsPerStep, let total = current.totalSteps {
                state.pace[job] = (pace, total)
            }
            state.progress[job] = current
        }
    }

    public func progress(_ job: JobID) -> Progress? { state.withLock { $0.progress[job] } }

    public func pace(_ job: JobID) -> (secondsPerStep: Double, totalSteps: Int)? {
        state.withLock { $0.pace[job] }
    }

    public func setWaiting(_ reasons: [JobID: String]) { state.withLock { $0.waiting = reasons } }

    /// Heartbeats of `job`'s attempt are answered `stop` from now on (the lease stays live, so the
    /// checkpoint the trainer writes on SIGTERM is still accepted). Returns false if already asked.
    @discardableResult
    func requestStop(_ job: JobID, atMilliseconds now: Int64, committedStep: Int?) -> Bool {
        state.withLock { state in
            guard state.stopping[job] == nil else { return false }
            state.stopping[job] = (now, committedStep)
            if sharing {
                state.outbox(
                    JobDirective(job: job, stop: .init(sinceMilliseconds: now, committedStep: committedStep)))
            }
            return true
        }
    }

    func stopRequest(_ job: JobID) -> (sinceMilliseconds: Int64, committedStep: Int?)? {
        state.withLock { $0.stopping[job] }
    }

    func clearStop(_ job: JobID) {
        state.withLock { state in
            state.stopping.removeValue(forKey: job)
            if sharing { state.outbox(JobDirective(job: job, clearsStop: true)) }
        }
    }
    public func waiting(_ job: JobID) -> String? { state.withLock { $0.waiting[job] } }

    /// A member of `job`'s gang attempt `epoch` was heard from (or placed); a newer epoch replaces
    /// the older gang.
    func sawMember(_ worker: WorkerID, job: JobID, epoch: LeaseEpoch, atMilliseconds now: Int64, notice: String? = nil)
    {
        state.withLock { state in
            guard var gang = GangAttempt.of(epoch: epoch, known: state.gangs[job], at: now) else { return }
            if gang.heard(worker, at: now, notice: notice), sharing {
                state.outbox(JobDirective(job: job, gangEpoch: epoch, gangNotice: gang.notice))
            }
            state.gangs[job] = gang
        }
    }

    /// The first member of the gang not heard from for more than `silenceMilliseconds`, with how
    /// long; nil when all are live. A member this process never heard from (it restarted) counts
    /// from now: the same grace every lease gets after a restart.
    func silentMember(
        of members: [WorkerID], job: JobID, epoch: LeaseEpoch, atMilliseconds now: Int64, silenceMilliseconds: Int64
    ) -> (worker: WorkerID, milliseconds: Int64)? {
        state.withLock { state in
            guard var gang = GangAttempt.of(epoch: epoch, known: state.gangs[job], at: now) else { return nil }
            // Among replicas: heard from by this gang here, or by any replica since (shared
            // presence). A single coordinator hears every heartbeat itself.
            let silent = gang.silentMember(
                of: members, at: now, silenceMilliseconds: silenceMilliseconds,
                heardElsewhere: sharing ? state.lastSeen : [:])
            state.gangs[job] = gang
            return silent
        }
    }

    /// Asks an elastic gang's attempt to checkpoint and stop so that it restarts with `size`
    /// members (its heartbeats answer `notice`). Only once per attempt, and only for a gang this
    /// process has known for `minimumAgeMilliseconds`; returns whether it asked.
    func requestResize(
        _ job: JobID, epoch: LeaseEpoch, to size: Int, atMilliseconds now: Int64, minimumAgeMilliseconds: Int64
    ) -> Bool {
        state.withLock { state in
            guard var gang = state.gangs[job], gang.epoch == epoch,
                gang.requestResize(to: size, at: now, minimumAgeMilliseconds: minimumAgeMilliseconds)
            else { return false }
            state.gangs[job] = gang
            if sharing {
                state.outbox(JobDirective(job: job, gangEpoch: epoch, resizeTo: size, gangNotice: gang.notice))
            }
            return true
        }
    }

    /// The gang attempt of `job` as this process knows it, for the scheduling core.
    func gang(_ job: JobID) -> GangAttempt? { state.withLock { $0.gangs[job] } }

    /// The size the gang attempt was asked to restart with, if it was.
    func resizeTarget(_ job: JobID, epoch: LeaseEpoch) -> Int? {
        state.withLock { state in state.gangs[job].flatMap { $0.epoch == epoch ? $0.resizeTo : nil } }
    }

    /// The interruption notice a member of the gang attempt reported (`worker: kind`), if any.
    func gangNotice(_ job: JobID, epoch: LeaseEpoch) -> String? {
        state.withLock { state in state.gangs[job].flatMap { $0.epoch == epoch ? $0.notice : nil } }
    }
}

extension LiveBoard.State {
    mutating func outbox(presenceOf worker: WorkerID) {
        guard let seen = lastSeen[worker] else { return }
        presenceOut[worker] = WorkerPresence(
            worker: worker, seenAtMilliseconds: seen, leaving: leaving.contains(worker),
            leavingSaidAtMilliseconds: leavingSaid[worker])
    }

    mutating func outbox(_ directive: JobDirective) {
        directivesOut[directive.job] = directive.merged(into: directivesOut[directive.job])
        if directive.clearsStop { directivesOut[directive.job]?.clearsStop = true }
    }
}

extension LiveBoard {
    /// What changed here since the last call, to share (`BoardSyncService`).
    public func takeOutbox() -> (presence: [WorkerPresence], directives: [JobDirective]) {
        state.withLock { state in
            defer {
                state.presenceOut.removeAll()
                state.directivesOut.removeAll()
            }
            return (Array(state.presenceOut.values), Array(state.directivesOut.values))
        }
    }

    /// Puts back what could not be shared; anything newer that arrived meanwhile wins.
    public func requeue(presence: [WorkerPresence], directives: [JobDirective]) {
        state.withLock { state in
            for row in presence where state.presenceOut[row.worker] == nil { state.presenceOut[row.worker] = row }
            for directive in directives {
                let newer = state.directivesOut[directive.job]
                var merged = newer.map { $0.merged(into: directive) } ?? directive
                merged.clearsStop = directive.clearsStop || (newer?.clearsStop ?? false)
                state.directivesOut[directive.job] = merged
            }
        }
    }

    /// What other replicas heard from workers: the newest sighting wins, and the newest word on
    /// leaving (whichever sighting carried it); a sighting after a suspicion lifts it.
    public func merge(presence rows: [WorkerPresence]) {
        state.withLock { state in
            for row in rows {
                state.lastSeen[row.worker] = max(row.seenAtMilliseconds, state.lastSeen[row.worker] ?? .min)
                if let said = row.leavingSaidAtMilliseconds, said > (state.leavingSaid[row.worker] ?? .min) {
                    state.leavingSaid[row.worker] = said
                    if row.leaving { state.leaving.insert(row.worker) } else { state.leaving.remove(row.worker) }
                }
                if let since = state.suspected[row.worker], row.seenAtMilliseconds >= since {
                    state.suspected[row.worker] = nil
                }
            }
        }
    }

    /// What other replicas asked of jobs: a stop asked anywhere is asked here; a gang's resize
    /// or notice for its current attempt joins (or starts) this replica's picture of the gang.
    public func merge(directives rows: [JobDirective], atMilliseconds now: Int64) {
        state.withLock { state in
            for row in rows {
                if let stop = row.stop, state.stopping[row.job] == nil {
                    state.stopping[row.job] = (stop.sinceMilliseconds, stop.committedStep)
                }
                guard let epoch = row.gangEpoch, row.resizeTo != nil || row.gangNotice != nil else { continue }
                guard var gang = GangAttempt.of(epoch: epoch, known: state.gangs[row.job], at: now) else { continue }
                gang.join(resizeTo: row.resizeTo, notice: row.gangNotice)
                state.gangs[row.job] = gang
            }
        }
    }
}

extension LiveBoard.Progress {
    init(attempt: Int, epoch: LeaseEpoch) {
        self.init(
            attempt: attempt, epoch: epoch, step: nil, totalSteps: nil, committedStep: nil, secondsPerStep: nil,
            lastStepAt: nil)
    }
}
