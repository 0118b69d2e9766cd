import CoordinatorClient
import Foundation
import Logging
import SpotwiseCore
import Synchronization

/// Runs one attempt: the thin driver of `AttemptSupervisor`. It asks the supervisor for the next
/// action, has `AttemptEffects` carry it out, hands the resulting events back, and sleeps on the
/// injected clock until the supervisor's next wake-up. The only thing it runs beside the
/// supervisor is a restore (heartbeats go on meanwhile).
struct AttemptRunner<C: Clock> where C.Duration == Duration {
    let assignment: WorkerProtocol.Assignment
    let workerID: String
    let client: CoordinatorClient
    let configuration: WorkerAgentConfiguration
    let heartbeatPeriod: Duration
    let logger: Logger
    let clock: C

    /// How often a running restore is looked at.
    static var restorePoll: Duration { .milliseconds(20) }

    var settings: AttemptSupervisor.Settings {
        AttemptSupervisor.Settings(
            job: assignment.job, attempt: assignment.attempt, epoch: assignment.epoch, workerID: workerID,
            run: assignment.run,
            gang: assignment.gang.map { .init(rank: $0.rank, worldSize: $0.worldSize) },
            resume: assignment.resume?.step, heartbeatPeriod: heartbeatPeriod,
            noticeWindow: .milliseconds(Int(configuration.noticeWindowSeconds * 1000)))
    }

    func run() async -> AttemptOutcome {
        let start = clock.now
        let elapsed = { start.duration(to: clock.now) }
        var supervisor = AttemptSupervisor(settings: settings)
        let effects: AttemptEffects?
        do {
            effects = try AttemptEffects(
                assignment: assignment, workerID: workerID, client: client, configuration: configuration,
                logger: logger)
            supervisor.handle(.begin, at: elapsed())
        } catch {
            effects = nil
            supervisor.handle(.infrastructureFailed("\(error)"), at: elapsed())
        }
        // A restore runs beside the supervisor; its event waits here until the loop picks it up.
        let restore = RestoreInFlight()
        defer { restore.cancel() }
        while true {
            if let action = supervisor.nextAction(at: elapsed()) {
                switch action {
                case .end(let outcome): return outcome
                case .restore(let atMost):
                    guard let effects else { continue }
                    let (store, job, directory) = (effects.store, assignment.job, effects.resume)
                    let gang = assignment.gang != nil
                    restore.start {
                        await AttemptEffects.restore(
                            store: store, job: job, atMost: atMost, into: directory, gang: gang)
                    }
                case .cancelRestore: restore.cancel()
                default:
                    guard let effects else { continue }
                    for event in await effects.perform(action) { supervisor.handle(event, at: elapsed()) }
                }
                continue
            }
            if let event = restore.take() {
                supervisor.handle(event, at: elapsed())
                continue
            }
            let now = elapsed()
            let wake = supervisor.wakeAt ?? now + .milliseconds(100)
            if wake > now {
                // While a restore runs, look at it every `restorePoll` so the trainer starts at once.
                try? await clock.sleep(
                    until: start.advanced(by: restore.running ? min(wake, now + Self.restorePoll) : wake),
                    tolerance: nil)
                if restore.running || restore.hasResult, elapsed() < wake { continue }
            }
            supervisor.handle(.tick, at: elapsed())
        }
    }
}

/// The restore running beside the supervisor: its task, and its event once it ended.
final class RestoreInFlight: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, event: AttemptSupervisor.Event?)>((nil, nil))
    private let generation = Atomic<Int>(0)

    func start(_ work: @escaping @Sendable () async -> AttemptSupervisor.Event) {
        let mine = generation.add(1, ordering: .relaxed).newValue
        let task = Task { [self] in
            let event = await work()
            deliver(event, generation: mine)
        }
        state.withLock { $0.task = task }
    }

    private func deliver(_ event: AttemptSupervisor.Event, generation mine: Int) {
        guard generation.load(ordering: .relaxed) == mine else { return }  // cancelled meanwhile
        state.withLock { $0.event = event }
    }

    var running: Bool { state.withLock { $0.task != nil && $0.event == nil } }
    var hasResult: Bool { state.withLock { $0.event != nil } }

    /// The restore's event, once: the restore is over after it.
    func take() -> AttemptSupervisor.Event? {
        state.withLock { current in
            guard let event = current.event else { return nil }
            current = (nil, nil)
            return event
        }
    }

    func cancel() {
        generation.add(1, ordering: .relaxed)
        state.withLock { current in
            current.task?.cancel()
            current = (nil, nil)
        }
    }
}
