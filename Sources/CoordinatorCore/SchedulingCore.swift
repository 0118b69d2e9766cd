import Foundation
import Scheduler
import SpotwiseCore
import StateStore

/// Every decision of the coordinator's scheduling pass, pure: given what the driver read
/// (`PassSnapshot`), the effects to carry out. No clock, no store, no board: the same snapshot
/// always gives the same decision (property-tested in `SchedulingCoreTests`).
public struct SchedulingCore: Sendable {
    public var planner: PlacementPlanner
    /// How long a worker counts as live after it was last heard from (one lease).
    public var leaseMilliseconds: Int64
    /// How long a stopping attempt gets to commit its checkpoint before its job fails anyway.
    public var stopGraceMilliseconds: Int64
    /// How long a gang runs before it is resized, so a pool's capacity flickering back and forth
    /// does not restart it over and over.
    public var resizeMinimumAgeMilliseconds: Int64
    /// How many succeeded jobs one pass looks at for an undecided model.
    public static let gateSweepLimit = 20

    public init(
        planner: PlacementPlanner, leaseMilliseconds: Int64, stopGraceMilliseconds: Int64,
        resizeMinimumAgeMilliseconds: Int64
    ) {
        self.planner = planner
        self.leaseMilliseconds = leaseMilliseconds
        self.stopGraceMilliseconds = stopGraceMilliseconds
        self.resizeMinimumAgeMilliseconds = resizeMinimumAgeMilliseconds
    }

    /// Live attempts (of provisioning and running jobs) without an unrevoked lease of their epoch.
    public static func orphans(_ jobs: [StoredJob], leases: [Lease]) -> [PassEffect] {
        let byJob = Dictionary(leases.filter { !$0.revoked }.map { ($0.job, $0.epoch) }, uniquingKeysWith: max)
        return jobs.compactMap { job in
            guard job.state == .provisioning || job.state == .running, let live = job.record.liveAttempt,
                byJob[job.id] != live.epoch
            else { return nil }
            return .endOrphan(job: job.id, attempt: live.number, epoch: live.epoch)
        }
    }

    /// The pass: `max_cost`, the gate sweep, elastic growth, then placement of the waiting jobs
    /// (on capacity launched for them, on idle workers, or on capacity offers to launch).
    public func decide(_ snapshot: PassSnapshot, cluster known: Cluster? = nil) -> PassDecision {
        var decision = PassDecision()
        let budgets = Self.budgets(snapshot, stopGraceMilliseconds: stopGraceMilliseconds)
        decision.effects += budgets
        // Over its budget: failing, or asked to stop and not to be resized meanwhile.
        let overBudget = Set((snapshot.running + snapshot.pending).filter { Self.isOverBudget($0, snapshot) }.map(\.id))
        decision.effects += Self.gateSweep(snapshot)
        let cluster = known ?? self.cluster(snapshot)
        // (The workers a resize will take stay placeable in this pass, as before the core: the
        // gang takes those still idle when it is placed again.)
        decision.effects += elasticGrowth(
            snapshot.running.filter { !overBudget.contains($0.id) }, cluster: cluster, snapshot: snapshot)
        let pending = snapshot.pending.filter { !overBudget.contains($0.id) }
        guard !pending.isEmpty else { return decision }
        var idle: [IdleWorker] = []
        var reserved: [JobID: IdleWorker] = [:]
        let names = Dictionary(cluster.live.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        for candidate in cluster.unassigned {
            if let job = candidate.id.worker.flatMap({ names[$0] }).flatMap({ snapshot.capacity.reservations[$0] }) {
                reserved[job] = candidate
            } else {
                idle.append(candidate)
            }
        }
        var placements: [PassEffect] = []
        var open: [StoredJob] = []
        for job in pending {
            if let worker = reserved[job.id] {
                placements.append(
                    .place(
                        PlannedPlacement(
                            job: job.id, target: worker.id,
                            placement: Placement(
                                provider: worker.provider, region: worker.pool.region, market: worker.pool.market),
                            pool: worker.pool, reason: "on the \(worker.provider.rawValue) capacity launched for it"),
                        onReservedCapacity: true))
                continue
            }
            if let launch = snapshot.capacity.outstanding[job.id] {
                decision.waiting[job.id] =
                    "waiting for \(launch.provider.rawValue) \(launch.handle) (\(launch.state ?? "launched")) to register its worker"
                continue
            }
            open.append(job)
        }
        decision.planned = open.map(\.id)
        let jobs = open.map { job in
            PendingJob(
                id: job.id, spec: job.spec, submittedAt: job.submittedAt,
                progress: snapshot.pace[job.id].map {
                    WorkProgress(
                        committedStep: job.record.committedCheckpoint?.step ?? 0, totalSteps: $0.totalSteps,
                        secondsPerStep: $0.secondsPerStep)
                })
        }
        let offers = snapshot.capacity.enabled ? snapshot.capacity.offers : []
        let planned = planner.plan(
            jobs: jobs, idle: idle + offers, history: snapshot.availability, now: snapshot.now,
            live: cluster.everyLive)
        decision.waiting.merge(planned.waiting) { first, _ in first }
        var launches: [PassEffect] = []
        for placement in planned.placements {
            if placement.onCapacityOffer {
                // Offers come only from an enabled launcher (above): a launch is only of an offer.
                launches.append(.launch(placement))
            } else {
                placements.append(.place(placement, onReservedCapacity: false))
            }
        }
        decision.effects += launches + placements
        return decision
    }

    /// The workers as this pass sees them (the driver observes availability on its live ones,
    /// then hands it back to `decide`, so a pass reads the workers once).
    public func cluster(_ snapshot: PassSnapshot) -> Cluster { Cluster(snapshot, leaseMilliseconds: leaseMilliseconds) }

    /// Jobs among `open` whose capacity launches failed (for other reasons than capacity) more
    /// often than their infrastructure budget allows: they fail. Decided after the pass's
    /// launches, on the launcher's counts then.
    public static func launchFailures(_ open: [StoredJob], failed: [JobID: FailedLaunches]) -> [PassEffect] {
        open.compactMap { job in
            guard let failures = failed[job.id], failures.count > job.record.budget.maxInfrastructureErrors,
                !job.state.isTerminal
            else { return nil }
            return .abandon(
                job: job.id,
                reason: "\(failures.count) capacity launches failed; last: \(failures.last ?? "unknown")",
                cause: .failedLaunches)
        }
    }

    /// `max_cost`: a running attempt over its job's budget is asked to checkpoint and stop; its
    /// job fails once the checkpoint is in or the grace has passed. A waiting job over its
    /// budget fails at once.
    static func budgets(_ snapshot: PassSnapshot, stopGraceMilliseconds: Int64) -> [PassEffect] {
        (snapshot.running + snapshot.pending).compactMap { job in
            guard !job.state.isTerminal, isOverBudget(job, snapshot), let budget = job.spec.maxCost,
                let spent = snapshot.spent[job.id]
            else { return nil }
            let reason = "max_cost \(budget) reached (spent \(spent))"
            if let live = job.record.liveAttempt, job.state == .running {
                guard let asked = snapshot.stopRequests[job.id] else {
                    return .askToStop(
                        job: job.id, line: "\(reason): attempt \(live.number) checkpoints and stops",
                        committedStep: job.record.committedCheckpoint?.step)
                }
                let checkpointed = job.record.committedCheckpoint?.step != asked.committedStep
                guard checkpointed || snapshot.nowMilliseconds - asked.sinceMilliseconds >= stopGraceMilliseconds
                else { return nil }
            }
            return .abandon(job: job.id, reason: reason, cause: .maxCost)
        }
    }

    static func isOverBudget(_ job: StoredJob, _ snapshot: PassSnapshot) -> Bool {
        guard let budget = job.spec.maxCost, let spent = snapshot.spent[job.id] else { return false }
        return spent >= budget
    }

    /// Succeeded jobs that register a model and were never decided (the coordinator stopped
    /// between the job's end and the gate).
    static func gateSweep(_ snapshot: PassSnapshot) -> [PassEffect] {
        snapshot.succeeded.prefix(gateSweepLimit).compactMap { job in
            job.spec.register != nil && !snapshot.decided.contains(job.id) ? .decideModel(job.id) : nil
        }
    }

    /// Elastic gangs (`resources.nodes: {min, max}`) grow back: a running gang below its maximum
    /// whose pool has idle workers again is asked to checkpoint and restart larger (the next pass
    /// places it with them). Only once per attempt, and only for a gang known long enough.
    func elasticGrowth(_ running: [StoredJob], cluster: Cluster, snapshot: PassSnapshot) -> [PassEffect] {
        var effects: [PassEffect] = []
        let elastic = running.filter { if case .elastic = $0.spec.resources.nodes { true } else { false } }
        guard !elastic.isEmpty else { return effects }
        var free = cluster.unassigned
        let records = Dictionary(snapshot.workers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for job in elastic {
            guard case .elastic(_, let maximum) = job.spec.resources.nodes, let live = job.record.liveAttempt,
                let lease = cluster.leaseByJob[job.id], lease.epoch == live.epoch, !lease.revoked,
                lease.members.count < maximum, let lead = lease.members.first.flatMap({ records[$0] }),
                let pool = lead.pool
            else { continue }
            let group = free.filter {
                $0.provider.rawValue == lead.provider && $0.pool.region == pool.region
                    && $0.pool.market == pool.market && $0.pool.instanceType == pool.instanceType
            }
            guard !group.isEmpty, let gang = snapshot.gangs[job.id], gang.epoch == live.epoch,
                gang.mayResize(at: snapshot.nowMilliseconds, minimumAgeMilliseconds: resizeMinimumAgeMilliseconds)
            else { continue }
            let size = min(maximum, lease.members.count + group.count)
            effects.append(
                .resize(
                    job: job.id, epoch: live.epoch, size: size,
                    line:
                        "\(group.count) idle worker(s) in \(lead.provider)/\(pool.region) again: the gang of \(lease.members.count) checkpoints and restarts as \(size) (max \(maximum))"
                ))
            let taken = Set(group.prefix(size - lease.members.count).map(\.id))
            free.removeAll { taken.contains($0.id) }
        }
        return effects
    }
}

/// The workers as one pass sees them: live (heard from within a lease, placeable), and which of
/// those hold no lease.
public struct Cluster: Sendable {
    public var live: [WorkerRecord]
    /// Live workers with a pool, as the planner sees them.
    var everyLive: [IdleWorker]
    /// Live workers with a pool that hold no unrevoked lease.
    var unassigned: [IdleWorker]
    var leaseByJob: [JobID: Lease]

    init(_ snapshot: PassSnapshot, leaseMilliseconds: Int64) {
        // A worker is busy while it holds any unrevoked lease, expired or not: a late heartbeat
        // renews an expired lease until the reconciler revokes it, so a worker given another job
        // meanwhile would hold two (found by CoordinatorInvariantTests).
        let unrevoked = snapshot.leases.filter { !$0.revoked }
        let busy = Set(unrevoked.flatMap(\.holders))
        live = snapshot.workers.filter { worker in
            guard let seen = snapshot.placeableSince[worker.id] else { return false }
            return snapshot.nowMilliseconds - seen <= leaseMilliseconds
        }
        everyLive = live.compactMap { worker -> IdleWorker? in
            guard let pool = worker.pool, let provider = ProviderName(rawValue: worker.provider) else { return nil }
            return IdleWorker(id: worker.id, provider: provider, pool: pool)
        }
        unassigned = everyLive.filter { $0.id.worker.map { !busy.contains($0) } ?? true }
        leaseByJob = Dictionary(unrevoked.map { ($0.job, $0) }, uniquingKeysWith: { a, _ in a })
    }
}
