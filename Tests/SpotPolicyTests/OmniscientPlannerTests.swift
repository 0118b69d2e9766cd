import SpotPolicy
import SpotwiseCore
import SpotwiseTesting
import Testing

/// The offline optimum must equal an exhaustive search over every sequence of actions.
@Suite struct OmniscientPlannerTests {
    /// Every action sequence, under the same execution model; on-demand is tried in every pool.
    func bruteForce(pools: [PoolSeries], model: ExecutionModel) -> Double {
        enum Mode: Equatable {
            case none
            case spot(Int)
            case onDemand(Int)
        }
        var best = Double.infinity
        func search(tick: Int, progress: Int, mode: Mode, changeover: Int, cost: Double) {
            guard tick < model.deadlineTicks, cost < best else { return }
            var mode = mode
            if case .spot(let k) = mode, !pools[k].available[tick] { mode = .none }
            var options: [(Mode, Int)] = [(.none, 0)]
            if mode != .none { options.append((mode, changeover)) }
            for k in pools.indices {
                if pools[k].available[tick] && mode != .spot(k) { options.append((.spot(k), model.changeoverUnits)) }
                if mode != .onDemand(k) { options.append((.onDemand(k), model.changeoverUnits)) }
            }
            for (next, nextChangeover) in options {
                guard next != .none else {
                    search(tick: tick + 1, progress: progress, mode: .none, changeover: 0, cost: cost)
                    continue
                }
                let step = model.runTick(progress: progress, changeoverLeft: nextChangeover)
                let price: Double
                switch next {
                case .spot(let k): price = pools[k].spotPrices[tick]
                case .onDemand(let k): price = pools[k].onDemandPricePerHour
                case .none: price = 0
                }
                let total = cost + model.cost(units: step.busyUnits, pricePerNodeHour: price)
                if step.progress >= model.workUnits {
                    best = min(best, total)
                } else {
                    search(
                        tick: tick + 1, progress: step.progress, mode: next, changeover: step.changeoverLeft,
                        cost: total)
                }
            }
        }
        search(tick: 0, progress: 0, mode: .none, changeover: 0, cost: 0)
        return best
    }

    @Test func matchesBruteForceOnSmallRandomInstances() {
        var generator = SeededGenerator(seed: 42)
        var feasible = 0
        for instance in 0..<150 {
            let ticks = Int.random(in: 3...6, using: &generator)
            let model = ExecutionModel(
                tickSeconds: 60, workSeconds: Double(Int.random(in: 1...(2 * ticks - 2), using: &generator) * 30),
                deadlineSeconds: Double(ticks * 60),
                changeoverSeconds: Double([0, 30, 90].randomElement(using: &generator)!),
                nodes: Int.random(in: 1...2, using: &generator))
            let pools = SyntheticTraces.pools(ticks: ticks, generator: &generator)
            let planned = OmniscientPlanner(pools: pools, model: model).minimumCost(startTick: 0)
            let searched = bruteForce(pools: pools, model: model)
            if searched.isFinite { feasible += 1 }
            #expect(
                planned == searched || abs(planned - searched) < 1e-9 * max(1, searched),
                "instance \(instance): planner \(planned), brute force \(searched)")
        }
        #expect(feasible > 100)
    }

    @Test func infeasibleJobsCostInfinity() {
        let model = ExecutionModel(
            tickSeconds: 600, workSeconds: 3600, deadlineSeconds: 3600, changeoverSeconds: 60, nodes: 1)
        let pool = PoolSeries(
            name: "p", available: Array(repeating: true, count: 10), spotPrices: Array(repeating: 1, count: 10),
            onDemandPricePerHour: 3)
        #expect(!model.isFeasible)
        #expect(OmniscientPlanner(pools: [pool], model: model).minimumCost(startTick: 0) == .infinity)
    }

    @Test func alwaysAvailableSpotCostsOneChangeoverPlusTheWork() {
        let model = ExecutionModel(
            tickSeconds: 600, workSeconds: 7200, deadlineSeconds: 4 * 3600, changeoverSeconds: 720, nodes: 2)
        let pool = PoolSeries(
            name: "p", available: Array(repeating: true, count: 30), spotPrices: Array(repeating: 1.5, count: 30),
            onDemandPricePerHour: 6)
        let cost = OmniscientPlanner(pools: [pool], model: model).minimumCost(startTick: 0)
        #expect(abs(cost - 1.5 * 2 * (7200 + 720) / 3600) < 1e-9)
    }
}
