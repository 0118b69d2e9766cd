import Checkpoints
import SpotwiseCore

@testable import WorkerAgent

/// A scripted world around an `AttemptSupervisor`, driven the way `AttemptRunner` drives it but
/// on a manual clock: `advance(to:)` moves time and delivers the ticks the supervisor asked for.
/// Nothing sleeps; every answer the world gives is an event of the documented kinds.
final class SupervisorWorld {
    typealias Action = AttemptSupervisor.Action
    typealias Event = AttemptSupervisor.Event

    enum BeatAnswer {
        case command(WorkerProtocol.HeartbeatCommand)
        case unreachable
        case fenced
    }

    var supervisor: AttemptSupervisor
    private(set) var now: Duration = .zero
    private(set) var outcome: AttemptOutcome?
    /// Every action carried out, with when.
    private(set) var performed: [(at: Duration, action: Action)] = []
    /// Where in `performed` a look first saw the trainer exited.
    private(set) var exitSeenAt: Int?
    /// Times the supervisor was left with nothing queued, not ended and no tick asked for.
    private(set) var stuck = 0
    var fencedSends = false

    // The trainer, as the next look will see it.
    var progress: [ProgressReader.Line] = []
    var output: [String] = []
    var exitStatus: Int32?
    var groupAlive = true
    /// Exit with this status when SIGTERM arrives (after writing `onStop` progress lines).
    var exitOnStop: Int32?
    var onStop: [ProgressReader.Line] = []

    // The coordinator and the watchers.
    var beatAnswers: [BeatAnswer] = []
    var defaultBeat: BeatAnswer = .command(.continue)
    var notices: [(InterruptionNotice.Kind, Duration?)] = []
    var coordinatorUp = true
    var fencedOnCommit = false
    var finishFailures = 0
    var fencedOnFinish = false
    var metricsFile: [String: Double]?
    /// Gang steps whose every shard is in (rank 0's commit succeeds for them).
    var completeGangSteps: Set<Int> = []

    init(_ settings: AttemptSupervisor.Settings) {
        supervisor = AttemptSupervisor(settings: settings)
    }

    static func settings(
        gang: AttemptSupervisor.Gang? = nil, resume: Int? = nil, heartbeat: Duration = .seconds(5),
        noticeWindow: Duration = .seconds(120)
    ) -> AttemptSupervisor.Settings {
        AttemptSupervisor.Settings(
            job: "job-1", attempt: 3, epoch: 9, workerID: "worker-1", run: "python train.py", gang: gang,
            resume: resume, heartbeatPeriod: heartbeat, noticeWindow: noticeWindow)
    }

    var actions: [Action] { performed.map(\.action) }
    var ended: Bool { outcome != nil }

    func send(_ event: Event) {
        supervisor.handle(event, at: now)
        drain()
    }

    /// Moves the clock to `time`, delivering every tick due on the way.
    func advance(to time: Duration) {
        while outcome == nil, let wake = supervisor.wakeAt, wake <= time {
            now = max(now, wake)
            supervisor.handle(.tick, at: now)
            drain()
        }
        now = max(now, time)
    }

    func advance(by duration: Duration) { advance(to: now + duration) }

    /// Starts a fresh attempt (no restore) and lets the trainer start.
    func start() {
        send(.begin)
    }

    /// A fresh attempt whose trainer reported steps 1 through `last` (a checkpoint at
    /// `checkpointAt`, `total` steps in all) in its first look.
    static func trained(
        _ settings: AttemptSupervisor.Settings = settings(), through last: Int, checkpointAt: Int? = nil,
        total: Int? = nil
    ) -> SupervisorWorld {
        let world = SupervisorWorld(settings)
        world.start()
        world.progress = (1...last).map { line(step: $0, checkpoint: $0 == checkpointAt, total: total) }
        world.advance(by: .milliseconds(100))
        return world
    }

    /// How many heartbeats were sent.
    var heartbeats: Int { count { if case .heartbeat = $0 { true } else { false } } }

    func drain() {
        while outcome == nil, let action = supervisor.nextAction(at: now) {
            performed.append((now, action))
            if case .end(let ended) = action {
                outcome = ended
                return
            }
            for event in respond(to: action) { supervisor.handle(event, at: now) }
        }
        if outcome == nil, supervisor.wakeAt == nil { stuck += 1 }
    }

    private func respond(to action: Action) -> [Event] {
        switch action {
        case .startTrainer: return [.trainerStarted]
        case .observe:
            if exitStatus != nil, exitSeenAt == nil { exitSeenAt = performed.count - 1 }
            defer {
                progress = []
                output = []
            }
            return [
                .observed(.init(progress: progress, output: output, exitStatus: exitStatus, groupAlive: groupAlive))
            ]
        case .pollWatchers:
            guard !notices.isEmpty else { return [] }
            let (kind, window) = notices.removeFirst()
            return [.notice(kind, window: window)]
        case .heartbeat:
            let answer = beatAnswers.isEmpty ? defaultBeat : beatAnswers.removeFirst()
            switch answer {
            case .command(let command): return [.heartbeatReplied(command)]
            case .unreachable: return [.heartbeatFailed(fenced: nil, message: "connection refused")]
            case .fenced: return [.heartbeatFailed(fenced: "409 stale_epoch", message: "409 stale_epoch")]
            }
        case .signal(.stop):
            progress += onStop
            onStop = []
            if let code = exitOnStop {
                exitStatus = code
                groupAlive = false
            }
            return []
        case .killGroup:
            if exitStatus == nil { exitStatus = 137 }
            groupAlive = false
            return []
        case .commit(let step, _): return [.committed(Self.ref(step))]
        case .commitShard(let step, _, _): return [.shardCommitted(step: step)]
        case .commitGang(let step, _):
            return completeGangSteps.contains(step) ? [.gangCommitted(Self.ref(step))] : [.gangIncomplete(step: step)]
        case .recordCommit: return [.commitRecorded(fenced: fencedOnCommit ? "403 fenced" : nil)]
        case .sendLogs(let lines):
            return [coordinatorUp ? .logsSent(count: lines.count) : .logsFailed(fenced: fencedSends)]
        case .sendMetrics(let lines, _):
            return [coordinatorUp ? .metricsSent(count: lines.count) : .metricsFailed(fenced: fencedSends)]
        case .readOutputMetrics: return [.outputMetrics(metricsFile)]
        case .commitOutput:
            return [.outputCommitted(ModelArtifact(storage: "file://c", location: "m", manifestDigest: "d", bytes: 1))]
        case .finish:
            if fencedOnFinish { return [.finishFailed(fenced: "403 fenced")] }
            guard finishFailures == 0 else {
                finishFailures -= 1
                return [.finishFailed(fenced: nil)]
            }
            return [.finishAcknowledged]
        case .restore, .cancelRestore, .signal(.checkpointNow), .adopt, .note, .end: return []
        }
    }

    static func ref(_ step: Int) -> CommittedCheckpointRef {
        CommittedCheckpointRef(step: step, location: "job-1/step-\(step)", manifestDigest: "sha256:\(step)", bytes: 10)
    }

    static func line(step: Int, checkpoint: Bool = false, total: Int? = nil) -> ProgressReader.Line {
        ProgressReader.Line(
            step: step, totalSteps: total, checkpoint: checkpoint ? "step-\(step)" : nil, metrics: ["loss": 0.5])
    }

    /// Where in `performed` the first action matching `match` is (nil: none).
    func index(of match: (Action) -> Bool) -> Int? { actions.firstIndex(where: match) }

    var finished: WorkerProtocol.AttemptFinished? {
        for action in actions { if case .finish(let finished) = action { return finished } }
        return nil
    }

    /// Whether a job log line containing `text` was sent or is waiting to be.
    func logged(_ text: String) -> Bool {
        let sent = actions.contains { action in
            guard case .sendLogs(let lines) = action else { return false }
            return lines.contains { $0.contains(text) }
        }
        return sent || supervisor.pendingLogs.contains { $0.contains(text) }
    }

    func count(_ match: (Action) -> Bool) -> Int { actions.filter(match).count }
}
