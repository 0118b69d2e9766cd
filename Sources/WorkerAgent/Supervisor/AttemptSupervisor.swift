import Checkpoints
import SpotwiseCore

/// Every decision of one attempt on a worker, as a value: events in (a progress line, a commit,
/// a heartbeat reply, a notice, the trainer's exit, a tick), actions out (start the trainer,
/// signal it, commit this step, heartbeat, send these lines, report the end). It does no I/O and
/// reads no clock: `now` is the time since the attempt was assigned, given with every call.
/// `AttemptRunner` carries the actions out.
///
/// Actions wait in a queue the driver drains with `nextAction(at:)`; the actions an event causes
/// go to the front, so a commit's report to the coordinator comes before the next commit, and a
/// fenced attempt drops whatever was still queued.
struct AttemptSupervisor: Sendable {
    struct Gang: Equatable, Sendable {
        var rank: Int
        var worldSize: Int
    }

    struct Settings: Equatable, Sendable {
        var job: String
        var attempt: Int
        var epoch: UInt64
        var workerID: WorkerID
        /// The trainer's command, for the log.
        var run: String
        var gang: Gang?
        /// Restore the newest committed checkpoint at or below this step first.
        var resume: Int?
        var heartbeatPeriod: Duration
        /// How long a termination notice gives when its source names no time.
        var noticeWindow: Duration
        /// How long a trainer gets after SIGTERM for `stop` before SIGKILL.
        var terminationGrace: Duration = .seconds(20)
        /// How long rank 0 waits for the other ranks' shards of a checkpoint.
        var gangCommitWait: Duration = .seconds(60)
        /// The most log lines or metric points kept while the coordinator cannot be reached.
        var maxPendingLines = 20_000
        var tick: Duration = .milliseconds(100)
        /// How often the trainer's group is looked at after its first process exited.
        var drainTick: Duration = .milliseconds(20)
        var watchPeriod: Duration = .milliseconds(250)
        var flushPeriod: Duration = .seconds(1)
        /// How long the rest of the trainer's group may run after its first process exited.
        var groupExitWait: Duration = .seconds(10)
        /// How long a fenced trainer gets after SIGTERM.
        var fencedGrace: Duration = .seconds(2)
        /// How often a member waiting for its gang's attempt to end heartbeats.
        var attemptEndPoll: Duration = .milliseconds(250)
        var finishTries = 20

        var rank: Int { gang?.rank ?? 0 }
    }

    /// Where the trainer resumes from: the restored checkpoint, or its rank's part of a gang's.
    enum ResumePoint: Equatable, Sendable {
        case whole
        case rank(Int)
    }

    /// A signal of the trainer contract.
    enum TrainerSignal: Equatable, Sendable {
        /// SIGUSR1: checkpoint at the next step and go on.
        case checkpointNow
        /// SIGTERM: checkpoint at the next step and exit.
        case stop
    }

    struct Restored: Equatable, Sendable {
        var step: Int?
        var bytes: Int64
        /// Checkpoints skipped on the way (newest first): step and why.
        var skipped: [Skipped]
        /// The gang size that wrote the restored checkpoint (nil: not a gang's).
        var writtenWorldSize: Int?

        struct Skipped: Equatable, Sendable {
            var step: Int
            var reason: String
        }
    }

    /// What the driver saw of the trainer on a look.
    struct Observation: Equatable, Sendable {
        var progress: [ProgressReader.Line] = []
        var output: [String] = []
        /// The first process's exit status, once it exited (128 + N when killed by signal N).
        var exitStatus: Int32?
        var groupAlive = true
    }

    enum Event: Equatable, Sendable {
        case begin
        case tick
        case restored(Restored)
        case trainerStarted
        /// The attempt cannot go on for a reason that is not the trainer's (bad storage, no spawn).
        case infrastructureFailed(String)
        case observed(Observation)
        /// A watcher's notice; `window` from its deadline when the source names one.
        case notice(InterruptionNotice.Kind, window: Duration?)
        case heartbeatReplied(WorkerProtocol.HeartbeatCommand)
        /// `fenced`: why the coordinator refused the attempt; nil when it could not be reached.
        case heartbeatFailed(fenced: String?, message: String)
        case committed(CommittedCheckpointRef)
        case commitRefused(step: Int, name: String, reason: String)
        case shardCommitted(step: Int)
        case gangCommitted(CommittedCheckpointRef)
        case gangIncomplete(step: Int)
        case commitRecorded(fenced: String?)
        case logsSent(count: Int)
        case logsFailed(fenced: Bool)
        case metricsSent(count: Int)
        case metricsFailed(fenced: Bool)
        /// The trainer's `metrics.json` (nil: none, or not a JSON object of numbers).
        case outputMetrics([String: Double]?)
        case outputCommitted(ModelArtifact?)
        case finishAcknowledged
        case finishFailed(fenced: String?)
        /// The agent is shutting down (its task was cancelled): nothing may outlive it.
        case cancelled
    }

    enum Action: Equatable, Sendable {
        case restore(atMostStep: Int)
        case cancelRestore
        case startTrainer(resume: ResumePoint?)
        /// Read the progress file and the trainer's output, and whether it exited: `.observed`.
        case observe
        case pollWatchers
        case heartbeat(WorkerProtocol.Heartbeat)
        case signal(TrainerSignal)
        case adopt(pid: Int32)
        case killGroup
        case commit(step: Int, directory: String)
        case commitShard(step: Int, directory: String, rank: Int)
        case commitGang(step: Int, worldSize: Int)
        /// Retention, then tell the coordinator: `.commitRecorded`.
        case recordCommit(CommittedCheckpointRef)
        case sendLogs([String])
        case sendMetrics([WorkerProtocol.MetricBatch.Line], resumedFromStep: Int)
        case readOutputMetrics
        case commitOutput
        case finish(WorkerProtocol.AttemptFinished)
        /// A line for the agent's own log (not the job's).
        case note(String)
        case end(AttemptOutcome)
    }

    enum Phase: Equatable, Sendable {
        case assigned
        case restoring(since: Duration)
        case starting
        case running
        /// The trainer's first process exited; the rest of its group may still write its last checkpoint.
        case draining(status: Int32, giveUpAt: Duration)
        /// The group is gone: one more look at the progress file.
        case lastLook(status: Int32)
        /// Rank 0 commits the gang's last checkpoints.
        case settlingGang(status: Int32)
        case flushing(status: Int32)
        case reporting(WorkerProtocol.AttemptFinished, AttemptOutcome)
        case awaitingAttemptEnd(until: Duration, outcome: AttemptOutcome)
        case fencing(String)
        case ended(AttemptOutcome)
    }

    /// Internal steps queued between actions: they run when reached, with the state as it is then.
    enum Stage: Equatable, Sendable {
        case afterProgress
        case dueChecks
        case settleGang
        case report
    }

    enum Item: Equatable, Sendable {
        case action(Action)
        case stage(Stage)
    }

    struct PendingGangStep: Equatable, Sendable {
        var step: Int
        var deadline: Duration
    }

    let settings: Settings
    private(set) var phase: Phase = .assigned
    /// When the driver should send the next `.tick` (nil: only after an event).
    private(set) var wakeAt: Duration?
    var queue: [Item] = []

    // What the trainer has reported.
    private(set) var step: Int?
    private(set) var totalSteps: Int?
    private(set) var committedStep: Int?
    var startStep = 0
    var firstStepLogged = false
    var restoreMilliseconds = 0

    // Notices and stops.
    private(set) var notice: InterruptionNotice.Kind?
    var rebalanceSeen = false
    private(set) var stopping: String?
    private(set) var killAt: Duration?

    // Rank 0 of a gang: checkpoint steps waiting for every rank's shard.
    var pendingGang: [PendingGangStep] = []

    // Output on its way to the coordinator.
    var pendingLogs: [String] = []
    var pendingMetrics: [WorkerProtocol.MetricBatch.Line] = []

    var nextHeartbeat: Duration = .zero
    var nextFlush: Duration = .zero
    var nextWatch: Duration = .zero
    var finishTries = 0
    /// Rank 0's `metrics.json`, read when the trainer exited 0.
    var outputMetrics: [String: Double]?

    init(settings: Settings) { self.settings = settings }

    var isEnded: Bool { if case .ended = phase { true } else { false } }

    /// The next action for the driver, running any internal stage reached on the way.
    mutating func nextAction(at now: Duration) -> Action? {
        while !queue.isEmpty {
            switch queue.removeFirst() {
            case .action(let action): return action
            case .stage(let stage): queue.insert(contentsOf: run(stage, at: now), at: 0)
            }
        }
        return nil
    }

    /// Takes an event; the actions it causes run before anything queued earlier.
    mutating func handle(_ event: Event, at now: Duration) {
        guard !isEnded else { return }
        queue.insert(contentsOf: items(for: event, at: now), at: 0)
    }

    private mutating func items(for event: Event, at now: Duration) -> [Item] {
        switch event {
        case .begin: return begin(at: now)
        case .tick: return tick(at: now)
        case .restored(let restored): return restoreDone(restored, at: now)
        case .trainerStarted: return trainerStarted(at: now)
        case .infrastructureFailed(let why): return infrastructureFailure(why, at: now)
        case .observed(let observation): return observed(observation, at: now)
        case .notice(let kind, let window): return noticed(kind, window: window, at: now)
        case .heartbeatReplied(let command): return replied(command, at: now)
        case .heartbeatFailed(let fenced, let message): return heartbeatFailed(fenced: fenced, message, at: now)
        case .committed(let ref): return committed(ref)
        case .commitRefused(let at, let name, let reason):
            log("[spotwise] checkpoint '\(name)' at step \(at) not committed: \(reason)")
            return []
        case .shardCommitted(let at): return shardCommitted(at, now: now)
        case .gangCommitted(let ref): return gangCommitted(ref)
        case .gangIncomplete(let at): return gangIncomplete(at, now: now)
        case .commitRecorded(let fenced): return commitRecorded(fenced: fenced)
        case .logsSent(let count): return logsSent(count)
        case .logsFailed(let fenced): return logsFailed(fenced: fenced)
        case .metricsSent(let count): return metricsSent(count)
        case .metricsFailed(let fenced): return metricsFailed(fenced: fenced)
        case .outputMetrics(let metrics): return outputRead(metrics, at: now)
        case .outputCommitted(let artifact): return outputCommitted(artifact)
        case .finishAcknowledged: return finishAcknowledged()
        case .finishFailed(let fenced): return finishFailed(fenced: fenced, at: now)
        case .cancelled: return end(.fenced("the agent was stopped"), after: [.cancelRestore, .killGroup])
        }
    }

    private mutating func run(_ stage: Stage, at now: Duration) -> [Item] {
        guard !isEnded else { return [] }
        switch stage {
        case .afterProgress: return afterProgress(at: now)
        case .dueChecks: return dueChecks(at: now)
        case .settleGang: return settleGang(at: now)
        case .report: return report(at: now)
        }
    }

    // MARK: Shared pieces

    mutating func log(_ line: String) { pendingLogs.append(line) }

    mutating func wake(at time: Duration?) { wakeAt = time }

    /// Ends the attempt: nothing queued before runs.
    mutating func end(_ outcome: AttemptOutcome, after actions: [Action] = []) -> [Item] {
        queue.removeAll()
        phase = .ended(outcome)
        wakeAt = nil
        return (actions + [.end(outcome)]).map(Item.action)
    }

    /// The heartbeat of a running attempt: what the trainer reported and the notice seen.
    var heartbeat: WorkerProtocol.Heartbeat {
        WorkerProtocol.Heartbeat(
            job: settings.job, attempt: settings.attempt, epoch: settings.epoch, step: step, totalSteps: totalSteps,
            committedStep: committedStep, notice: notice?.rawValue)
    }

    /// The heartbeat that only keeps the lease (restoring, waiting for a gang's end).
    var keepAlive: WorkerProtocol.Heartbeat {
        WorkerProtocol.Heartbeat(job: settings.job, attempt: settings.attempt, epoch: settings.epoch)
    }

    mutating func noteStep(_ reported: Int) { step = max(step ?? reported, reported) }
    mutating func noteTotal(_ total: Int) { totalSteps = total }
    mutating func noteCommitted(_ at: Int) { committedStep = at }
    mutating func setNotice(_ kind: InterruptionNotice.Kind) { notice = kind }
    mutating func setStopping(_ why: String) { stopping = why }
    mutating func setPhase(_ next: Phase) { phase = next }

    /// SIGKILL at `time` at the latest (a later deadline never postpones an earlier one).
    mutating func killNoLaterThan(_ time: Duration) { killAt = min(killAt ?? time, time) }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
