import SpotPolicy
import Testing

/// A plan that knows the safety net never counts on slack the safety net will not let it use.
@Suite struct SafetyAwarePlanTests {
    // 10-minute ticks and a 12-minute changeover: 2-minute units, 5 per tick, 6 per changeover.
    let model = ExecutionModel(
        tickSeconds: 600, workSeconds: 3600, deadlineSeconds: 3 * 3600, changeoverSeconds: 720, nodes: 1)
    let steadySpot = AvailabilityChain(
        upYoungFailure: 1e-4, upOldFailure: 1e-4, downFreshRecovery: 1, downOldRecovery: 1)

    func spotRunningValue(reserveUnits: Int) -> Double {
        let plan = MarkovPlan(
            key: MarkovPlan.Key(model: model, chain: steadySpot, priceRatio: 5, safetyReserveUnits: reserveUnits))
        // 8 ticks (40 units) left for 30 units of work: 10 units of slack, more than a changeover
        // (6) but less than the safety net's tick + changeover (11).
        return plan.value(
            ticksLeft: 8, workLeft: 30, instance: .spot(changeoverLeft: 0), chainState: AvailabilityChain.upOld)
    }

    @Test func deadlineOnlyPlanKeepsRunningSpotInsideTheReserve() {
        #expect(spotRunningValue(reserveUnits: 0) < 40)
    }

    @Test func safetyAwarePlanMovesToOnDemandInsideTheReserve() {
        // What the safety net will do: a changeover and the work, all on on-demand at 5x.
        #expect(abs(spotRunningValue(reserveUnits: 11) - 5 * 36) < 0.01)
    }
}

@Suite struct OptimalScheduleTests {
    @Test func scheduleCostsTheOptimumAndRunsSpotOnlyWhenItIsThere() {
        let model = ExecutionModel(
            tickSeconds: 600, workSeconds: 3600, deadlineSeconds: 2 * 3600, changeoverSeconds: 720, nodes: 1)
        let available = (0..<model.deadlineTicks).map { $0 % 5 != 2 }
        let pool = PoolSeries(
            name: "a", available: available, spotPrices: Array(repeating: 1, count: available.count),
            onDemandPricePerHour: 5)
        let planner = OmniscientPlanner(pools: [pool], model: model)
        let schedule = planner.optimalSchedule(startTick: 0)
        #expect(abs(schedule.cost - planner.minimumCost(startTick: 0)) < 1e-9)
        #expect(schedule.launches >= 1)
        for (tick, placement) in schedule.placements.enumerated() {
            if case .spot = placement { #expect(available[tick]) }
        }
        let busyTicks = schedule.placements.filter { $0 != .idle }.count
        #expect(busyTicks * 600 >= 3600 + 720)
    }
}
