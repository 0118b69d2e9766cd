import CoordinatorCore
import Foundation
import Scheduler
import SpotwiseCore
import StateStore
import Testing

/// The scheduling core, property-tested: seeded random clusters (workers live, silent and going
/// away; jobs in every state, gangs and elastic gangs, budgets, stale leases, orphans, capacity
/// launched and outstanding) and the rules every decision keeps.
@Suite struct SchedulingCoreTests {
    static let lease: Int64 = 10_000
    let core = SchedulingCore(
        planner: PlacementPlanner(), leaseMilliseconds: Self.lease, stopGraceMilliseconds: 50_000,
        resizeMinimumAgeMilliseconds: 40_000)

    @Test func everyDecisionKeepsTheRules() throws {
        var seen = Corners()
        for seed in 0..<300 {
            let snapshot = try Self.cluster(seed: seed)
            let decision = core.decide(snapshot)
            try check(decision, against: snapshot, seed: seed)
            #expect(core.decide(snapshot) == decision, "seed \(seed): the same snapshot decides the same")
            seen.add(decision, snapshot)
        }
        // The clusters reach every corner the rules speak of.
        #expect(seen.placements > 200 && seen.gangs > 10 && seen.reserved > 10 && seen.launches > 10, "\(seen)")
        #expect(seen.resizes > 3 && seen.stops > 10 && seen.budgetFailures > 10 && seen.models > 10, "\(seen)")
        #expect(seen.waiting > 100 && seen.waitingForLaunch > 10, "\(seen)")
    }

    @Test func orphansAreExactlyTheLiveAttemptsWithoutALeaseOfTheirEpoch() throws {
        var found = 0
        for seed in 0..<100 {
            let (snapshot, provisioning) = try Self.clusterAndProvisioning(seed: seed)
            let live = provisioning + snapshot.running + snapshot.pending
            let orphans = SchedulingCore.orphans(live, leases: snapshot.leases)
            found += orphans.count
            let leased = Set(snapshot.leases.filter { !$0.revoked }.map { "\($0.job.rawValue)@\($0.epoch.value)" })
            let expected = live.compactMap { job -> PassEffect? in
                guard job.state.hasLiveAttempt, let attempt = job.record.liveAttempt,
                    !leased.contains("\(job.id.rawValue)@\(attempt.epoch.value)")
                else { return nil }
                return .endOrphan(job: job.id, attempt: attempt.number, epoch: attempt.epoch)
            }
            #expect(orphans == expected, "seed \(seed)")
        }
        #expect(found > 10, "the clusters have orphans: \(found)")
    }

    @Test func launchesThatKeepFailingFailTheJobOnlyPastItsBudget() throws {
        var job = try Self.job("j", spec: JobSpec(name: "j", run: "true"), state: .queued)
        job.record.budget.maxInfrastructureErrors = 2
        let under = SchedulingCore.launchFailures([job], failed: [job.id: FailedLaunches(count: 2, last: "quota")])
        #expect(under.isEmpty)
        let over = SchedulingCore.launchFailures([job], failed: [job.id: FailedLaunches(count: 3, last: "quota")])
        #expect(
            over == [.abandon(job: job.id, reason: "3 capacity launches failed; last: quota", cause: .failedLaunches)])
    }

    @Test func aPlacementsHistoryLineCarriesThePolicysReason() {
        let pool = WorkerPool(
            region: "r", market: .spot, instanceType: "g5", pricePerHour: Money(micros: 1),
            onDemandPricePerHour: Money(micros: 3))
        let gang = PlannedPlacement(
            job: JobID("job-1"), target: .worker("w1"),
            placement: Placement(provider: .local, region: "r", market: .spot),
            pool: pool, reason: "spot is cheaper and the deadline allows", members: ["w1", "w2", "w3"])
        #expect(
            PlacementNote.text(gang, previousHolders: ["w2", "w9"])
                == "placed gang of 3 (g5), ranks 0=w1 1=w2 2=w3; 1 kept from the previous attempt, 2 new: spot is cheaper and the deadline allows"
        )
        var single = gang
        single.members = []
        #expect(
            PlacementNote.text(single, previousHolders: [])
                == "placed on worker w1 (g5): spot is cheaper and the deadline allows")
    }

    /// The rules of one decision.
    func check(_ decision: PassDecision, against snapshot: PassSnapshot, seed: Int) throws {
        let context = Comment(rawValue: "seed \(seed)")
        let pending = Dictionary(uniqueKeysWithValues: snapshot.pending.map { ($0.id, $0) })
        let running = Dictionary(uniqueKeysWithValues: snapshot.running.map { ($0.id, $0) })
        let live = Set(
            snapshot.workers.filter { worker in
                snapshot.placeableSince[worker.id].map { snapshot.nowMilliseconds - $0 <= Self.lease } ?? false
            }.map(\.id))
        let holding = Set(snapshot.leases.filter { !$0.revoked }.flatMap(\.holders))
        let overBudget = Set(
            (snapshot.pending + snapshot.running).filter { job in
                guard let budget = job.spec.maxCost, let spent = snapshot.spent[job.id] else { return false }
                return spent >= budget
            }.map(\.id))
        var placedJobs: Set<JobID> = []
        var usedWorkers: Set<WorkerID> = []
        for placement in decision.placements {
            // A job is placed at most once, only while waiting, never over its budget, never
            // while capacity launched for it is still on its way.
            #expect(placedJobs.insert(placement.job).inserted, context)
            #expect(pending[placement.job] != nil, context)
            #expect(!overBudget.contains(placement.job), context)
            if snapshot.capacity.outstanding[placement.job] != nil {
                #expect(reserved(placement, snapshot), "capacity launched for it is on its way; \(context)")
            }
            #expect(!placement.reason.isEmpty, context)
            #expect(
                PlacementNote.text(placement, previousHolders: []).hasSuffix(": \(placement.reason)"), context)
            #expect(decision.waiting[placement.job] == nil, "a placed job is not also waiting; \(context)")
            if placement.onCapacityOffer {
                #expect(snapshot.capacity.enabled && placement.members.isEmpty, context)
                #expect(snapshot.capacity.offers.contains { $0.id == placement.target }, context)
                continue
            }
            // A registered worker is in at most one placement, is live, holds no lease, and is
            // not capacity launched for another job.
            for worker in placement.members.isEmpty ? [placement.worker].compactMap({ $0 }) : placement.members {
                let name = snapshot.workers.first { $0.id == worker }?.name
                if let reservedFor = name.flatMap({ snapshot.capacity.reservations[$0] }) {
                    #expect(reservedFor == placement.job, "\(worker) was launched for \(reservedFor); \(context)")
                }
                #expect(usedWorkers.insert(worker).inserted, "worker \(worker) placed twice; \(context)")
                #expect(live.contains(worker), "worker \(worker) is not live; \(context)")
                #expect(!holding.contains(worker), "worker \(worker) holds a lease; \(context)")
            }
            if let job = pending[placement.job] {
                switch job.spec.resources.nodes {
                case .fixed(let n) where n > 1: #expect(placement.members.count == n, context)
                case .elastic(let minimum, let maximum):
                    #expect((minimum...maximum).contains(placement.members.count), context)
                default: #expect(placement.members.isEmpty, context)
                }
            }
        }
        for effect in decision.effects {
            switch effect {
            case .place(let placement, let reserved):
                #expect(!placement.onCapacityOffer, context)
                #expect(reserved == self.reserved(placement, snapshot), context)
            case .launch(let placement): #expect(placement.onCapacityOffer, context)
            case .askToStop(let job, _, _):
                #expect(running[job] != nil && overBudget.contains(job) && snapshot.stopRequests[job] == nil, context)
            case .abandon(let job, _, let cause):
                #expect(cause == .maxCost && overBudget.contains(job), context)
                if let job = running[job] {
                    // A running job is asked to stop first, and fails only after its checkpoint
                    // or the grace.
                    let asked = try #require(snapshot.stopRequests[job.id], "failed without a stop; \(context)")
                    let checkpointed = job.record.committedCheckpoint?.step != asked.committedStep
                    #expect(checkpointed || snapshot.nowMilliseconds - asked.sinceMilliseconds >= 50_000, context)
                }
            case .decideModel(let id):
                let job = snapshot.succeeded.first { $0.id == id }
                #expect(job?.spec.register != nil && !snapshot.decided.contains(id), context)
            case .resize(let id, let epoch, let size, _):
                let job = try #require(running[id], context)
                guard case .elastic(_, let maximum) = job.spec.resources.nodes else {
                    Issue.record("resized a job that is not elastic; \(context)")
                    continue
                }
                let lease = try #require(snapshot.leases.first { $0.job == id && !$0.revoked }, context)
                #expect(job.record.liveAttempt?.epoch == epoch && lease.epoch == epoch, context)
                #expect(size > lease.members.count && size <= maximum, context)
                #expect(!overBudget.contains(id), context)
                // Known long enough, not asked already, no member's notice.
                let gang = try #require(snapshot.gangs[id], context)
                #expect(gang.epoch == epoch && gang.notice == nil && gang.resizeTo == nil, context)
                #expect(snapshot.nowMilliseconds - gang.sinceMilliseconds >= 40_000, context)
            case .endOrphan: Issue.record("a pass decides orphans separately; \(context)")
            }
        }
        // Nothing is forgotten: every undecided succeeded job with a model to register is decided;
        // every job over its budget is asked to stop or failed, unless its stop is still running.
        let decided = Set(decision.effects.compactMap { if case .decideModel(let id) = $0 { id } else { nil } })
        for job in snapshot.succeeded.prefix(SchedulingCore.gateSweepLimit)
        where job.spec.register != nil && !snapshot.decided.contains(job.id) {
            #expect(decided.contains(job.id), "succeeded job \(job.id) left undecided; \(context)")
        }
        let handled = Set(
            decision.effects.compactMap { effect -> JobID? in
                switch effect {
                case .askToStop(let job, _, _), .abandon(let job, _, _): job
                default: nil
                }
            })
        for id in overBudget where !handled.contains(id) {
            let job = try #require(running[id], "waiting job \(id) over its budget not failed; \(context)")
            let asked = try #require(snapshot.stopRequests[id], "job \(id) over its budget not stopped; \(context)")
            let checkpointed = job.record.committedCheckpoint?.step != asked.committedStep
            #expect(!checkpointed && snapshot.nowMilliseconds - asked.sinceMilliseconds < 50_000, context)
        }
        // Every waiting job not placed has a reason; every reason is for a waiting job.
        for id in decision.waiting.keys { #expect(pending[id] != nil, context) }
        let effectsAbandoned = Set(decision.abandoned)
        for job in snapshot.pending where !placedJobs.contains(job.id) && !effectsAbandoned.contains(job.id) {
            #expect(decision.waiting[job.id] != nil, "job \(job.id) neither placed nor told why; \(context)")
        }
    }

    /// Whether the placement's worker is capacity launched for its job.
    func reserved(_ placement: PlannedPlacement, _ snapshot: PassSnapshot) -> Bool {
        let name = snapshot.workers.first { $0.id == placement.worker }?.name
        return name.flatMap { snapshot.capacity.reservations[$0] } == placement.job
    }

    struct Corners: CustomStringConvertible {
        var placements = 0, gangs = 0, reserved = 0, launches = 0, resizes = 0, stops = 0, budgetFailures = 0
        var models = 0, waiting = 0, waitingForLaunch = 0

        mutating func add(_ decision: PassDecision, _ snapshot: PassSnapshot) {
            for effect in decision.effects {
                switch effect {
                case .place(let placement, let onReserved):
                    placements += 1
                    if placement.members.count > 1 { gangs += 1 }
                    if onReserved { reserved += 1 }
                case .launch: launches += 1
                case .resize: resizes += 1
                case .askToStop: stops += 1
                case .abandon: budgetFailures += 1
                case .decideModel: models += 1
                case .endOrphan: break
                }
            }
            waiting += decision.waiting.count
            waitingForLaunch += decision.waiting.values.filter { $0.hasPrefix("waiting for ") }.count
        }

        var description: String {
            "placements \(placements), gangs \(gangs), reserved \(reserved), launches \(launches), resizes \(resizes), stops \(stops), budget failures \(budgetFailures), models \(models), waiting \(waiting) (\(waitingForLaunch) for a launch)"
        }
    }

    static func job(_ name: String, spec: JobSpec, state: JobState, placement: Placement? = nil) throws -> StoredJob {
        var record = JobRecord(budget: RetryBudget(spec.retries))
        let placement = placement ?? Placement(provider: .local, region: "r1", market: .spot)
        func apply(_ event: JobEvent) throws { record = try JobStateMachine.apply(event, to: record).record }
        switch state {
        case .queued: break
        case .provisioning: try apply(.placed(placement))
        case .running:
            try apply(.placed(placement))
            try apply(.attemptStarted(attempt: record.attemptCount))
        case .recovering:
            try apply(.placed(placement))
            try apply(.attemptEnded(attempt: record.attemptCount, reason: .lost))
        case .succeeded:
            try apply(.placed(placement))
            try apply(.attemptStarted(attempt: record.attemptCount))
            try apply(.attemptEnded(attempt: record.attemptCount, reason: .completed))
        default: break
        }
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        return StoredJob(
            id: JobID(name), spec: spec, record: record, version: 1, idempotencyKey: nil, submittedAt: start,
            updatedAt: start)
    }

    /// A seeded random cluster as one pass would read it.
    static func cluster(seed: Int) throws -> PassSnapshot { try clusterAndProvisioning(seed: seed).0 }

    /// The cluster, and its provisioning jobs (a pass reads those only for orphans).
    static func clusterAndProvisioning(seed: Int) throws -> (PassSnapshot, [StoredJob]) {
        var random = SeededGenerator(seed: UInt64(seed) &* 104_729 &+ 17)
        func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }
        let now: Int64 = 1_000_000
        let pools: [(ProviderName, WorkerPool)] = [ProviderName.local, .sagemaker].flatMap { provider in
            [Market.spot, .onDemand].map { market in
                (
                    provider,
                    WorkerPool(
                        region: "r1", market: market, instanceType: "g5",
                        pricePerHour: Money(micros: market == .spot ? 300_000 : 1_000_000),
                        onDemandPricePerHour: Money(micros: 1_000_000))
                )
            }
        }
        var snapshot = PassSnapshot(nowMilliseconds: now, now: Date(timeIntervalSince1970: 1_800_000_000))
        var provisioning: [StoredJob] = []
        for index in 0..<Int.random(in: 0...24, using: &random) {
            let (provider, pool) = pools[Int.random(in: 0..<pools.count, using: &random)]
            let id = WorkerID("w\(index)")
            snapshot.workers.append(
                WorkerRecord(
                    id: id, secretDigest: "", name: chance(25) ? "job-\(index % 8)-a1" : "name-\(index)",
                    provider: provider.rawValue, registeredAt: snapshot.now, pool: chance(95) ? pool : nil))
            // Heard from lately, long ago (silent), or not placeable (going away, suspected).
            if chance(80) {
                snapshot.placeableSince[id] =
                    now - Int64.random(in: 0...(chance(85) ? lease : 3 * lease), using: &random)
            }
        }
        let workers = snapshot.workers.map(\.id)
        var free = workers.shuffled(using: &random)
        func takeWorkers(_ count: Int) -> [WorkerID] {
            let taken = Array(free.prefix(count))
            free.removeFirst(taken.count)
            return taken
        }
        for index in 0..<Int.random(in: 0...20, using: &random) {
            var spec = JobSpec(name: "j\(index)", run: "true")
            spec.providers = [ProviderPreference(name: chance(50) ? .local : .sagemaker)]
            if chance(30) { spec.providers.append(ProviderPreference(name: .sagemaker)) }
            spec.market = [MarketPreference.spot, .onDemand, .auto][Int.random(in: 0..<3, using: &random)]
            switch Int.random(in: 0..<8, using: &random) {
            case 0: spec.resources.nodes = .fixed(Int.random(in: 2...3, using: &random))
            case 1, 2: spec.resources.nodes = .elastic(min: 2, max: Int.random(in: 2...5, using: &random))
            default: break
            }
            if chance(25) { spec.maxCost = Money(micros: 1_000_000) }
            if chance(30) { spec.register = Registration(model: "m") }
            let state = [JobState.queued, .queued, .recovering, .running, .running, .provisioning, .succeeded][
                Int.random(in: 0..<7, using: &random)]
            let job = try job("job-\(index)", spec: spec, state: state)
            if spec.maxCost != nil { snapshot.spent[job.id] = Money(micros: chance(50) ? 1_500_000 : 200_000) }
            switch state {
            case .queued, .recovering:
                snapshot.pending.append(job)
                if chance(10) {
                    snapshot.capacity.outstanding[job.id] = OutstandingLaunch(
                        provider: .sagemaker, handle: "sm-\(index)", state: chance(50) ? nil : "starting")
                }
                // Capacity is launched for single-node jobs only (an offer is never part of a gang).
                if spec.resources.nodes == .fixed(1), chance(30) {
                    snapshot.capacity.reservations["job-\(index)-a1"] = job.id
                }
            case .running, .provisioning:
                // (A pass reads running jobs; provisioning ones hold their leases all the same.)
                if state == .running { snapshot.running.append(job) } else { provisioning.append(job) }
                let live = try #require(job.record.liveAttempt)
                let members: [WorkerID]
                switch spec.resources.nodes {
                case .fixed(let n) where n > 1: members = takeWorkers(n)
                case .elastic(let minimum, _): members = takeWorkers(minimum + (chance(50) ? 0 : 1))
                default: members = []
                }
                let holder = members.first ?? takeWorkers(1).first
                // Sometimes no lease of the live epoch (an orphan: none, another epoch's, or a
                // revoked one), sometimes an expired one still held.
                if chance(90) {
                    snapshot.leases.append(
                        Lease(
                            job: job.id, attempt: live.number, epoch: chance(95) ? live.epoch : LeaseEpoch(99),
                            workerID: holder, expiresAtMilliseconds: now + (chance(80) ? 5_000 : -5_000),
                            revoked: chance(5), members: members.count > 1 ? members : []))
                }
                if case .elastic = spec.resources.nodes {
                    snapshot.gangs[job.id] = GangAttempt(
                        epoch: live.epoch, sinceMilliseconds: now - (chance(70) ? 60_000 : 1_000),
                        notice: chance(20) ? "w0: spot-termination" : nil)
                }
                if spec.maxCost != nil, chance(50) {
                    snapshot.stopRequests[job.id] = StopRequest(
                        sinceMilliseconds: now - (chance(50) ? 60_000 : 1_000), committedStep: nil)
                }
            default:
                snapshot.succeeded.append(job)
                if chance(30) { snapshot.decided.insert(job.id) }
            }
        }
        if chance(60) {
            snapshot.capacity.enabled = true
            snapshot.capacity.offers = pools.filter { $0.0 == .sagemaker }.map { provider, pool in
                IdleWorker.offer(provider: provider, pool: pool)
            }
        }
        // Now and then a worker's older lease, unrevoked and expired, still held.
        if chance(30), let worker = workers.randomElement(using: &random) {
            snapshot.leases.append(
                Lease(
                    job: JobID("job-gone"), attempt: 1, epoch: LeaseEpoch(1), workerID: worker,
                    expiresAtMilliseconds: now - 20_000))
        }
        return (snapshot, provisioning)
    }
}
