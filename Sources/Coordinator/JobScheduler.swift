import Foundation
import Logging
import Registry
import Scheduler
import SpotPolicy
import SpotwiseCore
import StateStore
import Synchronization

/// One pass of the scheduler loop: fence attempts that have no lease, then place waiting jobs on
/// idle live workers as the planner (and through it the spot policy) decides, granting each new
/// attempt its lease and opening its ledger row.
public struct JobScheduler: Sendable {
    private(set) var store: any StateStore
    let leaseClock: any LeaseClock
    let leasePolicy: LeasePolicy
    let planner: PlacementPlanner
    let board: LiveBoard
    let wallClock: @Sendable () -> Date
    /// Cloud capacity launched on demand (nil: only registered workers are placed on).
    let launcher: CapacityLauncher?
    let availability = AvailabilityLog()
    /// Succeeded jobs known to be decided, so a pass does not ask the store again.
    let decided = SharedBox(Set<JobID>())

    static let batch = 1_000

    public init(
        store: any StateStore, leaseClock: any LeaseClock, leasePolicy: LeasePolicy, board: LiveBoard,
        planner: PlacementPlanner = PlacementPlanner(), wallClock: @escaping @Sendable () -> Date = Date.init,
        launcher: CapacityLauncher? = nil
    ) {
        self.launcher = launcher
        self.store = store
        self.leaseClock = leaseClock
        self.leasePolicy = leasePolicy
        self.planner = planner
        self.board = board
        self.wallClock = wallClock
    }

    var ending: AttemptEnding { AttemptEnding(store: store, board: board, wallClock: wallClock) }

    /// The same scheduler (its memory shared) writing through `store`: a leader's fenced view.
    public func writing(to store: any StateStore) -> JobScheduler {
        var copy = self
        copy.store = store
        return copy
    }

    /// Polls launches still waiting for their worker and writes what became of them (ended,
    /// released) into the jobs' histories; returns those lines by job.
    func watchLaunches() async -> [JobID: String] {
        guard let launcher else { return [:] }
        let lines = await launcher.watch(store: store, now: wallClock())
        for (job, line) in lines { try? await store.appendHistory(job: job, lines: [line], at: wallClock()) }
        return lines
    }

    /// The provider's word on capacity running an attempt: a third way to notice a loss, besides
    /// the agent's notice and the lease.
    func watchRunningCapacity() async {
        guard let launcher else { return }
        for end in await launcher.watchRunning(store: store, now: wallClock()) {
            if (try? await ending.end(end.job, attempt: end.attempt, epoch: end.epoch, reason: end.reason)) != nil {
                try? await store.appendHistory(job: end.job, lines: [end.line], at: wallClock())
            }
        }
    }

    var budget: CostBudget {
        CostBudget(
            store: store, board: board, leaseClock: leaseClock, wallClock: wallClock,
            stopGraceMilliseconds: 2 * leasePolicy.leaseMilliseconds + 30_000)
    }

    /// Succeeded jobs whose model was never decided (the coordinator stopped between the job's
    /// end and the gate): decided now. The newest `limit` succeeded jobs are looked at per pass.
    func decideModels(limit: Int) async throws {
        for job in try await store.jobs(state: .succeeded, limit: limit) where job.spec.register != nil {
            guard !decided.withLock({ $0.contains(job.id) }) else { continue }
            try await ModelDecisions(store: store, board: board, wallClock: wallClock).decide(job)
            decided.withLock { _ = $0.insert(job.id) }
        }
    }

    /// One pass; returns the plan it carried out.
    @discardableResult
    public func scheduleOnce() async throws -> PlacementPlan {
        let leases = try await store.liveLeases()
        try await fenceAttemptsWithoutLeases(Dictionary(leases.map { ($0.job, $0) }, uniquingKeysWith: { a, _ in a }))
        let now = leaseClock.nowMilliseconds()
        var pending =
            try await store.jobs(state: .queued, limit: Self.batch)
            + store.jobs(state: .recovering, limit: Self.batch)
        let running = try await store.jobs(state: .running, limit: Self.batch)
        let overBudget = Set(try await budget.enforce((running + pending).filter { $0.spec.maxCost != nil }))
        pending.removeAll { overBudget.contains($0.id) }
        try await decideModels(limit: 20)
        let workers = try await store.workers()
        // A worker is busy while it holds any unrevoked lease, expired or not: a late heartbeat
        // renews an expired lease until the reconciler revokes it, so a worker given another job
        // meanwhile would hold two (found by CoordinatorInvariantTests).
        let busy = Set(leases.flatMap(\.holders))
        let live = workers.filter { worker in
            guard let seen = board.placeable(worker.id) else { return false }
            return now - seen <= leasePolicy.leaseMilliseconds
        }
        availability.observe(live, at: wallClock(), every: planner.decisionSeconds)
        let everyLive = live.compactMap { worker -> IdleWorker? in
            guard let pool = worker.pool, let provider = ProviderName(rawValue: worker.provider) else { return nil }
            return IdleWorker(id: worker.id, provider: provider, pool: pool)
        }
        let unassigned = everyLive.filter { !busy.contains($0.id) }
        try await growElasticGangs(running: running, leases: leases, idle: unassigned)
        guard !pending.isEmpty else {
            board.setWaiting([:])
            _ = await watchLaunches()
            await watchRunningCapacity()
            return PlacementPlan()
        }
        await launcher?.load(from: store)
        let reservations = launcher?.reservations() ?? [:]
        var reserved: [JobID: IdleWorker] = [:]
        var idle: [IdleWorker] = []
        let names = Dictionary(live.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        for candidate in unassigned {
            if let job = names[candidate.id].flatMap({ reservations[$0] }) {
                reserved[job] = candidate
            } else {
                idle.append(candidate)
            }
        }
        var plan = PlacementPlan()
        var open: [StoredJob] = []
        for job in pending {
            // Capacity launched for this job: its worker takes it, or the job waits for it.
            if let worker = reserved[job.id] {
                plan.placements.append(
                    PlannedPlacement(
                        job: job.id, worker: worker.id,
                        placement: Placement(
                            provider: worker.provider, region: worker.pool.region, market: worker.pool.market),
                        pool: worker.pool, reason: "on the \(worker.provider.rawValue) capacity launched for it"))
                continue
            }
            if let launch = launcher?.outstanding(job.id) {
                let state = launch.state.map { "\($0)" } ?? "launched"
                plan.waiting[job.id] =
                    "waiting for \(launch.provider.rawValue) \(launch.handle) (\(state)) to register its worker"
                continue
            }
            open.append(job)
        }
        let jobs = open.map { job in
            PendingJob(
                id: job.id, spec: job.spec, submittedAt: job.submittedAt,
                progress: board.pace(job.id).map {
                    WorkProgress(
                        committedStep: job.record.committedCheckpoint?.step ?? 0, totalSteps: $0.totalSteps,
                        secondsPerStep: $0.secondsPerStep)
                })
        }
        let planned = planner.plan(
            jobs: jobs, idle: idle + (launcher?.offers(now: wallClock()) ?? []), history: availability.histories(),
            now: wallClock(), live: everyLive)
        plan.waiting.merge(planned.waiting) { first, _ in first }
        for placement in planned.placements {
            guard placement.onCapacityOffer else {
                plan.placements.append(placement)
                continue
            }
            guard let launcher, let job = open.first(where: { $0.id == placement.job }) else { continue }
            plan.waiting[placement.job] = await launcher.launch(job, planned: placement, store: store, now: wallClock())
        }
        for (job, line) in await watchLaunches() where plan.waiting[job] == nil { plan.waiting[job] = line }
        if let launcher {
            // Launches that kept failing for other reasons than capacity spend the job's budget
            // for infrastructure errors, as failed nodes do.
            for job in open where launcher.failedLaunchCount(job.id) > job.record.budget.maxInfrastructureErrors {
                let reason =
                    "\(launcher.failedLaunchCount(job.id)) capacity launches failed; last: \(launcher.lastFailure(job.id) ?? "unknown")"
                _ = try? await store.applyEvent(to: job.id, at: wallClock()) {
                    $0.state.isTerminal ? nil : .abandoned(reason: reason)
                }
                plan.waiting[job.id] = nil
            }
        }
        board.setWaiting(plan.waiting)
        for placement in plan.placements {
            try await carryOut(placement)
            if reserved[placement.job] != nil, let launcher {
                if let live = try await store.job(placement.job)?.record.liveAttempt {
                    launcher.watchAttempt(placement.job, attempt: live.number, epoch: live.epoch, now: wallClock())
                }
                await launcher.settle(placement.job, store: store)
            }
        }
        await watchRunningCapacity()
        return plan
    }

    func carryOut(_ planned: PlannedPlacement) async throws {
        let now = wallClock()
        let result = try await store.applyEvent(
            to: planned.job, at: now,
            { job in
                job.state == .queued || job.state == .recovering ? .placed(planned.placement) : nil
            }, note: try await placementNote(planned))
        guard case .applied(let job) = result, let live = job.record.liveAttempt else { return }
        // Provisioning: the lease covers the worker's next assignment poll and its first heartbeat.
        let expiry = leaseClock.nowMilliseconds() + leasePolicy.leaseMilliseconds + leasePolicy.heartbeatMilliseconds
        try await store.grantLease(
            Lease(
                job: job.id, attempt: live.number, epoch: live.epoch, workerID: planned.worker,
                expiresAtMilliseconds: expiry, members: planned.members))
        for member in planned.members {
            board.sawMember(member, job: job.id, epoch: live.epoch, atMilliseconds: leaseClock.nowMilliseconds())
        }
        try await store.openSegment(
            AttemptSegment(
                job: job.id, attempt: live.number, epoch: live.epoch, workerID: planned.worker,
                provider: planned.placement.provider.rawValue, pool: planned.pool, startedAt: now,
                resumedFromStep: job.record.committedCheckpoint?.step, nodes: planned.nodes))
    }

    /// The history line of a placement; for a gang, its ranks and how many of its workers held the
    /// job's previous attempt (kept) rather than replacing a lost member (new).
    func placementNote(_ planned: PlannedPlacement) async throws -> String {
        let base = "placed on worker \(planned.worker) (\(planned.pool.instanceType)): \(planned.reason)"
        guard planned.members.count > 1 else { return base }
        let previous = Set(try await store.lease(job: planned.job)?.holders ?? [])
        let kept = planned.members.filter(previous.contains).count
        let ranks = planned.members.enumerated().map { "\($0.offset)=\($0.element)" }.joined(separator: " ")
        let reuse =
            previous.isEmpty ? "" : "; \(kept) kept from the previous attempt, \(planned.members.count - kept) new"
        return
            "placed gang of \(planned.members.count) (\(planned.pool.instanceType)), ranks \(ranks)\(reuse): \(planned.reason)"
    }

    /// A live attempt whose lease is missing or belongs to another epoch was placed by a pass that
    /// died before granting the lease (a coordinator crash between the two writes). No worker can
    /// write for it, so it is ended as lost and placed again.
    func fenceAttemptsWithoutLeases(_ liveLeases: [JobID: Lease]) async throws {
        for state in [JobState.provisioning, .running] {
            for job in try await store.jobs(state: state, limit: Self.batch) {
                guard let live = job.record.liveAttempt else { continue }
                if liveLeases[job.id]?.epoch == live.epoch { continue }
                // Read once more: a lease granted since the list was read is not an orphan.
                if let lease = try await store.lease(job: job.id), lease.epoch == live.epoch, !lease.revoked {
                    continue
                }
                _ = try? await ending.end(job.id, attempt: live.number, epoch: live.epoch, reason: .lost)
            }
        }
    }
}

/// Spot availability per pool as the scheduler saw it, one observation per decision period: the
/// history the policy learns each pool's chain from.
final class AvailabilityLog: Sendable {
    private struct State {
        var histories: [String: AvailabilityHistory] = [:]
        var lastObservation: Date?
    }
    private let state = Mutex(State())

    func observe(_ live: [WorkerRecord], at now: Date, every seconds: Double) {
        state.withLock { state in
            if let last = state.lastObservation, now.timeIntervalSince(last) < seconds { return }
            state.lastObservation = now
            var pools: [String: Bool] = [:]
            for worker in live {
                guard let pool = worker.pool else { continue }
                let name = "\(worker.provider)/\(pool.region)"
                pools[name] = (pools[name] ?? false) || pool.market == .spot
            }
            for (name, spot) in pools { state.histories[name, default: AvailabilityHistory()].record(spot) }
        }
    }

    func histories() -> [String: AvailabilityHistory] { state.withLock { $0.histories } }
}

/// A value shared by copies of a struct (the scheduler is a struct handed to its service).
final class SharedBox<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    func withLock<R>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
}
