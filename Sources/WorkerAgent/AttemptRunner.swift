import Checkpoints
import CloudAuth
import CoordinatorClient
import Foundation
import Logging
import SpotwiseCore

#if canImport(Glibc)
    import Glibc
#endif

/// How an attempt ended, from the agent's side.
enum AttemptOutcome: CustomStringConvertible, Equatable {
    case completed
    case failed(exitCode: Int32)
    case preempted(committedStep: Int?)
    /// The coordinator fenced the attempt off (stale epoch, cancelled): the trainer was stopped.
    case fenced(String)
    case infrastructure(String)
    /// A gang member stopped with its gang (a peer's notice or loss); its node stays.
    case gangStopped(String)

    var description: String {
        switch self {
        case .completed: "completed"
        case .failed(let code): "trainer exited with code \(code)"
        case .preempted(let step): "preempted with notice; committed step \(step.map(String.init) ?? "none")"
        case .fenced(let why): "stopped: \(why)"
        case .infrastructure(let why): "infrastructure error: \(why)"
        case .gangStopped(let why): why
        }
    }
}

/// Runs one attempt: restores the newest committed checkpoint, starts the trainer with the
/// trainer contract's environment, commits each checkpoint it completes (and tells the
/// coordinator), ships its output, heartbeats, acts on notices and commands, and reports the end.
struct AttemptRunner {
    let assignment: WorkerProtocol.Assignment
    let workerID: String
    let client: CoordinatorClient
    let configuration: WorkerAgentConfiguration
    let heartbeatPeriod: Duration
    let logger: Logger

    static let tick = Duration.milliseconds(100)
    /// How long a trainer gets after SIGTERM before SIGKILL.
    static let terminationGrace = Duration.seconds(20)
    static let maxPendingMetricLines = 20_000

    var epoch: UInt64 { assignment.epoch }
    /// This worker's rank in its gang (0 for a single node): rank 0 commits the gang's
    /// checkpoints and reports its completion.
    var rank: Int { assignment.gang?.rank ?? 0 }
    /// How long rank 0 waits for the other ranks' shards of a checkpoint.
    static let gangCommitWait = Duration.seconds(60)

    /// The checkpoint store named by the job's `checkpoint.storage`.
    func checkpointStore() throws -> any CheckpointStore {
        let storage = assignment.checkpointStorage
        if storage.hasPrefix("s3://") {
            let credentials = configuration.awsCredentials
            return try S3CheckpointStore.parse(
                storage, region: configuration.awsRegion, endpoint: configuration.s3Endpoint,
                credentials: { try await credentials.current() })
        }
        guard storage.hasPrefix("file://") else {
            throw WatcherError("checkpoint storage \(storage) is neither file:// nor s3://")
        }
        let path = String(storage.dropFirst("file://".count))
        let root = path.hasPrefix("/") ? URL(fileURLWithPath: path) : configuration.jobRoot.appendingPathComponent(path)
        // The spec's rule again where the path resolves here: a symlink must not lead it elsewhere.
        let resolve = LocalCheckpointStore.resolvedPath(of:)
        if let problem = LocalPathRule.problem(
            declared: path, resolved: resolve(root), resolvedJobRoot: resolve(configuration.jobRoot))
        {
            throw WatcherError("checkpoint storage \(storage) refused: \(problem)")
        }
        return LocalCheckpointStore(root: root)
    }

    func run() async -> AttemptOutcome {
        do {
            return try await runChecked()
        } catch {
            let why = "\(error)"
            _ = try? await client.finish(
                job: assignment.job, attempt: assignment.attempt,
                WorkerProtocol.AttemptFinished(epoch: epoch, outcome: .infrastructure, message: why))
            return .infrastructure(why)
        }
    }

    func runChecked() async throws -> AttemptOutcome {
        let fm = FileManager.default
        let scratch = configuration.workDirectory.appendingPathComponent("\(assignment.job)-\(assignment.attempt)")
        try? fm.removeItem(at: scratch)
        let staging = scratch.appendingPathComponent("checkpoints")
        let resume = scratch.appendingPathComponent("resume")
        let output = scratch.appendingPathComponent("output")
        let progressFile = scratch.appendingPathComponent("progress.jsonl")
        for directory in [staging, output] { try fm.createDirectory(at: directory, withIntermediateDirectories: true) }
        _ = fm.createFile(atPath: progressFile.path, contents: nil)
        let store = try checkpointStore()
        var pendingLogs: [String] = []
        var pendingMetrics: [WorkerProtocol.MetricBatch.Line] = []
        var committedStep: Int?
        let assigned = ContinuousClock.now
        var restoreMilliseconds = 0

        if let wanted = assignment.resume {
            let started = ContinuousClock.now
            // A large checkpoint takes longer than a lease to restore: heartbeat meanwhile.
            let (restoring, fenced) = await withHeartbeats {
                try await store.restore(job: assignment.job, atMost: wanted.step, into: resume)
            }
            if let fenced { return .fenced(fenced) }
            let result = try restoring.get()
            for skipped in result.skipped {
                pendingLogs.append("[spotwise] checkpoint at step \(skipped.step) skipped: \(skipped.reason)")
            }
            restoreMilliseconds = Self.milliseconds(ContinuousClock.now - started)
            if let restored = result.restored {
                committedStep = restored.step
                pendingLogs.append(
                    "[spotwise] restored step \(restored.step) (\(restored.bytes) bytes, hashes verified) in \(restoreMilliseconds) ms"
                )
            } else {
                pendingLogs.append("[spotwise] no committed checkpoint verified; starting from step 0")
            }
        }

        var resumeDirectory = resume
        if let gang = assignment.gang, committedStep != nil, let written = GangCheckpoint.worldSize(ofRestored: resume)
        {
            resumeDirectory = GangCheckpoint.resumeDirectory(in: resume, rank: gang.rank)
            if written != gang.worldSize {
                pendingLogs.append(
                    "[spotwise] the checkpoint was written by a gang of \(written); this one has \(gang.worldSize): rank \(gang.rank) resumes from \(resumeDirectory.lastPathComponent)"
                )
            }
        }

        // From an allow-list, never the agent's own environment: it holds the bootstrap token.
        let environment = TrainerEnvironment.compose(
            agent: ProcessInfo.processInfo.environment, operatorSet: configuration.environment, job: assignment.env,
            contract: try TrainerEnvironment.contract(
                for: assignment,
                paths: .init(
                    checkpointDirectory: staging, progressFile: progressFile, outputDirectory: output,
                    resumeDirectory: committedStep != nil ? resumeDirectory : nil)))

        let workdir =
            assignment.workdir.hasPrefix("/")
            ? URL(fileURLWithPath: assignment.workdir)
            : configuration.jobRoot.appendingPathComponent(assignment.workdir)
        let trainer = try TrainerProcess(command: assignment.run, workdir: workdir, environment: environment)
        pendingLogs.append("[spotwise] attempt \(assignment.attempt) started on \(workerID): \(assignment.run)")

        var progress = ProgressReader(url: progressFile)
        var step: Int?
        var totalSteps: Int?
        let startStep = committedStep ?? 0
        var firstStepLogged = false
        var notice: InterruptionNotice?
        var stopping: String?
        var killAt: ContinuousClock.Instant?
        /// Rank 0 of a gang: checkpoint steps waiting for the other ranks' shards, with deadlines.
        var pendingGangSteps: [(step: Int, deadline: ContinuousClock.Instant)] = []
        let clock = ContinuousClock()
        var nextHeartbeat = clock.now
        var nextLogFlush = clock.now
        var nextWatch = clock.now

        func flushLogs() async {
            pendingLogs += trainer.takeLines()
            while !pendingLogs.isEmpty {
                let batch = Array(pendingLogs.prefix(WorkerProtocol.LogBatch.maxLines)).map {
                    String($0.utf8.prefix(WorkerProtocol.LogBatch.maxLineBytes)) ?? ""
                }
                do {
                    try await client.appendLogs(
                        job: assignment.job, attempt: assignment.attempt,
                        WorkerProtocol.LogBatch(epoch: epoch, lines: batch))
                    pendingLogs.removeFirst(batch.count)
                } catch {
                    if CoordinatorClient.isFenced(error) { pendingLogs.removeAll() }
                    return
                }
            }
        }

        /// Sends progress lines as metric points (run tracking; the first marks the end of overhead).
        /// Kept for the next try when the coordinator cannot be reached, up to a bound.
        func flushMetrics() async {
            while !pendingMetrics.isEmpty {
                let batch = Array(pendingMetrics.prefix(WorkerProtocol.MetricBatch.maxLines))
                do {
                    try await client.recordMetrics(
                        job: assignment.job, attempt: assignment.attempt,
                        WorkerProtocol.MetricBatch(epoch: epoch, resumedFromStep: startStep, lines: batch))
                    pendingMetrics.removeFirst(batch.count)
                } catch {
                    if CoordinatorClient.isFenced(error) { pendingMetrics.removeAll() }
                    if pendingMetrics.count > Self.maxPendingMetricLines {
                        pendingMetrics.removeFirst(pendingMetrics.count - Self.maxPendingMetricLines)
                    }
                    return
                }
            }
        }

        /// Commits the checkpoints the trainer finished since the last look.
        func readProgress() async throws {
            for line in progress.read() {
                if let announced = line.pid { trainer.adopt(announcedPID: announced) }
                if let reported = line.step {
                    step = max(step ?? reported, reported)
                    let finite = (line.metrics ?? [:]).filter {
                        $0.value.isFinite && !$0.key.isEmpty && $0.key.count <= 100
                    }
                    if rank == 0 {
                        pendingMetrics.append(
                            WorkerProtocol.MetricBatch.Line(
                                step: reported,
                                metrics: finite.count <= WorkerProtocol.MetricBatch.maxMetricsPerLine ? finite : [:]))
                    }
                    if !firstStepLogged, reported > startStep {
                        firstStepLogged = true
                        nextLogFlush = clock.now  // the coordinator marks the end of overhead from it
                        // Recovery, as the benchmarks split it: restore, then the first trained step.
                        pendingLogs.append(
                            "[spotwise] timing: restore \(restoreMilliseconds) ms, first step \(Self.milliseconds(clock.now - assigned)) ms after the assignment"
                        )
                    }
                }
                if let total = line.totalSteps { totalSteps = total }
                guard let name = line.checkpoint, let at = line.step else { continue }
                guard CheckpointManifest.isSafeName(name) else {
                    pendingLogs.append("[spotwise] refused checkpoint directory name '\(name)'")
                    continue
                }
                let directory = staging.appendingPathComponent(name)
                let started = clock.now
                if let gang = assignment.gang {
                    do {
                        try await store.commitShard(
                            job: assignment.job, attempt: assignment.attempt, step: at, rank: gang.rank,
                            from: directory)
                    } catch let refused as CheckpointError {
                        pendingLogs.append("[spotwise] shard '\(name)' at step \(at) not written: \(refused)")
                        continue
                    }
                    try? fm.removeItem(at: directory)
                    if gang.rank == 0 {
                        // Committed once every rank's shard is in; tried on every tick meanwhile,
                        // so heartbeats go on while the other ranks upload.
                        let deadline = min(killAt ?? .now + Self.gangCommitWait, .now + Self.gangCommitWait)
                        pendingGangSteps.append((at, deadline))
                    } else {
                        committedStep = at  // this rank's shard; the step is committed by rank 0
                    }
                    continue
                }
                let committed: CommittedCheckpointRef
                do {
                    committed = try await store.commit(
                        job: assignment.job, attempt: assignment.attempt, step: at, from: directory)
                } catch let refused as CheckpointError {
                    // An announced step that is missing, empty or out of range is not a checkpoint.
                    pendingLogs.append("[spotwise] checkpoint '\(name)' at step \(at) not committed: \(refused)")
                    continue
                }
                try? fm.removeItem(at: directory)
                logger.debug("committed step \(at) in \(Self.milliseconds(clock.now - started)) ms")
                try await recordCommit(committed)
            }
            try await commitGangSteps()
        }

        /// Retention, then the coordinator hears of the commit (a fenced attempt stops here).
        func recordCommit(_ committed: CommittedCheckpointRef) async throws {
            _ = try? await store.collectGarbage(job: assignment.job, keepLast: assignment.keepLast)
            committedStep = committed.step
            do {
                try await client.commitCheckpoint(
                    job: assignment.job, attempt: assignment.attempt,
                    WorkerProtocol.CheckpointCommitted(
                        epoch: epoch, step: committed.step, location: committed.location,
                        manifestDigest: committed.manifestDigest))
            } catch {
                if CoordinatorClient.isFenced(error) { throw FencedError(description: "\(error)") }
                // Unreachable: the next heartbeat carries committed_step; the checkpoint is on disk.
            }
        }

        /// Rank 0: commits the gang steps whose shards are all in, oldest first; a step still
        /// missing a shard at its deadline is given up (the gang resumes from an earlier one).
        func commitGangSteps() async throws {
            guard let gang = assignment.gang, gang.rank == 0 else { return }
            while let (step, deadline) = pendingGangSteps.first {
                if let committed = try await store.commitGang(
                    job: assignment.job, attempt: assignment.attempt, step: step, worldSize: gang.worldSize)
                {
                    pendingGangSteps.removeFirst()
                    try await recordCommit(committed)
                    continue
                }
                guard clock.now >= deadline else { return }
                pendingGangSteps.removeFirst()
                pendingLogs.append(
                    "[spotwise] gang checkpoint at step \(step) not committed: not every rank's shard arrived in time")
            }
        }

        /// Rank 0 after its trainer exited: waits (bounded by each step's deadline) for the
        /// shards of the gang's last checkpoints; after a lost peer, only looks once.
        func finishGangSteps(wait: Bool) async {
            if !wait, !pendingGangSteps.isEmpty {
                for index in pendingGangSteps.indices { pendingGangSteps[index].deadline = clock.now }
            }
            while !pendingGangSteps.isEmpty {
                do { try await commitGangSteps() } catch { return }
                if pendingGangSteps.isEmpty { return }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }

        while true {
            do {
                try await readProgress()
            } catch let fenced as FencedError {
                trainer.killGroup()
                return .fenced(fenced.description)
            }
            if let status = trainer.exitStatus {
                // The child is gone; the trainer behind a wrapper may still be writing its last
                // checkpoint. Wait for the whole group (bounded), committing as it goes.
                let giveUp = clock.now + .seconds(10)
                while trainer.groupAlive && clock.now < giveUp {
                    try? await readProgress()
                    try await Task.sleep(for: .milliseconds(20))
                }
                trainer.killGroup()
                try await Task.sleep(for: .milliseconds(20))  // let the last output arrive
                do { try await readProgress() } catch { trainer.killGroup() }
                await finishGangSteps(wait: status != GangExit.peerLostCode)
                await flushLogs()
                await flushMetrics()
                return try await report(
                    status: status, notice: notice, stopping: stopping, step: step, committedStep: committedStep,
                    output: output, noticeDeadline: killAt)
            }
            let now = clock.now
            if now >= nextWatch, notice == nil {
                nextWatch = now + .milliseconds(250)
                for watcher in configuration.watchers {
                    guard let seen = await watcher.check() else { continue }
                    if seen.isTermination {
                        notice = seen
                        let window =
                            seen.deadline.map { $0.timeIntervalSinceNow } ?? configuration.noticeWindowSeconds
                        pendingLogs.append(
                            "[spotwise] \(seen.kind.rawValue) notice (\(Int(window)) s): checkpointing and stopping")
                        trainer.signal(SIGTERM)
                        killAt = now + .milliseconds(Int(max(1, window) * 1000))
                        // Tell the coordinator at once: its node is not placed on again, and a
                        // gang's other members hear of the notice on their next heartbeat.
                        nextHeartbeat = now
                    } else {
                        pendingLogs.append("[spotwise] \(seen.kind.rawValue): checkpointing now")
                        trainer.signal(SIGUSR1)
                    }
                    break
                }
            }
            if now >= nextHeartbeat {
                nextHeartbeat = now + heartbeatPeriod
                do {
                    let reply = try await client.heartbeat(
                        worker: workerID,
                        WorkerProtocol.Heartbeat(
                            job: assignment.job, attempt: assignment.attempt, epoch: epoch, step: step,
                            totalSteps: totalSteps, committedStep: committedStep, notice: notice?.kind.rawValue))
                    switch reply.command {
                    case "checkpoint_now" where notice == nil: trainer.signal(SIGUSR1)
                    case "notice" where notice == nil:
                        notice = InterruptionNotice(kind: .gangMember)
                        pendingLogs.append(
                            "[spotwise] another member of the gang got a notice: checkpointing and stopping")
                        trainer.signal(SIGTERM)
                        killAt = clock.now + .milliseconds(Int(configuration.noticeWindowSeconds * 1000))
                    case "stop" where stopping == nil:
                        stopping = "the coordinator said stop"
                        trainer.signal(SIGTERM)
                        killAt = clock.now + Self.terminationGrace
                    default: break
                    }
                } catch {
                    if CoordinatorClient.isFenced(error) {
                        trainer.signal(SIGTERM)
                        try? await Task.sleep(for: .seconds(2))
                        trainer.killGroup()
                        return .fenced("\(error)")
                    }
                    logger.warning("heartbeat failed (training goes on): \(error)")
                }
            }
            if now >= nextLogFlush {
                nextLogFlush = now + .seconds(1)
                await flushLogs()
                await flushMetrics()
            }
            if let killAt, now >= killAt { trainer.killGroup() }
            try await Task.sleep(for: Self.tick)
        }
    }

    func report(
        status: Int32, notice: InterruptionNotice?, stopping: String?, step: Int?, committedStep: Int?, output: URL,
        noticeDeadline: ContinuousClock.Instant? = nil
    ) async throws -> AttemptOutcome {
        let finished: WorkerProtocol.AttemptFinished
        let outcome: AttemptOutcome
        if let stopping, notice == nil {
            return .fenced(stopping)
        } else if let gang = assignment.gang, let ending = GangExit(status: status, rank: gang.rank, notice: notice) {
            guard case .preempted(let withNotice) = ending.report else {
                if ending.waitForAttemptEnd { await waitForAttemptEnd(until: noticeDeadline) }
                return ending.outcome
            }
            finished = WorkerProtocol.AttemptFinished(
                epoch: epoch, outcome: .preempted, notice: withNotice, lastStep: step, committedStep: committedStep)
            outcome = ending.outcome
        } else if notice != nil {
            finished = WorkerProtocol.AttemptFinished(
                epoch: epoch, outcome: .preempted, notice: true, lastStep: step, committedStep: committedStep)
            outcome = .preempted(committedStep: committedStep)
        } else if let stopping {
            return .fenced(stopping)
        } else if status == 0 {
            let metricsURL = output.appendingPathComponent("metrics.json")
            let metrics = (try? Data(contentsOf: metricsURL)).flatMap {
                try? JSONDecoder().decode([String: Double].self, from: $0)
            }
            // The output directory is the model: committed like a checkpoint, for the registry.
            var artifact: ModelArtifact?
            do {
                let committed = try await checkpointStore().commitArtifact(
                    job: assignment.job, attempt: assignment.attempt, from: output)
                artifact = ModelArtifact(
                    storage: assignment.checkpointStorage, location: committed.location,
                    manifestDigest: committed.manifestDigest, bytes: committed.bytes)
            } catch {
                logger.error("could not commit the trainer's output: \(error)")
            }
            finished = WorkerProtocol.AttemptFinished(
                epoch: epoch, outcome: .completed, lastStep: step, committedStep: committedStep, metrics: metrics,
                artifact: artifact)
            outcome = .completed
        } else {
            finished = WorkerProtocol.AttemptFinished(
                epoch: epoch, outcome: .failed, exitCode: status, lastStep: step, committedStep: committedStep)
            outcome = .failed(exitCode: status)
        }
        var backoff = Backoff()
        for _ in 0..<20 {
            do {
                _ = try await client.finish(job: assignment.job, attempt: assignment.attempt, finished)
                return outcome
            } catch {
                if CoordinatorClient.isFenced(error) { return .fenced("\(error)") }
                try await Task.sleep(for: backoff.next())
            }
        }
        return outcome
    }

    /// Runs `work` (a restore) while heartbeating the attempt every period, so its lease (and a
    /// gang's view of this member) stays live however long the work takes. Returns the work's
    /// result, and why the attempt was fenced off meanwhile, if it was (the work is not awaited
    /// to its end then: it is cancelled).
    func withHeartbeats<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async
        -> (Result<T, any Error>, fenced: String?)
    {
        let worker = Task { () -> Result<T, any Error> in
            do { return .success(try await work()) } catch { return .failure(error) }
        }
        let beats = Task { [client, workerID, assignment, heartbeatPeriod] () -> String? in
            while true {
                do { try await Task.sleep(for: heartbeatPeriod) } catch { return nil }
                do {
                    _ = try await client.heartbeat(
                        worker: workerID,
                        WorkerProtocol.Heartbeat(
                            job: assignment.job, attempt: assignment.attempt, epoch: assignment.epoch))
                } catch {
                    if CoordinatorClient.isFenced(error) {
                        worker.cancel()
                        return "\(error)"
                    }
                }
            }
        }
        let result = await worker.value
        beats.cancel()
        return (result, await beats.value)
    }

    /// Heartbeats until the coordinator says the attempt is over (or `until`): a gang member
    /// leaving on its own notice must not end the attempt before rank 0 has committed the gang's
    /// checkpoint and reported.
    func waitForAttemptEnd(until: ContinuousClock.Instant?) async {
        let giveUp = until ?? .now + .seconds(Int(configuration.noticeWindowSeconds))
        while ContinuousClock.now < giveUp {
            do {
                let reply = try await client.heartbeat(
                    worker: workerID,
                    WorkerProtocol.Heartbeat(job: assignment.job, attempt: assignment.attempt, epoch: epoch))
                if reply.command == "stop" { return }
            } catch {
                if CoordinatorClient.isFenced(error) { return }
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

struct FencedError: Error, CustomStringConvertible {
    var description: String
}
