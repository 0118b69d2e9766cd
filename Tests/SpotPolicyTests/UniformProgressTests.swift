import SpotPolicy
import SpotwiseCore
import Testing

/// The paper's rules, one by one, on hand-made decision contexts (C = 10 h, R = 20 h, d = 0.5 h).
@Suite struct UniformProgressTests {
    func context(elapsedHours: Double, progressHours: Double, spotNow: Bool, current: Market?) -> DecisionContext {
        DecisionContext(
            totalWorkSeconds: 36_000, remainingWorkSeconds: 36_000 - progressHours * 3600,
            elapsedSeconds: elapsedHours * 3600, deadlineSeconds: 72_000, tickSeconds: 600, changeoverSeconds: 1800,
            nodes: 1, current: current.map { RunningInstance(pool: 0, market: $0, changeoverLeftSeconds: 0) },
            pools: [
                PoolState(
                    name: "zone-a", spotPricePerHour: 1, onDemandPricePerHour: 4, spotAvailableNow: spotNow,
                    history: AvailabilityHistory())
            ])
    }

    let policy = UniformProgressPolicy()

    @Test func idleAndBehindTheLineGoesOnDemand() {
        let choice = policy.decide(context(elapsedHours: 4, progressHours: 1, spotNow: false, current: nil))
        #expect(choice.decision == .onDemand(pool: 0))
        #expect(choice.reason.description == "behind uniform progress by 1.0 h: on-demand until caught up")
    }

    @Test func idleAndAheadWaits() {
        #expect(
            policy.decide(context(elapsedHours: 4, progressHours: 3, spotNow: false, current: nil)).decision == .wait)
    }

    @Test func takesSpotWheneverAvailableEvenWhenBehind() {
        #expect(
            policy.decide(context(elapsedHours: 4, progressHours: 1, spotNow: true, current: nil)).decision
                == .spot(pool: 0))
    }

    @Test func hysteresisKeepsOnDemandUntilAheadOfTheLineTwoChangeoversLater() {
        // ep(t + 2d) = 0.5 * (4 + 1) = 2.5 h; at 2.4 h of progress it stays even with spot available.
        let staying = policy.decide(context(elapsedHours: 4, progressHours: 2.4, spotNow: true, current: .onDemand))
        #expect(staying.decision == .keepGoing)
        let leaving = policy.decide(context(elapsedHours: 4, progressHours: 2.6, spotNow: true, current: .onDemand))
        #expect(leaving.decision == .spot(pool: 0))
    }

    @Test func staysOnSpotUntilPreempted() {
        #expect(
            policy.decide(context(elapsedHours: 4, progressHours: 0.5, spotNow: true, current: .spot)).decision
                == .keepGoing)
    }

    @Test func safetyNetOverridesEverything() {
        // 19 h elapsed, 9 h done: 1 h left for 1 h of work: on-demand now, whatever spot does.
        let choice = policy.decide(context(elapsedHours: 18.5, progressHours: 9, spotNow: true, current: nil))
        #expect(choice.decision == .onDemand(pool: 0))
        if case .safetyNet = choice.reason {} else { Issue.record("expected the safety net, got \(choice.reason)") }
    }
}
