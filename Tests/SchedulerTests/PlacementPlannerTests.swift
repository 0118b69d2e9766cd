import Foundation
import Scheduler
import SpotPolicy
import SpotwiseCore
import Testing

@Suite struct PlacementPlannerTests {
    let now = Date(timeIntervalSince1970: 10_000)

    func worker(_ id: String, _ market: Market, region: String = "local-a", price: Int64 = 300_000) -> IdleWorker {
        IdleWorker(
            id: id, provider: .local,
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
        let noDeadline = planner.plan(jobs: [job("j", deadline: nil)], idle: [worker("od", .onDemand)], now: now)
        #expect(noDeadline.placements.isEmpty && noDeadline.waiting[JobID("j")] == "no deadline: waiting for spot")
    }

    @Test func gangsWaitForTheGangScheduler() {
        var gang = job("g")
        gang.spec.resources.nodes = .fixed(2)
        let plan = PlacementPlanner().plan(jobs: [gang], idle: [worker("a", .spot), worker("b", .spot)], now: now)
        #expect(plan.placements.isEmpty && plan.waiting[JobID("g")] != nil)
    }
}
