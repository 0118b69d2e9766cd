import SpotPolicy
import Testing

@Suite struct MarkovPlanTests {
    @Test func alwaysUpSpotCostsOneLaunchPlusTheWork() {
        let model = ExecutionModel(
            tickSeconds: 600, workSeconds: 3600, deadlineSeconds: 3 * 3600, changeoverSeconds: 720, nodes: 1)
        let plan = MarkovPlan(
            key: MarkovPlan.Key(
                model: model,
                chain: AvailabilityChain(
                    upYoungFailure: 1e-4, upOldFailure: 1e-4, downFreshRecovery: 1, downOldRecovery: 1), priceRatio: 5))
        let value = plan.value(
            ticksLeft: model.deadlineTicks, workLeft: model.workUnits, instance: .none,
            chainState: AvailabilityChain.upOld)
        #expect(abs(value - Double(model.workUnits + model.changeoverUnits)) < 1)
    }
}
