import Foundation
import SpotwiseCore

/// One attempt on one worker (or one gang of workers), from placement to its end: the row the cost ledger is made of.
public struct AttemptSegment: Hashable, Sendable {
    public var job: JobID
    public var attempt: Int
    public var epoch: LeaseEpoch
    public var workerID: WorkerID
    public var provider: String
    public var pool: WorkerPool
    public var startedAt: Date
    public var endedAt: Date?
    /// How the attempt ended, as a type: what billing and reports decide on. Nil while it runs.
    public var endKind: AttemptEndKind?
    /// How the attempt ended, in words for people (`preempted with notice`, `completed`, ...).
    public var endReason: String?
    /// The highest step the coordinator heard of for this attempt (metric batches while it ran;
    /// heartbeats, committed checkpoints and the worker's final report when it ended), and the
    /// newest step committed when it ended. After an end without the worker's last word (a loss,
    /// an interruption without notice) the trainer may have gone further than `lastStep`.
    public var lastStep: Int?
    public var committedStep: Int?
    /// The step it resumed from (nil: from scratch).
    public var resumedFromStep: Int?
    /// When the coordinator first heard of a step trained in this attempt; everything before it
    /// (provisioning, start, restore) is overhead. Nil while (or if) no step was trained.
    public var firstStepAt: Date?
    /// How many nodes of `pool` the attempt held (a gang's size); each is billed.
    public var nodes: Int

    public init(
        job: JobID, attempt: Int, epoch: LeaseEpoch, workerID: WorkerID, provider: String, pool: WorkerPool,
        startedAt: Date, resumedFromStep: Int?, nodes: Int = 1
    ) {
        self.nodes = nodes
        self.job = job
        self.attempt = attempt
        self.epoch = epoch
        self.workerID = workerID
        self.provider = provider
        self.pool = pool
        self.startedAt = startedAt
        self.resumedFromStep = resumedFromStep
    }
}

/// How an attempt segment ended: its kind (the type) and the words shown beside it.
public struct SegmentEnd: Hashable, Sendable {
    public var at: Date
    public var kind: AttemptEndKind
    public var reason: String
    public var lastStep: Int?
    public var committedStep: Int?

    public init(at: Date, kind: AttemptEndKind, reason: String, lastStep: Int?, committedStep: Int?) {
        self.at = at
        self.kind = kind
        self.reason = reason
        self.lastStep = lastStep
        self.committedStep = committedStep
    }

    /// An end the job state machine knows: its kind and words both follow from `reason`.
    public init(at: Date, reason: AttemptEndReason, lastStep: Int?, committedStep: Int?) {
        self.init(
            at: at, kind: AttemptEndKind(reason), reason: reason.words, lastStep: lastStep, committedStep: committedStep
        )
    }
}
