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
    let workerID: WorkerID
    let client: CoordinatorClient
    let configuration: WorkerAgentConfiguration
    let heartbeatPeriod: Duration
    let logger: Logger
    let clock: C

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
        let effects = AttemptEffects(
            assignment: assignment, workerID: workerID, client: client, configuration: configuration, logger: logger)
        do {
            try effects.prepare()
            supervisor.handle(.begin, at: elapsed())
        } catch {
            supervisor.handle(.infrastructureFailed("\(error)"), at: elapsed())
        }
        // A restore runs beside the supervisor; its event waits here until the loop picks it up.
        let restore = RestoreInFlight()
        var cancellationSeen = false
        while true {
            if Task.isCancelled, !cancellationSeen {
                cancellationSeen = true
                supervisor.handle(.cancelled, at: elapsed())
            }
            if let action = supervisor.nextAction(at: elapsed()) {
                switch action {
                case .end(let outcome):
                    await restore.cancelAndWait()  // nothing it writes may outlive the attempt
                    return outcome
                case .restore(let atMost):
                    guard let store = effects.store else {
                        supervisor.handle(.infrastructureFailed("no checkpoint store to restore from"), at: elapsed())
                        continue
                    }
                    let (job, directory, gang) = (assignment.job, effects.resume, assignment.gang != nil)
                    restore.start {
                        await AttemptEffects.restore(
                            store: store, job: job, atMost: atMost, into: directory, gang: gang)
                    }
                case .cancelRestore: await restore.cancelAndWait()
                default:
                    for event in await effects.perform(action) { supervisor.handle(event, at: elapsed()) }
                }
                continue
            }
            if let event = restore.take() {
                supervisor.handle(event, at: elapsed())
                continue
            }
            // The supervisor always says when it wants its next tick; a second is the fallback.
            let wake = start.advanced(by: supervisor.wakeAt ?? elapsed() + .seconds(1))
            if restore.running {
                await restore.wait(until: wake, on: clock)  // or the restore's end, whichever first
                if restore.hasResult { continue }
            } else {
                try? await clock.sleep(until: wake, tolerance: nil)
            }
            supervisor.handle(.tick, at: elapsed())
        }
    }
}

/// The restore running beside the supervisor: its task, its event once it ended, and whoever
/// waits for that event.
final class RestoreInFlight: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var event: AttemptSupervisor.Event?
        var generation = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func start(_ work: @escaping @Sendable () async -> AttemptSupervisor.Event) {
        let mine = state.withLock { current in
            current.generation += 1
            current.event = nil
            return current.generation
        }
        let task = Task { [self] in deliver(await work(), generation: mine) }
        state.withLock { $0.task = task }
    }

    private func deliver(_ event: AttemptSupervisor.Event, generation mine: Int) {
        let waiters = state.withLock { current -> [CheckedContinuation<Void, Never>] in
            guard current.generation == mine else { return [] }  // cancelled meanwhile
            current.event = event
            defer { current.waiters = [] }
            return current.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var running: Bool { state.withLock { $0.task != nil && $0.event == nil } }
    var hasResult: Bool { state.withLock { $0.event != nil } }

    /// The restore's event, once: the restore is over after it.
    func take() -> AttemptSupervisor.Event? {
        state.withLock { current in
            guard let event = current.event else { return nil }
            current.event = nil
            current.task = nil
            return event
        }
    }

    /// Returns at `deadline` on `clock` or when the restore ended, whichever comes first.
    func wait<C: Clock>(until deadline: C.Instant, on clock: C) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(until: deadline, tolerance: nil) }
            group.addTask { await self.ended() }
            await group.next()
            group.cancelAll()
        }
    }

    private func ended() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = state.withLock { current -> Bool in
                    if current.event != nil || current.task == nil || Task.isCancelled { return true }
                    current.waiters.append(waiter)
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            let waiters = state.withLock { current -> [CheckedContinuation<Void, Never>] in
                defer { current.waiters = [] }
                return current.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Cancels the restore and waits until it stopped: nothing it writes outlives the attempt.
    func cancelAndWait() async {
        let task = state.withLock { current -> Task<Void, Never>? in
            current.generation += 1
            let task = current.task
            current.task = nil
            current.event = nil
            return task
        }
        task?.cancel()
        await task?.value
    }
}
