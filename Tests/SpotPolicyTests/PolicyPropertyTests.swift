import SpotPolicy
import SpotwiseCore
import SpotwiseTesting
import Testing

/// Invariants of every policy over random markets and jobs (seeded; a failure names the seed).
@Suite struct PolicyPropertyTests {
    static let policies: [any SpotPolicy] = [
        OnDemandPolicy(), GreedyPolicy(), UniformProgressPolicy(), SpotwisePolicy(),
    ]

    @Test func noPolicyMissesADeadlineThatOnDemandMeetsAndNoneBeatsTheOptimum() {
        var generator = SeededGenerator(seed: 7)
        var windows = 0
        for seed in 0..<120 {
            let ticks = Int.random(in: 8...30, using: &generator)
            let changeover = Double([0, 300, 720, 1200].randomElement(using: &generator)!)
            let deadline = Double(ticks * 600)
            let slack = Double.random(in: 0...0.6, using: &generator)
            let work = max(600, (deadline - changeover) * (1 - slack))
            let model = ExecutionModel(
                tickSeconds: 600, workSeconds: work, deadlineSeconds: deadline, changeoverSeconds: changeover,
                nodes: Int.random(in: 1...4, using: &generator))
            guard model.isFeasible else { continue }
            let history = Int.random(in: 0...40, using: &generator)
            let pools = SyntheticTraces.pools(ticks: ticks + history, generator: &generator)
            let replayer = TraceReplayer(pools: pools, model: model)
            let optimum = OmniscientPlanner(pools: pools, model: model).minimumCost(startTick: history)
            for policy in Self.policies {
                let outcome = replayer.replay(policy, startTick: history)
                #expect(outcome.metDeadline, "seed \(seed): \(policy.name) missed the deadline")
                #expect(outcome.cost >= optimum - 1e-9, "seed \(seed): \(policy.name) beat the optimum")
                #expect(outcome.cost >= 0 && outcome.spotSeconds >= 0 && outcome.onDemandSeconds >= 0)
                #expect(outcome.finishSeconds <= Double(model.deadlineUnits * model.unitSeconds) + 1e-9)
            }
            windows += 1
        }
        #expect(windows > 100)
    }

    @Test func policiesAreDeterministic() {
        var generator = SeededGenerator(seed: 3)
        let pools = SyntheticTraces.pools(ticks: 200, generator: &generator)
        let model = ExecutionModel(
            tickSeconds: 600, workSeconds: 20 * 3600, deadlineSeconds: 30 * 3600, changeoverSeconds: 720, nodes: 1)
        for policy in Self.policies {
            let first = TraceReplayer(pools: pools, model: model).replay(policy, startTick: 10)
            let second = TraceReplayer(pools: pools, model: model).replay(policy, startTick: 10)
            #expect(first == second, "\(policy.name)")
        }
        // A fresh plan cache changes nothing: plans are a pure function of their key.
        let shared = TraceReplayer(pools: pools, model: model).replay(SpotwisePolicy(), startTick: 10)
        let fresh = TraceReplayer(pools: pools, model: model).replay(
            SpotwisePolicy(cache: MarkovPlanCache(capacity: 2)), startTick: 10)
        #expect(shared == fresh)
    }
}

@Suite struct TraceReplayerTests {
    func pool(_ pattern: String, spot: Double = 1, onDemand: Double = 4) -> PoolSeries {
        let available = pattern.map { $0 == "1" }
        return PoolSeries(
            name: "p", available: available, spotPrices: Array(repeating: spot, count: available.count),
            onDemandPricePerHour: onDemand)
    }

    let model = ExecutionModel(
        tickSeconds: 3600, workSeconds: 3 * 3600, deadlineSeconds: 6 * 3600, changeoverSeconds: 0, nodes: 1)

    @Test func greedyRidesSpotAndCountsPreemptions() {
        let outcome = TraceReplayer(pools: [pool("110111")], model: model).replay(GreedyPolicy(), startTick: 0)
        #expect(outcome.metDeadline)
        #expect(outcome.cost == 3)
        #expect(outcome.preemptions == 1)
        #expect(outcome.changeovers == 2)
        #expect(outcome.finishSeconds == 4 * 3600)
    }

    @Test func greedyFallsBackToOnDemandJustInTime() {
        let outcome = TraceReplayer(pools: [pool("000000")], model: model).replay(GreedyPolicy(), startTick: 0)
        #expect(outcome.metDeadline)
        #expect(outcome.onDemandSeconds == 3 * 3600)
        #expect(outcome.cost == 12)
        #expect(outcome.finishSeconds == 6 * 3600)
    }

    @Test func onDemandPolicyPaysTheFullPrice() {
        let outcome = TraceReplayer(pools: [pool("111111")], model: model).replay(OnDemandPolicy(), startTick: 0)
        #expect(outcome.cost == 12 && outcome.spotSeconds == 0 && outcome.finishSeconds == 3 * 3600)
    }

    @Test func aChangeoverIsBilledWithoutProgress() {
        let withChangeover = ExecutionModel(
            tickSeconds: 600, workSeconds: 1200, deadlineSeconds: 3600, changeoverSeconds: 720, nodes: 1)
        #expect(
            withChangeover.unitSeconds == 120 && withChangeover.changeoverUnits == 6 && withChangeover.tickUnits == 5)
        let outcome = TraceReplayer(pools: [pool("111111", spot: 3.6)], model: withChangeover).replay(
            GreedyPolicy(), startTick: 0)
        #expect(abs(outcome.cost - 3.6 * (1200 + 720) / 3600) < 1e-9)
        #expect(outcome.finishSeconds == 1920)
    }

    @Test func windowsStartOnlyWhereTheWholeDeadlineFits() {
        #expect(TraceReplayer(pools: [pool("1111111111")], model: model).validStarts == 0..<5)
    }
}
