import Checkpoints
import CoordinatorClient
import Foundation
import Logging
import SpotwiseCore

#if canImport(Glibc)
    import Glibc
#endif

/// Carries out one supervisor action against the real parts (the trainer process, the checkpoint
/// store, the coordinator, the watchers) and says what came of it as events. It decides nothing.
final class AttemptEffects {
    typealias Event = AttemptSupervisor.Event

    let assignment: WorkerProtocol.Assignment
    let workerID: WorkerID
    let client: CoordinatorClient
    let configuration: WorkerAgentConfiguration
    let logger: Logger
    /// The job's checkpoint store, once `prepare()` opened it.
    private(set) var store: (any CheckpointStore)?
    let scratch: URL
    var trainer: TrainerProcess?
    var progress: ProgressReader

    var staging: URL { scratch.appendingPathComponent("checkpoints") }
    var resume: URL { scratch.appendingPathComponent("resume") }
    var output: URL { scratch.appendingPathComponent("output") }
    var progressFile: URL { scratch.appendingPathComponent("progress.jsonl") }

    init(
        assignment: WorkerProtocol.Assignment, workerID: WorkerID, client: CoordinatorClient,
        configuration: WorkerAgentConfiguration, logger: Logger
    ) {
        self.assignment = assignment
        self.workerID = workerID
        self.client = client
        self.configuration = configuration
        self.logger = logger
        scratch = configuration.workDirectory.appendingPathComponent("\(assignment.job)-\(assignment.attempt)")
        progress = ProgressReader(url: scratch.appendingPathComponent("progress.jsonl"))
    }

    /// Makes the attempt's scratch directory (staging, output, progress file) and opens its store.
    func prepare() throws {
        let fm = FileManager.default
        try? fm.removeItem(at: scratch)
        for directory in [staging, output] { try fm.createDirectory(at: directory, withIntermediateDirectories: true) }
        _ = fm.createFile(atPath: progressFile.path, contents: nil)
        store = try CheckpointStorageSetting.store(for: assignment.checkpointStorage, configuration: configuration)
    }

    /// The store; the supervisor asks for none before `prepare()` succeeded.
    private func openStore() throws -> any CheckpointStore {
        guard let store else {
            throw CheckpointStorageSetting.ConfigurationError(
                value: assignment.checkpointStorage, problem: "was not opened")
        }
        return store
    }

    /// The restore, run beside the supervisor's heartbeats (see `AttemptRunner`).
    static func restore(
        store: any CheckpointStore, job: String, atMost: Int, into directory: URL, gang: Bool
    ) async -> Event {
        do {
            let result = try await store.restore(job: job, atMost: atMost, into: directory)
            return .restored(
                AttemptSupervisor.Restored(
                    step: result.restored?.step, bytes: result.restored?.bytes ?? 0,
                    skipped: result.skipped.map { .init(step: $0.step, reason: $0.reason) },
                    writtenWorldSize: gang && result.restored != nil
                        ? GangCheckpoint.worldSize(ofRestored: directory) : nil))
        } catch {
            return .infrastructureFailed("restore failed: \(error)")
        }
    }

    func perform(_ action: AttemptSupervisor.Action) async -> [Event] {
        switch action {
        case .startTrainer(let resumePoint): return [start(resumePoint)]
        case .observe: return observe()
        case .pollWatchers: return await pollWatchers()
        case .heartbeat(let beat): return [await heartbeat(beat)]
        case .signal(let signal): trainer?.signal(signal == .stop ? SIGTERM : SIGUSR1)
        case .adopt(let pid): trainer?.adopt(announcedPID: pid)
        case .killGroup: trainer?.killGroup()
        case .commit(let step, let name): return [await commit(step: step, name: name)]
        case .commitShard(let step, let name, let rank): return [await commitShard(step: step, name: name, rank: rank)]
        case .commitGang(let step, let worldSize): return [await commitGang(step: step, worldSize: worldSize)]
        case .recordCommit(let committed): return [await record(committed)]
        case .sendLogs(let lines): return [await sendLogs(lines)]
        case .sendMetrics(let lines, let resumed): return [await sendMetrics(lines, resumedFromStep: resumed)]
        case .readOutputMetrics: return [.outputMetrics(readOutputMetrics())]
        case .commitOutput: return [.outputCommitted(await commitOutput())]
        case .finish(let finished): return [await finish(finished)]
        case .note(let line): logger.warning("\(line)")
        case .restore, .cancelRestore, .end: break  // the runner's own
        }
        return []
    }

    private func start(_ resumePoint: AttemptSupervisor.ResumePoint?) -> Event {
        let resumeDirectory: URL? =
            switch resumePoint {
            case nil: nil
            case .whole: resume
            case .rank(let rank): GangCheckpoint.resumeDirectory(in: resume, rank: rank)
            }
        do {
            // From an allow-list, never the agent's own environment: it holds the bootstrap token.
            let environment = TrainerEnvironment.compose(
                agent: ProcessInfo.processInfo.environment, operatorSet: configuration.environment,
                job: assignment.env,
                contract: try TrainerEnvironment.contract(
                    for: assignment,
                    paths: .init(
                        checkpointDirectory: staging, progressFile: progressFile, outputDirectory: output,
                        resumeDirectory: resumeDirectory)))
            let workdir =
                assignment.workdir.hasPrefix("/")
                ? URL(fileURLWithPath: assignment.workdir)
                : configuration.jobRoot.appendingPathComponent(assignment.workdir)
            trainer = try TrainerProcess(command: assignment.run, workdir: workdir, environment: environment)
            return .trainerStarted
        } catch {
            return .infrastructureFailed("cannot start the trainer: \(error)")
        }
    }

    private func observe() -> [Event] {
        guard let trainer else { return [] }
        let lines = progress.read()
        return [
            .observed(
                .init(
                    progress: lines, output: trainer.takeLines(), exitStatus: trainer.exitStatus,
                    groupAlive: trainer.groupAlive))
        ]
    }

    private func pollWatchers() async -> [Event] {
        for watcher in configuration.watchers {
            guard let seen = await watcher.check() else { continue }
            let window = seen.deadline.map { Duration.milliseconds(Int(max(0, $0.timeIntervalSinceNow) * 1000)) }
            return [.notice(seen.kind, window: window)]
        }
        return []
    }

    private func heartbeat(_ beat: WorkerProtocol.Heartbeat) async -> Event {
        do {
            return .heartbeatReplied(try await client.heartbeat(worker: workerID, beat).command)
        } catch {
            return .heartbeatFailed(fenced: CoordinatorClient.isFenced(error) ? "\(error)" : nil, message: "\(error)")
        }
    }

    private func commit(step: Int, name: String) async -> Event {
        let directory = staging.appendingPathComponent(name)
        do {
            let committed = try await openStore().commit(
                job: assignment.job, attempt: assignment.attempt, step: step, from: directory)
            try? FileManager.default.removeItem(at: directory)
            return .committed(committed)
        } catch {
            // An announced step that is missing, empty or out of range is not a checkpoint; a
            // store that failed leaves the previous one committed, and training goes on.
            return .commitRefused(step: step, name: name, reason: "\(error)")
        }
    }

    private func commitShard(step: Int, name: String, rank: Int) async -> Event {
        let directory = staging.appendingPathComponent(name)
        do {
            try await openStore().commitShard(
                job: assignment.job, attempt: assignment.attempt, step: step, rank: rank, from: directory)
            try? FileManager.default.removeItem(at: directory)
            return .shardCommitted(step: step)
        } catch {
            return .commitRefused(step: step, name: name, reason: "rank \(rank)'s shard not written: \(error)")
        }
    }

    private func commitGang(step: Int, worldSize: Int) async -> Event {
        do {
            if let committed = try await openStore().commitGang(
                job: assignment.job, attempt: assignment.attempt, step: step, worldSize: worldSize)
            {
                return .gangCommitted(committed)
            }
        } catch {
            logger.warning("gang checkpoint at step \(step): \(error)")
        }
        return .gangIncomplete(step: step)
    }

    /// Retention, then the coordinator hears of the commit.
    private func record(_ committed: CommittedCheckpointRef) async -> Event {
        _ = try? await openStore().collectGarbage(job: assignment.job, keepLast: assignment.keepLast)
        do {
            try await client.commitCheckpoint(
                job: assignment.job, attempt: assignment.attempt,
                WorkerProtocol.CheckpointCommitted(
                    epoch: assignment.epoch, step: committed.step, location: committed.location,
                    manifestDigest: committed.manifestDigest))
            return .commitRecorded(fenced: nil)
        } catch {
            return .commitRecorded(fenced: CoordinatorClient.isFenced(error) ? "\(error)" : nil)
        }
    }

    private func sendLogs(_ lines: [String]) async -> Event {
        do {
            try await client.appendLogs(
                job: assignment.job, attempt: assignment.attempt,
                WorkerProtocol.LogBatch(epoch: assignment.epoch, lines: lines))
            return .logsSent(count: lines.count)
        } catch {
            return .logsFailed(fenced: CoordinatorClient.isFenced(error))
        }
    }

    private func sendMetrics(_ lines: [WorkerProtocol.MetricBatch.Line], resumedFromStep: Int) async -> Event {
        do {
            try await client.recordMetrics(
                job: assignment.job, attempt: assignment.attempt,
                WorkerProtocol.MetricBatch(epoch: assignment.epoch, resumedFromStep: resumedFromStep, lines: lines))
            return .metricsSent(count: lines.count)
        } catch {
            return .metricsFailed(fenced: CoordinatorClient.isFenced(error))
        }
    }

    private func readOutputMetrics() -> [String: Double]? {
        (try? Data(contentsOf: output.appendingPathComponent("metrics.json"))).flatMap {
            try? JSONDecoder().decode([String: Double].self, from: $0)
        }
    }

    private func commitOutput() async -> ModelArtifact? {
        do {
            let committed = try await openStore().commitArtifact(
                job: assignment.job, attempt: assignment.attempt, from: output)
            return ModelArtifact(
                storage: assignment.checkpointStorage, location: committed.location,
                manifestDigest: committed.manifestDigest, bytes: committed.bytes)
        } catch {
            logger.error("could not commit the trainer's output: \(error)")
            return nil
        }
    }

    private func finish(_ finished: WorkerProtocol.AttemptFinished) async -> Event {
        do {
            _ = try await client.finish(job: assignment.job, attempt: assignment.attempt, finished)
            return .finishAcknowledged
        } catch {
            return .finishFailed(fenced: CoordinatorClient.isFenced(error) ? "\(error)" : nil)
        }
    }
}
