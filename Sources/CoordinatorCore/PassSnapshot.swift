import Foundation
import Scheduler
import SpotPolicy
import SpotwiseCore
import StateStore

/// Everything one scheduling pass decides from, read by the driver (`JobScheduler`) before the
/// core decides: the store's jobs, leases and workers, what the live board heard, and what the
/// capacity launcher has outstanding. A value: the core reads no clock and no store.
public struct PassSnapshot: Sendable {
    /// The lease clock (milliseconds) and the wall clock, read once by the driver.
    public var nowMilliseconds: Int64
    public var now: Date
    /// Unrevoked leases.
    public var leases: [Lease]
    /// Queued and recovering jobs, as the store lists them (the planner orders them itself).
    public var pending: [StoredJob]
    public var running: [StoredJob]
    /// What each job with a `max_cost` has cost so far (open attempts priced up to now).
    public var spent: [JobID: Money]
    /// Jobs asked to checkpoint and stop at their `max_cost`.
    public var stopRequests: [JobID: StopRequest]
    /// Registered workers, and when each placeable one was last heard from (absent: never heard
    /// from, suspected after a gang's loss, or going away).
    public var workers: [WorkerRecord]
    public var placeableSince: [WorkerID: Int64]
    /// Gang attempts as the live board knows them (for elastic resizing).
    public var gangs: [JobID: GangAttempt]
    /// The newest measured pace per job (for the policy's work estimate).
    public var pace: [JobID: Pace]
    /// Succeeded jobs (newest first, a bounded number) and those known to be decided already.
    public var succeeded: [StoredJob]
    public var decided: Set<JobID>
    public var availability: [String: AvailabilityHistory]
    public var capacity: CapacityView

    public init(
        nowMilliseconds: Int64, now: Date, leases: [Lease] = [], pending: [StoredJob] = [],
        running: [StoredJob] = [], spent: [JobID: Money] = [:], stopRequests: [JobID: StopRequest] = [:],
        workers: [WorkerRecord] = [], placeableSince: [WorkerID: Int64] = [:], gangs: [JobID: GangAttempt] = [:],
        pace: [JobID: Pace] = [:], succeeded: [StoredJob] = [], decided: Set<JobID> = [],
        availability: [String: AvailabilityHistory] = [:], capacity: CapacityView = CapacityView()
    ) {
        self.nowMilliseconds = nowMilliseconds
        self.now = now
        self.leases = leases
        self.pending = pending
        self.running = running
        self.spent = spent
        self.stopRequests = stopRequests
        self.workers = workers
        self.placeableSince = placeableSince
        self.gangs = gangs
        self.pace = pace
        self.succeeded = succeeded
        self.decided = decided
        self.availability = availability
        self.capacity = capacity
    }
}

/// A job asked to checkpoint and stop: since when, and the checkpoint step it had then.
public struct StopRequest: Hashable, Sendable {
    public var sinceMilliseconds: Int64
    public var committedStep: Int?

    public init(sinceMilliseconds: Int64, committedStep: Int?) {
        self.sinceMilliseconds = sinceMilliseconds
        self.committedStep = committedStep
    }
}

/// A job's measured pace.
public struct Pace: Hashable, Sendable {
    public var secondsPerStep: Double
    public var totalSteps: Int

    public init(secondsPerStep: Double, totalSteps: Int) {
        self.secondsPerStep = secondsPerStep
        self.totalSteps = totalSteps
    }
}

/// What the capacity launcher has: offers the planner may choose, and launches waiting for
/// their worker.
public struct CapacityView: Sendable {
    /// Whether a launcher exists (without one, only registered workers are placed on).
    public var enabled: Bool
    /// The providers' pools as capacity offers (spot offers already withheld where the provider
    /// had none).
    public var offers: [IdleWorker]
    /// Worker name -> the job its capacity was launched for.
    public var reservations: [String: JobID]
    public var outstanding: [JobID: OutstandingLaunch]

    public init(
        enabled: Bool = false, offers: [IdleWorker] = [], reservations: [String: JobID] = [:],
        outstanding: [JobID: OutstandingLaunch] = [:]
    ) {
        self.enabled = enabled
        self.offers = offers
        self.reservations = reservations
        self.outstanding = outstanding
    }
}

/// Capacity launched for a job whose worker has not registered yet.
public struct OutstandingLaunch: Hashable, Sendable {
    public var provider: ProviderName
    public var handle: String
    /// The provider's last word on it, in words (nil: not observed yet).
    public var state: String?

    public init(provider: ProviderName, handle: String, state: String?) {
        self.provider = provider
        self.handle = handle
        self.state = state
    }
}

/// A job's launches that failed for other reasons than capacity.
public struct FailedLaunches: Hashable, Sendable {
    public var count: Int
    public var last: String?

    public init(count: Int, last: String?) {
        self.count = count
        self.last = last
    }
}
