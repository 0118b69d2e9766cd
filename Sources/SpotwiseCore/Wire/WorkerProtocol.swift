import Foundation

/// The worker protocol's bodies (docs/openapi.yaml and docs/worker-protocol.md): one definition
/// that the coordinator decodes and the agent encodes. Keys are snake_case on the wire.
public enum WorkerProtocol {
    /// POST /v1/workers (bootstrap token).
    public struct Registration: Codable, Sendable, Equatable {
        public var name: String
        public var provider: String
        /// The capacity the worker stands for; a worker without one is never given an attempt.
        public var pool: WorkerPool?
        /// Where the worker's peers reach it when it holds rank 0 of a gang (`MASTER_ADDR`).
        public var address: String?

        public init(name: String, provider: String, pool: WorkerPool?, address: String? = nil) {
            self.name = name
            self.provider = provider
            self.pool = pool
            self.address = address
        }

        public static let fields: Set<String> = ["name", "provider", "pool", "address"]
    }

    public struct Registered: Codable, Sendable, Equatable {
        public var workerID: WorkerID
        public var token: String
        public var heartbeatEveryMilliseconds: Int64
        public var leaseMilliseconds: Int64

        public init(workerID: WorkerID, token: String, heartbeatEveryMilliseconds: Int64, leaseMilliseconds: Int64) {
            self.workerID = workerID
            self.token = token
            self.heartbeatEveryMilliseconds = heartbeatEveryMilliseconds
            self.leaseMilliseconds = leaseMilliseconds
        }

        enum CodingKeys: String, CodingKey {
            case workerID = "worker_id"
            case token
            case heartbeatEveryMilliseconds = "heartbeat_every_ms"
            case leaseMilliseconds = "lease_ms"
        }
    }

    /// What an idle worker is told to run (POST /v1/workers/{id}/assignment); nil: nothing yet.
    public struct Assignment: Codable, Sendable, Equatable {
        public var job: String
        public var jobName: String
        public var attempt: Int
        public var epoch: UInt64
        public var run: String
        public var workdir: String
        public var env: [String: String]
        public var hyperparameters: [String: JSONValue]
        public var checkpointEverySteps: Int
        public var keepLast: Int
        public var checkpointStorage: String
        /// The newest committed checkpoint to restore first; nil: start from step 0.
        public var resume: CommittedCheckpoint?
        /// A gang member's place in it (nil for a single-node attempt): its rank, the gang's size
        /// and where rank 0 listens (torchrun's `MASTER_ADDR` and `MASTER_PORT`).
        public var gang: GangMember?

        public init(
            job: String, jobName: String, attempt: Int, epoch: UInt64, run: String, workdir: String,
            env: [String: String], hyperparameters: [String: JSONValue], checkpointEverySteps: Int, keepLast: Int,
            checkpointStorage: String, resume: CommittedCheckpoint?, gang: GangMember? = nil
        ) {
            self.gang = gang
            self.job = job
            self.jobName = jobName
            self.attempt = attempt
            self.epoch = epoch
            self.run = run
            self.workdir = workdir
            self.env = env
            self.hyperparameters = hyperparameters
            self.checkpointEverySteps = checkpointEverySteps
            self.keepLast = keepLast
            self.checkpointStorage = checkpointStorage
            self.resume = resume
        }

        enum CodingKeys: String, CodingKey {
            case job, attempt, epoch, run, workdir, env, hyperparameters, resume, gang
            case jobName = "job_name"
            case checkpointEverySteps = "checkpoint_every_steps"
            case keepLast = "keep_last"
            case checkpointStorage = "checkpoint_storage"
        }
    }

    /// One member of a gang attempt.
    public struct GangMember: Codable, Sendable, Equatable {
        public var rank: Int
        public var worldSize: Int
        public var masterAddress: String
        public var masterPort: Int

        public init(rank: Int, worldSize: Int, masterAddress: String, masterPort: Int) {
            self.rank = rank
            self.worldSize = worldSize
            self.masterAddress = masterAddress
            self.masterPort = masterPort
        }

        enum CodingKeys: String, CodingKey {
            case rank
            case worldSize = "world_size"
            case masterAddress = "master_addr"
            case masterPort = "master_port"
        }
    }

    public struct AssignmentReply: Codable, Sendable, Equatable {
        public var assignment: Assignment?
        public init(assignment: Assignment?) { self.assignment = assignment }
    }

    /// What a worker reports every few seconds about the attempt it runs.
    public struct Heartbeat: Codable, Sendable, Equatable {
        public var job: String
        public var attempt: Int
        public var epoch: UInt64
        public var step: Int?
        public var totalSteps: Int?
        public var committedStep: Int?
        /// An interruption notice the worker saw (`spot-termination`, `rebalance`, `preempted`, `sigterm`).
        public var notice: String?

        public init(
            job: String, attempt: Int, epoch: UInt64, step: Int? = nil, totalSteps: Int? = nil,
            committedStep: Int? = nil, notice: String? = nil
        ) {
            self.job = job
            self.attempt = attempt
            self.epoch = epoch
            self.step = step
            self.totalSteps = totalSteps
            self.committedStep = committedStep
            self.notice = notice
        }

        enum CodingKeys: String, CodingKey {
            case job, attempt, epoch, step, notice
            case totalSteps = "total_steps"
            case committedStep = "committed_step"
        }

        public static let fields: Set<String> = [
            "job", "attempt", "epoch", "step", "total_steps", "committed_step", "notice",
        ]
    }

    /// What a heartbeat reply tells the worker to do next; the wire strings are the raw values.
    public enum HeartbeatCommand: String, Codable, Sendable, CaseIterable {
        /// Keep training.
        case `continue`
        /// Checkpoint at the next step and keep going (SIGUSR1 to the trainer).
        case checkpointNow = "checkpoint_now"
        /// Another member of the gang got an interruption notice: checkpoint and stop as if this
        /// worker had (SIGTERM to the trainer).
        case notice
        /// The attempt is over for this worker (fenced, cancelled, `max_cost`, a lost gang member).
        case stop
    }

    /// The heartbeat reply: what the worker must do next, and how long its lease now runs.
    public struct HeartbeatReply: Codable, Sendable, Equatable {
        public var command: HeartbeatCommand
        public var leaseExpiresInMilliseconds: Int64

        public init(command: HeartbeatCommand, leaseExpiresInMilliseconds: Int64) {
            self.command = command
            self.leaseExpiresInMilliseconds = leaseExpiresInMilliseconds
        }

        enum CodingKeys: String, CodingKey {
            case command
            case leaseExpiresInMilliseconds = "lease_expires_in_ms"
        }
    }

    /// POST /v1/jobs/{id}/attempts/{n}/checkpoints: a checkpoint the worker committed.
    public struct CheckpointCommitted: Codable, Sendable, Equatable {
        public var epoch: UInt64
        public var step: Int
        public var location: String
        public var manifestDigest: String

        public init(epoch: UInt64, step: Int, location: String, manifestDigest: String) {
            self.epoch = epoch
            self.step = step
            self.location = location
            self.manifestDigest = manifestDigest
        }

        enum CodingKeys: String, CodingKey {
            case epoch, step, location
            case manifestDigest = "manifest_digest"
        }

        public static let fields: Set<String> = ["epoch", "step", "location", "manifest_digest"]
    }

    /// POST /v1/jobs/{id}/attempts/{n}/finish: how the attempt ended.
    public struct AttemptFinished: Codable, Sendable, Equatable {
        public enum Outcome: String, Codable, Sendable, CaseIterable {
            /// The trainer exited 0.
            case completed
            /// The trainer exited non-zero (`exit_code`).
            case failed
            /// The capacity was taken back; `notice` says whether a notice came first.
            case preempted
            /// The node or the agent failed for reasons that are not the trainer's (`message`).
            case infrastructure
        }

        public var epoch: UInt64
        public var outcome: Outcome
        public var exitCode: Int32?
        public var notice: Bool?
        public var lastStep: Int?
        public var committedStep: Int?
        public var metrics: [String: Double]?
        public var message: String?
        /// The trainer's output directory, committed like a checkpoint (completed attempts only).
        public var artifact: ModelArtifact?

        public init(
            epoch: UInt64, outcome: Outcome, exitCode: Int32? = nil, notice: Bool? = nil, lastStep: Int? = nil,
            committedStep: Int? = nil, metrics: [String: Double]? = nil, message: String? = nil,
            artifact: ModelArtifact? = nil
        ) {
            self.artifact = artifact
            self.epoch = epoch
            self.outcome = outcome
            self.exitCode = exitCode
            self.notice = notice
            self.lastStep = lastStep
            self.committedStep = committedStep
            self.metrics = metrics
            self.message = message
        }

        enum CodingKeys: String, CodingKey {
            case epoch, outcome, notice, metrics, message, artifact
            case exitCode = "exit_code"
            case lastStep = "last_step"
            case committedStep = "committed_step"
        }

        public static let fields: Set<String> = [
            "epoch", "outcome", "exit_code", "notice", "last_step", "committed_step", "metrics", "message", "artifact",
        ]
    }

    /// POST /v1/jobs/{id}/attempts/{n}/logs: trainer output lines, in order.
    public struct LogBatch: Codable, Sendable, Equatable {
        public var epoch: UInt64
        public var lines: [String]

        public init(epoch: UInt64, lines: [String]) {
            self.epoch = epoch
            self.lines = lines
        }

        public static let fields: Set<String> = ["epoch", "lines"]
        public static let maxLines = 1_000
        public static let maxLineBytes = 16 * 1024
    }
}
