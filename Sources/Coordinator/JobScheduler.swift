import CoordinatorCore
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
    let leasePolicy: LeasePolicy
    let planner: PlacementPlanner
    let board: LiveBoard
    let clock: any CoordinatorClock
    /// Cloud capacity launched on demand (nil: only registered workers are placed on).
    let launcher: CapacityLauncher?
    let availability = AvailabilityLog()
    /// Succeeded jobs known to be decided, so a pass does not ask the store again.
    let decided = SharedBox(Set<JobID>())

    static let batch = 1_000

    public init(
        store: any StateStore, clock: any CoordinatorClock, leasePolicy: LeasePolicy, board: LiveBoard,
        planner: PlacementPlanner = PlacementPlanner(), launcher: CapacityLauncher? = nil
    ) {
        self.launcher = launcher
        self.store = store
        self.clock = clock
        self.leasePolicy = leasePolicy
        self.planner = planner
        self.board = board
    }

    var ending: AttemptEnding { AttemptEnding(store: store, board: board, clock: clock) }

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
        let lines = await launcher.watch(store: store, now: clock.now)
        for (job, line) in lines { try? await store.appendHistory(job: job, lines: [line], at: clock.now) }
        return lines
    }

    /// The provider's word on capacity running an attempt: a third way to notice a loss, besides
    /// the agent's notice and the lease.
    func watchRunningCapacity() async {
        guard let launcher else { return }
        for end in await launcher.watchRunning(store: store, now: clock.now) {
            if (try? await ending.end(end.job, attempt: end.attempt, epoch: end.epoch, reason: end.reason)) != nil {
                try? await store.appendHistory(job: end.job, lines: [end.line], at: clock.now)
            }
        }
    }

    var budget: CostBudget { CostBudget(store: store, board: board, clock: clock) }

    /// The pass's decisions, made by the pure core from what the driver reads.
    var core: SchedulingCore {
        SchedulingCore(
            planner: planner, leaseMilliseconds: leasePolicy.leaseMilliseconds,
            stopGraceMilliseconds: 2 * leasePolicy.leaseMilliseconds + 30_000,
            resizeMinimumAgeMilliseconds: 4 * leasePolicy.leaseMilliseconds)
    }

    /// One pass: reads what the core decides from (`PassSnapshot`), asks `SchedulingCore`, and
    /// carries out its effects in order; returns the placements on registered workers and why
    /// the other waiting jobs wait.
    @discardableResult
    public func scheduleOnce() async throws -> PlacementPlan {
        let leases = try await store.liveLeases()
        let live =
            try await store.jobs(state: .provisioning, limit: Self.batch)
            + store.jobs(state: .running, limit: Self.batch)
        for effect in SchedulingCore.orphans(live, leases: leases) { try await carryOut(effect) }
        let (snapshot, cluster) = try await readSnapshot(leases: leases)
        let decision = core.decide(snapshot, cluster: cluster)
        var waiting = decision.waiting
        for effect in decision.effects {
            switch effect {
            case .place: continue
            case .launch(let planned):
                guard let launcher, let job = snapshot.pending.first(where: { $0.id == planned.job }) else { continue }
                waiting[planned.job] = await launcher.launch(job, planned: planned, store: store, now: clock.now)
            default: try await carryOut(effect)
            }
        }
        let watched = await watchLaunches()
        if !snapshot.pending.isEmpty {
            for (job, line) in watched where waiting[job] == nil { waiting[job] = line }
        }
        if let launcher {
            // Launches that kept failing for other reasons than capacity spend the job's budget
            // for infrastructure errors, as failed nodes do (counted after this pass's launches).
            let open = Set(decision.planned)
            let failed = Dictionary(
                open.map {
                    ($0, FailedLaunches(count: launcher.failedLaunchCount($0), last: launcher.lastFailure($0)))
                },
                uniquingKeysWith: { a, _ in a })
            for effect in SchedulingCore.launchFailures(
                snapshot.pending.filter { open.contains($0.id) }, failed: failed)
            {
                try await carryOut(effect)
                if case .abandon(let job, _, _) = effect { waiting[job] = nil }
            }
        }
        board.setWaiting(waiting)
        var plan = PlacementPlan()
        var refused = false
        for effect in decision.effects {
            guard case .place(let planned, _) = effect else { continue }
            do {
                try await carryOut(effect)
                plan.placements.append(planned)
            } catch  where Self.refusesOnlyThisJob(error) {
                // One job's placement refused (it kept changing, or ended, meanwhile) waits for
                // the next pass; the pass goes on placing the others.
                waiting[planned.job] = "not placed this pass: \(error)"
                refused = true
            }
        }
        if refused { board.setWaiting(waiting) }
        plan.waiting = waiting
        await watchRunningCapacity()
        return plan
    }

    /// Whether a placement's failure concerns its job alone. Anything else (the database, a
    /// leadership taken over) ends the pass.
    static func refusesOnlyThisJob(_ error: any Error) -> Bool {
        switch error {
        case let error as StateStoreError:
            switch error {
            case .jobNotFound, .versionConflict, .staleEpoch: true
            default: false
            }
        case is JobTransitionError: true
        default: false
        }
    }

    /// What the core decides a pass from, and the workers as it sees them.
    func readSnapshot(leases: [Lease]) async throws -> (PassSnapshot, Cluster) {
        let pending =
            try await store.jobs(state: .queued, limit: Self.batch)
            + store.jobs(state: .recovering, limit: Self.batch)
        let running = try await store.jobs(state: .running, limit: Self.batch)
        var snapshot = PassSnapshot(
            nowMilliseconds: clock.nowMilliseconds(), now: clock.now, leases: leases, pending: pending,
            running: running, succeeded: try await store.jobs(state: .succeeded, limit: SchedulingCore.gateSweepLimit),
            decided: decided.withLock { $0 })
        for job in running + pending where job.spec.maxCost != nil {
            snapshot.spent[job.id] = try await budget.spent(job)
            if let asked = board.stopRequest(job.id) {
                snapshot.stopRequests[job.id] = StopRequest(
                    sinceMilliseconds: asked.sinceMilliseconds, committedStep: asked.committedStep)
            }
        }
        for job in running {
            guard case .elastic = job.spec.resources.nodes else { continue }  // (only elastic gangs resize)
            snapshot.gangs[job.id] = board.gang(job.id)
        }
        for job in pending {
            if let pace = board.pace(job.id) {
                snapshot.pace[job.id] = Pace(secondsPerStep: pace.secondsPerStep, totalSteps: pace.totalSteps)
            }
        }
        snapshot.workers = try await store.workers()
        for worker in snapshot.workers {
            if let seen = board.placeable(worker.id) { snapshot.placeableSince[worker.id] = seen }
        }
        let cluster = core.cluster(snapshot)
        availability.observe(cluster.live, at: snapshot.now, every: planner.decisionSeconds)
        snapshot.availability = availability.histories()
        if let launcher, !pending.isEmpty {
            await launcher.load(from: store)
            var capacity = CapacityView(
                enabled: true, offers: launcher.offers(now: snapshot.now), reservations: launcher.reservations())
            for job in pending {
                guard let launch = launcher.outstanding(job.id) else { continue }
                capacity.outstanding[job.id] = OutstandingLaunch(
                    provider: launch.provider, handle: launch.handle, state: launch.state.map { "\($0)" })
            }
            snapshot.capacity = capacity
        }
        return (snapshot, cluster)
    }

    /// Carries out one of the core's effects through the store this scheduler writes to.
    func carryOut(_ effect: PassEffect) async throws {
        switch effect {
        case .endOrphan(let job, let attempt, let epoch):
            // Read once more: a lease granted since the list was read is not an orphan.
            if let lease = try await store.lease(job: job), lease.epoch == epoch, !lease.revoked { return }
            _ = try? await ending.end(job, attempt: attempt, epoch: epoch, reason: .lost)
        case .askToStop(let job, let line, let committedStep):
            // Written first: among replicas the store is the leader's fenced view, so a deposed
            // leader's pass stops here and asks nothing of the job.
            try await store.appendHistory(job: job, lines: [line], at: clock.now)
            board.requestStop(job, atMilliseconds: clock.nowMilliseconds(), committedStep: committedStep)
        case .abandon(let job, let reason, .maxCost):
            _ = try await budget.abandon(job, reason: reason)
        case .abandon(let job, let reason, .failedLaunches):
            // (The job waits for capacity, so it has no attempt; were one live, it would end as
            // stopped, its ledger row closed.)
            _ = try? await ending.endJob(job, segmentKind: .stopped, segmentReason: "stopped: \(reason)") {
                $0.state.isTerminal ? nil : .abandoned(reason: reason)
            }
        case .decideModel(let id):
            guard let job = try await store.job(id) else { return }
            try await ModelDecisions(store: store, board: board, clock: clock).decide(job)
            decided.withLock { _ = $0.insert(id) }
        case .resize(let job, let epoch, let size, let line):
            // Written first, as for a stop. A notice (or a new attempt) may reach the gang between
            // the pass's read and the request: then the history says the resize was not asked.
            try await store.appendHistory(job: job, lines: [line], at: clock.now)
            let asked = board.requestResize(
                job, epoch: epoch, to: size, atMilliseconds: clock.nowMilliseconds(),
                minimumAgeMilliseconds: core.resizeMinimumAgeMilliseconds)
            if !asked {
                try? await store.appendHistory(
                    job: job,
                    lines: [
                        "resize to \(size) not asked: the gang attempt changed first (a notice, a new attempt, or the attempt ended)"
                    ],
                    at: clock.now)
            }
        case .launch:
            break  // carried out in `scheduleOnce`, which keeps what the job now waits for
        case .place(let planned, let onReservedCapacity):
            try await place(planned)
            if onReservedCapacity, let launcher {
                if let live = try await store.job(planned.job)?.record.liveAttempt {
                    launcher.watchAttempt(planned.job, attempt: live.number, epoch: live.epoch, now: clock.now)
                }
                await launcher.settle(planned.job, store: store)
            }
        }
    }

    /// Places the job: the transition (with the placement's history line) and the attempt it
    /// starts, its lease and its ledger row, in one transaction.
    func place(_ planned: PlannedPlacement) async throws {
        // An offer is launched (`CapacityLauncher`), never leased: the core never places on one.
        guard let worker = planned.worker else { throw PlacementOnOffer(job: planned.job, target: planned.target) }
        let now = clock.now
        let previous = planned.members.count > 1 ? try await store.lease(job: planned.job)?.holders ?? [] : []
        let result = try await ending.events.apply(
            to: planned.job, at: now,
            { job in
                job.state == .queued || job.state == .recovering ? .placed(planned.placement) : nil
            }, note: PlacementNote.text(planned, previousHolders: previous),
            provision: { [self] job, attempt, epoch in
                start(job, attempt: attempt, epoch: epoch, planned, on: worker, at: now)
            })
        if case .applied(let job) = result, let live = job.record.liveAttempt {
            for member in planned.members {
                board.sawMember(member, job: job.id, epoch: live.epoch, atMilliseconds: clock.nowMilliseconds())
            }
        }
    }

    /// What a placed attempt starts with: a lease that covers the worker's next assignment poll
    /// and its first heartbeat, and its ledger row.
    func start(
        _ job: StoredJob, attempt: Int, epoch: LeaseEpoch, _ planned: PlannedPlacement, on worker: WorkerID,
        at now: Date
    ) -> (lease: Lease, segment: AttemptSegment) {
        let expiry = clock.nowMilliseconds() + leasePolicy.leaseMilliseconds + leasePolicy.heartbeatMilliseconds
        return (
            Lease(
                job: job.id, attempt: attempt, epoch: epoch, workerID: worker, expiresAtMilliseconds: expiry,
                members: planned.members),
            AttemptSegment(
                job: job.id, attempt: attempt, epoch: epoch, workerID: worker,
                provider: planned.placement.provider.rawValue, pool: planned.pool, startedAt: now,
                resumedFromStep: job.record.committedCheckpoint?.step, nodes: planned.nodes)
        )
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
