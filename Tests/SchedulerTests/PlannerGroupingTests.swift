import Foundation
import SpotPolicy
import SpotwiseCore
import Testing

@testable import Scheduler

/// The planner decides a single-node job from one worker per group of identical workers
/// (`FreeWorkers`) instead of every idle worker. Over random markets of workers and jobs, its
/// plans are exactly those of the plain loop it replaced: every idle worker filtered for every
/// job, the chosen ones removed from the list.
@Suite struct PlannerGroupingTests {
    /// The loop before grouping, kept here as the reference.
    func reference(_ planner: PlacementPlanner, jobs: [PendingJob], idle: [IdleWorker], now: Date, live: [IdleWorker])
        -> PlacementPlan
    {
        var plan = PlacementPlan()
        var free = idle
        for job in jobs.sorted(by: { ($0.submittedAt, $0.id) < ($1.submittedAt, $1.id) }) {
            let nodes = job.spec.resources.nodes
            var eligible = free.filter { PlacementPlanner.allows(job.spec, $0) }
            guard !eligible.isEmpty else {
                plan.waiting[job.id] = "no idle worker of \(PlacementPlanner.providerList(job.spec)) has registered"
                continue
            }
            if nodes.maximumCount > 1 {
                let candidates = eligible
                eligible = PlacementPlanner.gangCapable(eligible, minimum: nodes.minimum)
                guard !eligible.isEmpty else {
                    var reason =
                        "a gang of \(nodes.minimum) needs that many idle workers of one pool and market; none has them"
                    if let held = PlacementPlanner.hold(for: job, candidates: candidates, live: live) {
                        free.removeAll { held.workers.contains($0) }
                        reason +=
                            "; holding \(held.workers.count) idle in \(held.group) for it (\(held.busy) more there are busy)"
                    }
                    plan.waiting[job.id] = reason
                    continue
                }
            }
            let spotRegistered = (live + eligible).contains {
                $0.pool.market == .spot && PlacementPlanner.allows(job.spec, $0)
            }
            switch planner.choose(job, eligible: eligible, history: [:], now: now, spotRegistered: spotRegistered) {
            case .wait(let reason):
                plan.waiting[job.id] = reason
            case .place(let worker, let reason):
                let members =
                    nodes.maximumCount > 1
                    ? PlacementPlanner.gang(led: worker, from: eligible, maximum: nodes.maximumCount) : []
                let taken = Set(members.map(\.id) + [worker.id])
                free.removeAll { taken.contains($0.id) }
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

    @Test func groupedPlansAreThePlainLoopsPlans() {
        var placements = 0
        var gangs = 0
        var waits = 0
        for seed in 0..<60 {
            let (grouped, plain) = plans(seed: seed)
            #expect(grouped.placements == plain.placements, "seed \(seed)")
            #expect(grouped.waiting == plain.waiting, "seed \(seed)")
            placements += grouped.placements.count
            gangs += grouped.placements.filter { !$0.members.isEmpty }.count
            waits += grouped.waiting.count
        }
        // The markets are not trivial: jobs are placed, gangs too, and jobs wait.
        #expect(placements > 150 && gangs > 6 && waits > 60, "\(placements) placed, \(gangs) gangs, \(waits) waiting")
    }

    func plans(seed: Int) -> (PlacementPlan, PlacementPlan) {
        var random = SeededGenerator(seed: UInt64(seed) &* 7_919 &+ 1)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let providers: [ProviderName] = [.local, .sagemaker, .vertex]
        let regions = ["r1", "r2"]
        func pool() -> (ProviderName, WorkerPool) {
            let spot = Bool.random(using: &random)
            let onDemand = Int64([1_000_000, 1_200_000][Int.random(in: 0..<2, using: &random)])
            return (
                providers[Int.random(in: 0..<3, using: &random)],
                WorkerPool(
                    region: regions[Int.random(in: 0..<2, using: &random)], market: spot ? .spot : .onDemand,
                    instanceType: ["a", "b"][Int.random(in: 0..<2, using: &random)],
                    pricePerHour: Money(
                        micros: spot ? onDemand / [3, 4][Int.random(in: 0..<2, using: &random)] : onDemand),
                    onDemandPricePerHour: Money(micros: onDemand))
            )
        }
        let live = (0..<Int.random(in: 0...40, using: &random)).map { index -> IdleWorker in
            let (provider, pool) = pool()
            let offer = Int.random(in: 0..<10, using: &random) == 0
            let id = WorkerID("w\(Int.random(in: 0..<1000, using: &random))-\(index)")
            return offer ? .offer(provider: provider, pool: pool) : IdleWorker(id: id, provider: provider, pool: pool)
        }
        let idle = live.filter { _ in Int.random(in: 0..<4, using: &random) > 0 }
        let jobs = (0..<Int.random(in: 0...25, using: &random)).map { index -> PendingJob in
            var spec = JobSpec(name: "j\(index)", run: "true")
            spec.providers = (0..<Int.random(in: 1...2, using: &random)).map { _ in
                ProviderPreference(
                    name: providers[Int.random(in: 0..<3, using: &random)],
                    regions: Bool.random(using: &random) ? [] : [regions[Int.random(in: 0..<2, using: &random)]])
            }
            spec.market = [MarketPreference.spot, .onDemand, .auto][Int.random(in: 0..<3, using: &random)]
            if Bool.random(using: &random) {
                spec.deadline = .afterSubmission(seconds: Double.random(in: 3_600...30_000, using: &random))
            }
            switch Int.random(in: 0..<6, using: &random) {
            case 0: spec.resources.nodes = .fixed(Int.random(in: 2...4, using: &random))
            case 1: spec.resources.nodes = .elastic(min: 2, max: Int.random(in: 2...5, using: &random))
            default: break
            }
            return PendingJob(
                id: JobID("job-\(index)"), spec: spec,
                submittedAt: now.addingTimeInterval(-Double(Int.random(in: 0...50_000, using: &random))))
        }
        let planner = PlacementPlanner()
        return (
            planner.plan(jobs: jobs, idle: idle, now: now, live: live),
            reference(planner, jobs: jobs, idle: idle, now: now, live: live)
        )
    }
}
