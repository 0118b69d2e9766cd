import Foundation
import Scheduler
import SpotPolicy
import SpotwiseCore
import Testing

@Suite struct PlacementPlannerTests {
    let now = Date(timeIntervalSince1970: 10_000)

    func worker(_ id: String, _ market: Market, region: String = "local-a", price: Int64 = 300_000) -> IdleWorker {
        IdleWorker(
            id: WorkerID(id), provider: .local,
            pool: WorkerPool(
                region: region, market: market, instanceType: "local.t4", pricePerHour: Money(micros: price),
                onDemandPricePerHour: Money(micros: 1_000_000)))
    }

    func job(
        _ id: String, market: MarketPreference = .auto, deadline: Deadline? = .afterSubmission(seconds: 36 * 3600),
        at: Double = 9_000, providers: [ProviderPreference] = [ProviderPreference(name: .local)]
    ) -> PendingJob {
        PendingJob(
            id: JobID(id),
            spec: JobSpec(name: id, run: "true", providers: providers, market: market, deadline: deadline),
            submittedAt: Date(timeIntervalSince1970: at))
    }

    @Test func aWorkerGoesToOneJobOnlyAndTheOldestJobFirst() {
        let plan = PlacementPlanner().plan(
            jobs: [job("young", at: 9_500), job("old", at: 9_000)], idle: [worker("w1", .spot)], now: now)
        #expect(plan.placements.map(\.job) == [JobID("old")])
        #expect(plan.placements.first?.placement == Placement(provider: .local, region: "local-a", market: .spot))
        #expect(plan.waiting[JobID("young")] != nil)
    }

    @Test func withAFarDeadlineThePolicyTakesTheCheapestSpotWorkerAndSaysWhy() throws {
        let plan = PlacementPlanner().plan(
            jobs: [job("j")],
            idle: [
                worker("od", .onDemand, price: 1_000_000), worker("s2", .spot, price: 400_000),
                worker("s1", .spot, price: 300_000),
            ], now: now)
        let placed = try #require(plan.placements.first)
        #expect(placed.worker == "s1")
        #expect(placed.reason.hasPrefix("policy spotwise:"))
    }

    @Test func pastTheSafetyNetItGoesOnDemand() throws {
        // Half the window is the assumed work; 35 of 36 hours are gone.
        let late = Date(timeIntervalSince1970: 9_000 + 35 * 3600)
        let plan = PlacementPlanner().plan(
            jobs: [job("j")], idle: [worker("s", .spot), worker("od", .onDemand)], now: late)
        let placed = try #require(plan.placements.first)
        #expect(placed.placement.market == .onDemand)
        #expect(placed.reason.contains("safety net"))
    }

    @Test func aShortJobWithSlackWaitsForSpotRatherThanPayingOnDemand() throws {
        var short = job("j")
        short.progress = WorkProgress(committedStep: 340, totalSteps: 920, secondsPerStep: 0.05)
        let planner = PlacementPlanner()
        // Only on-demand idle (the spot nodes are relaunching): wait, the deadline is far.
        let waiting = planner.plan(jobs: [short], idle: [worker("od", .onDemand)], now: now)
        #expect(waiting.placements.isEmpty)
        #expect(waiting.waiting[JobID("j")]?.contains("waiting for spot rather than paying on-demand") == true)
        // Spot back: placed on it.
        let placed = planner.plan(jobs: [short], idle: [worker("od", .onDemand), worker("s", .spot)], now: now)
        #expect(placed.placements.first?.worker == "s")
        // Near the deadline (under 12 decision periods of slack) the policy decides again.
        let late = Date(timeIntervalSince1970: 9_000 + 36 * 3600 - 1_800)
        let pressed = planner.plan(jobs: [short], idle: [worker("od", .onDemand)], now: late)
        #expect(pressed.placements.first?.placement.market == .onDemand)
    }

    @Test func theSpecsMarketAndProvidersAreObeyed() {
        let planner = PlacementPlanner()
        let spotOnly = planner.plan(jobs: [job("j", market: .spot)], idle: [worker("od", .onDemand)], now: now)
        #expect(spotOnly.placements.isEmpty && spotOnly.waiting[JobID("j")]?.contains("spot") == true)
        let onDemand = planner.plan(
            jobs: [job("j", market: .onDemand)], idle: [worker("s", .spot), worker("od", .onDemand)], now: now)
        #expect(onDemand.placements.map(\.worker) == ["od"])
        let elsewhere = planner.plan(
            jobs: [job("j", providers: [ProviderPreference(name: .local, regions: ["local-b"])])],
            idle: [worker("s", .spot, region: "local-a")], now: now)
        #expect(elsewhere.placements.isEmpty)
        let noDeadline = planner.plan(
            jobs: [job("j", deadline: nil)], idle: [worker("od", .onDemand)], now: now,
            live: [worker("od", .onDemand), worker("busy-spot", .spot)])
        #expect(noDeadline.placements.isEmpty && noDeadline.waiting[JobID("j")] == "no deadline: waiting for spot")
    }

    func gang(_ id: String, _ nodes: NodeCount, market: MarketPreference = .auto, at: Double = 9_000) -> PendingJob {
        var pending = job(id, market: market, at: at)
        pending.spec.resources.nodes = nodes
        return pending
    }

    @Test func aGangIsPlacedWholeInOnePoolAndMarketOrNotAtAll() {
        // Three spot workers, but split over two regions: no pool holds a gang of three.
        let split = PlacementPlanner().plan(
            jobs: [gang("g", .fixed(3), market: .spot)],
            idle: [worker("a1", .spot), worker("a2", .spot), worker("b1", .spot, region: "local-b")], now: now)
        #expect(split.placements.isEmpty)
        #expect(split.waiting[JobID("g")]?.contains("gang of 3") == true)

        // A spot and an on-demand worker in one region are not one gang either.
        let mixed = PlacementPlanner().plan(
            jobs: [gang("g", .fixed(2), market: .spot)], idle: [worker("a1", .spot), worker("od", .onDemand)], now: now)
        #expect(mixed.placements.isEmpty)

        let whole = PlacementPlanner().plan(
            jobs: [gang("g", .fixed(2), market: .spot)],
            idle: [worker("b1", .spot, region: "local-b"), worker("a2", .spot), worker("a1", .spot)], now: now)
        #expect(whole.placements.count == 1)
        let placed = whole.placements[0]
        #expect(placed.members == ["a1", "a2"] && placed.worker == "a1" && placed.nodes == 2)
        #expect(placed.placement.region == "local-a" && placed.reason.contains("gang of 2"))
    }

    @Test func gangMembersAreNotGivenToAnotherJob() {
        let plan = PlacementPlanner().plan(
            jobs: [gang("old", .fixed(2), market: .spot, at: 9_000), job("young", market: .spot, at: 9_500)],
            idle: [worker("a1", .spot), worker("a2", .spot), worker("a3", .spot)], now: now)
        #expect(plan.placements.map(\.job) == [JobID("old"), JobID("young")])
        let used = plan.placements.flatMap { $0.members.isEmpty ? [$0.worker].compactMap { $0 } : $0.members }
        #expect(Set(used).count == used.count && used.count == 3)
    }

    @Test func anElasticGangTakesWhatThePoolHasBetweenMinAndMax() {
        let planner = PlacementPlanner()
        let three = planner.plan(
            jobs: [gang("e", .elastic(min: 2, max: 4), market: .spot)],
            idle: [worker("a1", .spot), worker("a2", .spot), worker("a3", .spot)], now: now)
        #expect(three.placements.first?.members == ["a1", "a2", "a3"])
        let five = planner.plan(
            jobs: [gang("e", .elastic(min: 2, max: 4), market: .spot)],
            idle: (1...5).map { worker("a\($0)", .spot) }, now: now)
        #expect(five.placements.first?.nodes == 4)
        let one = planner.plan(
            jobs: [gang("e", .elastic(min: 2, max: 4), market: .spot)], idle: [worker("a1", .spot)], now: now)
        #expect(one.placements.isEmpty)
    }

    @Test func thePolicySeesSpotOnlyWhereAWholeGangIsIdle() {
        // Far deadline: with a full spot gang the policy rides spot; with one spot worker short it
        // is offered the on-demand gang only, and a far deadline waits rather than paying for it.
        let full = PlacementPlanner().plan(
            jobs: [gang("g", .fixed(2))],
            idle: [worker("s1", .spot), worker("s2", .spot), worker("o1", .onDemand), worker("o2", .onDemand)],
            now: now)
        #expect(full.placements.first?.placement.market == .spot && full.placements.first?.nodes == 2)
        let short = PlacementPlanner().plan(
            jobs: [gang("g", .fixed(2))],
            idle: [worker("s1", .spot), worker("o1", .onDemand), worker("o2", .onDemand)],
            now: now)
        #expect(short.placements.allSatisfy { $0.placement.market == .onDemand })
        #expect(!short.placements.contains { $0.members.contains("s1") })
    }

    @Test func aWaitingGangHoldsTheIdleWorkersOfAPoolThatCanHoldItSoYoungerJobsDoNotStarveIt() {
        let jobs = [gang("g", .fixed(2), market: .spot, at: 9_000), job("young", market: .spot, at: 9_500)]
        // a2 is busy; once it finishes, a1 and a2 make the gang: a1 is held, not given away.
        let held = PlacementPlanner().plan(
            jobs: jobs, idle: [worker("a1", .spot)], now: now, live: [worker("a1", .spot), worker("a2", .spot)])
        #expect(held.placements.isEmpty)
        #expect(held.waiting[JobID("g")]?.contains("holding 1 idle in local/local-a/spot/local.t4 for it") == true)
        // A pool that could never hold the gang is not held: the younger job runs.
        let lone = PlacementPlanner().plan(
            jobs: jobs, idle: [worker("a1", .spot)], now: now, live: [worker("a1", .spot)])
        #expect(lone.placements.map(\.job) == [JobID("young")])
        // Nor is a market the gang does not accept.
        let onDemand = PlacementPlanner().plan(
            jobs: [gang("g", .fixed(2), market: .spot, at: 9_000), job("young", market: .onDemand, at: 9_500)],
            idle: [worker("o1", .onDemand)], now: now, live: [worker("o1", .onDemand), worker("o2", .onDemand)])
        #expect(onDemand.placements.map(\.job) == [JobID("young")])
    }

    /// Issue 14, item 1: a job stored before deadlines were bounded (10^15 days) killed the
    /// coordinator at the first spot poll, and again after every restart. Now it is planned (the
    /// horizon is capped and coarsened) and placed like any other job with slack.
    @Test func aJobStoredWithAnAbsurdDeadlineIsPlacedWithoutTrapping() throws {
        let planner = PlacementPlanner(
            policy: SpotwisePolicy(cache: MarkovPlanCache(capacity: 2), maxPlanStates: 50_000))
        for days in [999_999_999_999_999.0, 365, 30] {
            let plan = planner.plan(
                jobs: [job("far", deadline: .afterSubmission(seconds: days * 86_400))],
                idle: [worker("s", .spot), worker("od", .onDemand)], now: now)
            let decided = plan.placements.first?.reason ?? plan.waiting[JobID("far")] ?? ""
            #expect(decided.hasPrefix("policy spotwise:"), "\(days) d: \(decided)")
            #expect(!decided.contains("cannot plan"))
        }
    }

    /// A job without a deadline waits for spot; but where no live worker it may use sells spot at
    /// all, waiting would be forever: it takes on-demand.
    @Test func withoutADeadlineAndWithNoSpotAnywhereTheJobTakesOnDemand() throws {
        let od = worker("od", .onDemand)
        let alone = PlacementPlanner().plan(jobs: [job("j", deadline: nil)], idle: [od], now: now, live: [od])
        let placed = try #require(alone.placements.first)
        #expect(placed.worker == "od")
        #expect(placed.reason.contains("no worker of this job's providers sells spot"))
        // A spot worker that is busy now: wait for it.
        let busySpot = worker("s", .spot)
        let waiting = PlacementPlanner().plan(
            jobs: [job("j", deadline: nil)], idle: [od], now: now, live: [od, busySpot])
        #expect(waiting.placements.isEmpty)
        #expect(waiting.waiting[JobID("j")] == "no deadline: waiting for spot")
    }

    /// Capacity offers are their own kind, never told apart by their id: an offer is never a gang
    /// member, a placement on one says it is a launch, and a registered worker is a worker whatever
    /// its id looks like.
    @Test func capacityOffersAreAKindNotAnId() {
        let registered = worker("o1", .spot, price: 100_000)
        let offer = IdleWorker.offer(provider: registered.provider, pool: registered.pool)
        let onOffer = PlacementPlanner().plan(jobs: [job("single", market: .spot)], idle: [offer], now: now)
        #expect(onOffer.placements.map(\.onCapacityOffer) == [true])
        let named = worker("offer:local:local-a:spot:local.t4", .spot)
        let onWorker = PlacementPlanner().plan(jobs: [job("single", market: .spot)], idle: [named], now: now)
        #expect(onWorker.placements.map(\.onCapacityOffer) == [false])
        let gang = PlacementPlanner().plan(
            jobs: [gang("ddp", .fixed(2), market: .spot)], idle: [offer, worker("a1", .spot), worker("a2", .spot)],
            now: now)
        #expect(gang.placements.first.map { Set($0.members) } == ["a1", "a2"])
        #expect(gang.placements.first?.onCapacityOffer == false)
    }

    /// At the same price a registered worker is taken before launching capacity of its pool: it
    /// runs now. (When ids were strings, `"offer:..."` sorted before `"worker-..."` and the offer
    /// won the tie, launching capacity beside an idle worker.)
    @Test func aRegisteredWorkerBeatsAnOfferOfTheSamePriceAndPool() {
        let registered = worker("worker-1a2b3c4d", .spot)
        let offer = IdleWorker.offer(provider: registered.provider, pool: registered.pool)
        for idle in [[offer, registered], [registered, offer]] {
            let plan = PlacementPlanner().plan(jobs: [job("single", market: .spot)], idle: idle, now: now)
            #expect(plan.placements.map(\.target) == [.worker("worker-1a2b3c4d")])
        }
    }
}
