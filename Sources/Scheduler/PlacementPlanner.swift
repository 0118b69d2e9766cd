import Foundation
import SpotPolicy
import SpotwiseCore

/// A job waiting for capacity: queued, or recovering after an attempt ended.
public struct PendingJob: Sendable {
    public var id: JobID
    public var spec: JobSpec
    public var submittedAt: Date
    /// What is known of its work, from earlier attempts' heartbeats; nil before any.
    public var progress: WorkProgress?

    public init(id: JobID, spec: JobSpec, submittedAt: Date, progress: WorkProgress? = nil) {
        self.id = id
        self.spec = spec
        self.submittedAt = submittedAt
        self.progress = progress
    }
}

/// How far a job got and how fast it went, as its trainer reported.
public struct WorkProgress: Hashable, Sendable {
    public var committedStep: Int
    public var totalSteps: Int
    public var secondsPerStep: Double

    public init(committedStep: Int, totalSteps: Int, secondsPerStep: Double) {
        self.committedStep = committedStep
        self.totalSteps = totalSteps
        self.secondsPerStep = secondsPerStep
    }

    public var remainingSeconds: Double { Double(max(0, totalSteps - committedStep)) * secondsPerStep }
    public var totalSeconds: Double { Double(totalSteps) * secondsPerStep }
}

/// What a job can be placed on: a registered worker, or capacity a provider can launch for it.
/// At the same price a registered worker comes first (it runs now; an offer must be launched).
public enum PlacementTarget: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// A registered worker, waiting for work.
    case worker(WorkerID)
    /// Capacity a provider can launch for the job (`CapacityLauncher`): one node, never part of a
    /// gang; placing on it means launching it.
    case offer(OfferID)

    /// The registered worker, nil for an offer.
    public var worker: WorkerID? {
        if case .worker(let id) = self { return id }
        return nil
    }

    public var isOffer: Bool { worker == nil }

    public var description: String {
        switch self {
        case .worker(let id): id.rawValue
        case .offer(let offer): offer.rawValue
        }
    }

    /// The same kind of target with its identity left out (what `FreeWorkers` groups by).
    var blanked: PlacementTarget {
        switch self {
        case .worker: .worker(WorkerID(""))
        case .offer: .offer(OfferID(rawValue: ""))
        }
    }
}

/// One provider pool's launchable capacity, named by the pool it launches into.
public struct OfferID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(provider: ProviderName, pool: WorkerPool) {
        rawValue = "offer:\(provider.rawValue):\(pool.region):\(pool.market.rawValue):\(pool.instanceType)"
    }

    init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
    public static func < (lhs: OfferID, rhs: OfferID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A registered, live worker holding no attempt, or a provider's offer to launch one.
public struct IdleWorker: Hashable, Sendable {
    public var id: PlacementTarget
    public var provider: ProviderName
    public var pool: WorkerPool

    /// A registered worker.
    public init(id: WorkerID, provider: ProviderName, pool: WorkerPool) {
        self.id = .worker(id)
        self.provider = provider
        self.pool = pool
    }

    /// The capacity `provider` can launch in `pool`.
    public static func offer(provider: ProviderName, pool: WorkerPool) -> IdleWorker {
        var offer = IdleWorker(id: WorkerID(""), provider: provider, pool: pool)
        offer.id = .offer(OfferID(provider: provider, pool: pool))
        return offer
    }

    public var isCapacityOffer: Bool { id.isOffer }

    var poolName: String { "\(provider.rawValue)/\(pool.region)" }
}

/// One decision of the planner: this job's next attempt runs on this worker (or is launched on
/// this offer), and why.
public struct PlannedPlacement: Hashable, Sendable {
    public var job: JobID
    public var target: PlacementTarget
    public var placement: Placement
    public var pool: WorkerPool
    public var reason: String
    /// A gang's workers by rank (`target` is rank 0); empty for a single-node attempt.
    public var members: [WorkerID]

    public init(
        job: JobID, target: PlacementTarget, placement: Placement, pool: WorkerPool, reason: String,
        members: [WorkerID] = []
    ) {
        self.job = job
        self.target = target
        self.placement = placement
        self.pool = pool
        self.reason = reason
        self.members = members
    }

    /// The registered worker it runs on (rank 0 of a gang); nil for a launch.
    public var worker: WorkerID? { target.worker }

    /// Whether the placement is a launch of capacity, not a lease on a registered worker.
    public var onCapacityOffer: Bool { target.isOffer }

    /// How many nodes the attempt holds.
    public var nodes: Int { max(1, members.count) }
}

/// Everything the planner decided in one pass.
public struct PlacementPlan: Hashable, Sendable {
    public var placements: [PlannedPlacement] = []
    /// Jobs left waiting, with why (shown by `spotwise job`).
    public var waiting: [JobID: String] = [:]

    public init() {}
}

/// Pure placement: pending jobs and idle workers in, placements out. Asks the spot policy where
/// each job's next stretch of work should run (spot in a pool, on-demand, or wait), then binds the
/// decision to an idle worker of that pool and market. A worker is given to one job at most; jobs
/// are served oldest first. No I/O: the scheduler service carries the plan out.
public struct PlacementPlanner: Sendable {
    public var policy: any SpotPolicy
    /// The policy's decision period and the changeover it assumes (provisioning, restore, first
    /// step), in seconds; the coordinator's loop may run more often than this.
    public var decisionSeconds: Double
    public var changeoverSeconds: Double

    /// A short job with more slack than this many decision periods waits for spot instead of
    /// going on demand when no spot worker is idle.
    static let freeWaitPeriods = 12.0

    public init(
        policy: any SpotPolicy = SpotwisePolicy(), decisionSeconds: Double = 300, changeoverSeconds: Double = 300
    ) {
        self.policy = policy
        self.decisionSeconds = decisionSeconds
        self.changeoverSeconds = changeoverSeconds
    }

    /// `live`: every live worker with a pool, idle or busy (a gang that cannot be placed yet holds
    /// the idle workers of a group that can hold it once its busy workers finish, so younger jobs
    /// do not keep taking them one by one and starve it).
    public func plan(
        jobs: [PendingJob], idle: [IdleWorker], history: [String: AvailabilityHistory] = [:], now: Date,
        live: [IdleWorker] = []
    ) -> PlacementPlan {
        var plan = PlacementPlan()
        var free = FreeWorkers(idle)
        // Which providers and regions have a spot worker among the live ones, idle or busy.
        let liveSpot = Set(live.filter { $0.pool.market == .spot }.map(FreeWorkers.key))
        for job in jobs.sorted(by: { ($0.submittedAt, $0.id) < ($1.submittedAt, $1.id) }) {
            let nodes = job.spec.resources.nodes
            let gang = nodes.maximumCount > 1
            // One worker per group decides a single node (the cheapest is what is taken); a gang
            // needs every eligible worker.
            var eligible =
                gang ? free.all { Self.allows(job.spec, $0) } : free.representatives { Self.allows(job.spec, $0) }
            guard !eligible.isEmpty else {
                plan.waiting[job.id] = "no idle worker of \(Self.providerList(job.spec)) has registered"
                continue
            }
            if gang {
                // A gang is placed whole in one pool and market, or not at all: only groups that
                // can hold `minimum` members count (launch offers are single nodes: not for gangs).
                let candidates = eligible
                eligible = Self.gangCapable(eligible, minimum: nodes.minimum)
                guard !eligible.isEmpty else {
                    var reason =
                        "a gang of \(nodes.minimum) needs that many idle workers of one pool and market; none has them"
                    if let held = Self.hold(for: job, candidates: candidates, live: live) {
                        free.remove(held.workers)
                        reason +=
                            "; holding \(held.workers.count) idle in \(held.group) for it (\(held.busy) more there are busy)"
                    }
                    plan.waiting[job.id] = reason
                    continue
                }
            }
            let spotRegistered =
                eligible.contains { $0.pool.market == .spot } || liveSpot.contains { Self.allows(job.spec, $0) }
            switch choose(job, eligible: eligible, history: history, now: now, spotRegistered: spotRegistered) {
            case .wait(let reason):
                plan.waiting[job.id] = reason
            case .place(let worker, let reason):
                let members = gang ? Self.gang(led: worker, from: eligible, maximum: nodes.maximumCount) : []
                free.remove(members.isEmpty ? [worker] : members)
                plan.placements.append(
                    PlannedPlacement(
                        job: job.id, target: worker.id,
                        placement: Placement(
                            provider: worker.provider, region: worker.pool.region, market: worker.pool.market),
                        pool: worker.pool,
                        reason: members.isEmpty ? reason : "gang of \(members.count) in \(worker.poolName): \(reason)",
                        members: members.compactMap(\.id.worker)))
            }
        }
        return plan
    }

    /// Workers that are interchangeable members of one gang: same provider, region, market and
    /// instance type.
    static func gangGroup(_ worker: IdleWorker) -> String {
        "\(worker.poolName)/\(worker.pool.market.rawValue)/\(worker.pool.instanceType)"
    }

    /// The eligible workers whose group has at least `minimum` of them (and no launch offers).
    static func gangCapable(_ eligible: [IdleWorker], minimum: Int) -> [IdleWorker] {
        let candidates = eligible.filter { !$0.isCapacityOffer }
        let counts = Dictionary(grouping: candidates, by: gangGroup).mapValues(\.count)
        return candidates.filter { counts[gangGroup($0), default: 0] >= minimum }
    }

    /// The gang the policy's choice leads: `lead` as rank 0, then the cheapest others of its
    /// group (by id for a stable order), up to `maximum`.
    static func gang(led lead: IdleWorker, from eligible: [IdleWorker], maximum: Int) -> [IdleWorker] {
        let others = eligible.filter { $0.id != lead.id && gangGroup($0) == gangGroup(lead) }.sorted(by: cheaperFirst)
        return [lead] + others.prefix(maximum - 1)
    }

    /// The idle workers a waiting gang holds: those of the group (of a market the job accepts)
    /// with the most idle workers among the groups whose live workers, busy ones included, could
    /// make up the gang. Nil when no group ever could.
    static func hold(for job: PendingJob, candidates: [IdleWorker], live: [IdleWorker]) -> (
        group: String, workers: Set<IdleWorker>, busy: Int
    )? {
        let minimum = job.spec.resources.nodes.minimum
        let accepted = candidates.filter { worker in
            !worker.isCapacityOffer
                && (job.spec.market == .auto || (job.spec.market == .spot) == (worker.pool.market == .spot))
        }
        let sizes = Dictionary(grouping: live, by: gangGroup).mapValues(\.count)
        let groups = Dictionary(grouping: accepted, by: gangGroup).filter { sizes[$0.key, default: 0] >= minimum }
        guard
            let best = groups.max(by: {
                ($0.value.count, $1.key) < ($1.value.count, $0.key)  // most idle, then the first name
            })
        else { return nil }
        return (best.key, Set(best.value), sizes[best.key, default: 0] - best.value.count)
    }

    enum Choice {
        case place(IdleWorker, reason: String)
        case wait(String)
    }

    /// `spotRegistered`: whether any live worker the job may use (idle or busy) sells spot.
    func choose(
        _ job: PendingJob, eligible: [IdleWorker], history: [String: AvailabilityHistory], now: Date,
        spotRegistered: Bool = true
    ) -> Choice {
        // Unsorted: only the cheapest of a market (or of a pool and market) is ever taken, found
        // with `cheapest` in one scan. (Sorting every idle worker for every job made a pass over
        // 1,000 jobs and 10,000 workers take seconds: SchedulingPassBenchmark.)
        let spot = eligible.filter { $0.pool.market == .spot }
        let onDemand = eligible.filter { $0.pool.market == .onDemand }
        switch job.spec.market {
        case .spot:
            if let worker = Self.cheapest(spot) {
                return .place(worker, reason: "market: spot (the spec asks for spot only)")
            }
            return .wait("market: spot, and no spot worker is idle")
        case .onDemand:
            if let worker = Self.cheapest(onDemand) {
                return .place(worker, reason: "market: on-demand (the spec asks for it)")
            }
            return .wait("market: on-demand, and no on-demand worker is idle")
        case .auto:
            guard let deadline = job.spec.deadline else {
                if let worker = Self.cheapest(spot) {
                    return .place(worker, reason: "no deadline: spot while it lasts")
                }
                if spot.isEmpty && onDemand.isEmpty { return .wait("no idle worker") }
                // Waiting for spot that no registered worker sells would wait forever.
                if !spotRegistered, let worker = Self.cheapest(onDemand) {
                    return .place(
                        worker, reason: "no deadline, and no worker of this job's providers sells spot: on-demand")
                }
                return .wait("no deadline: waiting for spot")
            }
            return consultPolicy(job, deadline: deadline, spot: spot, onDemand: onDemand, history: history, now: now)
        }
    }

    /// Builds the policy's view: one pool per provider and region among the eligible workers.
    func consultPolicy(
        _ job: PendingJob, deadline: Deadline, spot: [IdleWorker], onDemand: [IdleWorker],
        history: [String: AvailabilityHistory], now: Date
    ) -> Choice {
        // A job whose measured remaining work is below one decision period is finer than the
        // policy's plan can resolve (it would price launching and waiting the same): take idle spot.
        if let progress = job.progress, progress.remainingSeconds < decisionSeconds {
            let left = Int(progress.remainingSeconds.rounded())
            if let worker = Self.cheapest(spot) {
                return .place(
                    worker,
                    reason:
                        "\(left) s of work left, under the policy's \(Int(decisionSeconds)) s decision period: idle spot now"
                )
            }
            // No spot idle this moment (a spot node relaunching), and the deadline is hours of
            // decision periods away: waiting is free, on-demand is not.
            let slack =
                deadline.instant(submittedAt: job.submittedAt).timeIntervalSince(now) - progress.remainingSeconds
            if slack > Self.freeWaitPeriods * decisionSeconds {
                return .wait(
                    "\(left) s of work left and \(Int(slack / 3600)) h of slack: waiting for spot rather than paying on-demand"
                )
            }
        }
        let workers = spot + onDemand
        let names = Array(Set(workers.map(\.poolName))).sorted()
        let pools = names.map { name -> PoolState in
            let members = workers.filter { $0.poolName == name }
            let spotPrice = members.filter { $0.pool.market == .spot }.map(\.pool.pricePerHour.dollars).min()
            let onDemandPrice = members.map(\.pool.onDemandPricePerHour.dollars).min() ?? 0
            return PoolState(
                name: name, spotPricePerHour: spotPrice ?? onDemandPrice, onDemandPricePerHour: onDemandPrice,
                spotAvailableNow: spotPrice != nil, history: history[name] ?? AvailabilityHistory())
        }
        let window = deadline.instant(submittedAt: job.submittedAt).timeIntervalSince(job.submittedAt)
        let elapsed = now.timeIntervalSince(job.submittedAt)
        // Without a measured pace, assume the work takes half the window: cautious enough that the
        // safety net still leaves room, loose enough that spot is tried first.
        let total = max(job.progress?.totalSeconds ?? window / 2, decisionSeconds)
        let remaining = max(job.progress?.remainingSeconds ?? total, decisionSeconds)
        let context = DecisionContext(
            totalWorkSeconds: total, remainingWorkSeconds: min(remaining, total), elapsedSeconds: max(0, elapsed),
            deadlineSeconds: window, tickSeconds: decisionSeconds, changeoverSeconds: changeoverSeconds,
            nodes: job.spec.resources.nodes.minimum,
            current: nil, pools: pools)
        let choice = policy.decide(context)
        let why = "policy \(policy.name): \(choice.reason)"
        switch choice.decision {
        case .spot(let index):
            if let worker = Self.cheapest(spot, in: pools[index].name) {
                return .place(worker, reason: why)
            }
            return .wait(why + "; its pool has no idle spot worker")
        case .onDemand(let index):
            let worker = Self.cheapest(onDemand, in: pools[index].name) ?? Self.cheapest(onDemand)
            if let worker { return .place(worker, reason: why) }
            return .wait(why + "; no on-demand worker is idle")
        case .wait, .keepGoing:
            return .wait(why)
        }
    }

    static func allows(_ spec: JobSpec, _ worker: IdleWorker) -> Bool {
        spec.providers.contains { preference in
            preference.name == worker.provider
                && (preference.regions.isEmpty || preference.regions.contains(worker.pool.region))
        }
    }

    /// The first of `workers` in `cheaperFirst` order (of those in pool `name`, if given).
    static func cheapest(_ workers: [IdleWorker], in name: String? = nil) -> IdleWorker? {
        var best: IdleWorker?
        for worker in workers where name == nil || worker.poolName == name {
            if best.map({ cheaperFirst(worker, $0) }) ?? true { best = worker }
        }
        return best
    }

    static func cheaperFirst(_ a: IdleWorker, _ b: IdleWorker) -> Bool {
        (a.pool.pricePerHour, a.id) < (b.pool.pricePerHour, b.id)
    }

    static func providerList(_ spec: JobSpec) -> String {
        spec.providers.map(\.name.rawValue).joined(separator: " or ")
    }
}
