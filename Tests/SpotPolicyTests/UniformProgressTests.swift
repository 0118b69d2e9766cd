import SpotPolicy
import SpotwiseCore
import SpotwiseTesting
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

/// Uniform Progress leaves on-demand only for spot (issue 19): ahead of the line with no spot it
/// stays on on-demand instead of idling and paying a changeover to come back within 2d.
extension UniformProgressTests {
    @Test func aheadOnOnDemandWithoutSpotStaysOnOnDemand() {
        // ep(t + 2d) = 0.5 * (4 + 1) = 2.5 h; at 2.6 h it is ahead, and only spot takes it off on-demand.
        let staying = policy.decide(context(elapsedHours: 4, progressHours: 2.6, spotNow: false, current: .onDemand))
        #expect(staying.decision == .keepGoing)
        #expect(staying.reason.description == "ahead of uniform progress by 0.1 h; on-demand until spot comes")
        let leaving = policy.decide(context(elapsedHours: 4, progressHours: 2.6, spotNow: true, current: .onDemand))
        #expect(leaving.decision == .spot(pool: 0))
    }

    /// Random markets whose spot is cheaper than on-demand, from flickering to steady, plus markets
    /// without spot. Because on-demand is left only for spot, a replay starts on-demand at most once
    /// more than it starts spot; so Uniform Progress costs at most all-on-demand plus, for each time
    /// it took spot, one changeover on spot and one back on on-demand (the spot work only lowers
    /// it). Without spot it costs exactly all-on-demand. (Literally "never more than all-on-demand
    /// plus one changeover" is false for any policy that tries spot: spot that vanishes within a
    /// changeover, each time the job is ahead, makes every try a loss.)
    @Test func costsAtMostAllOnDemandPlusTwoChangeoversPerSpotTry() {
        var generator = SeededGenerator(seed: 19)
        var tried = 0
        for seed in 0..<300 {
            let ticks = Int.random(in: 12...80, using: &generator)
            let changeover = Double([300, 600, 720, 1200].randomElement(using: &generator)!)
            let deadline = Double(ticks * 600)
            let work = max(600, (deadline - changeover) * (1 - Double.random(in: 0.05...0.6, using: &generator)))
            let nodes = Int.random(in: 1...4, using: &generator)
            let model = ExecutionModel(
                tickSeconds: 600, workSeconds: work, deadlineSeconds: deadline, changeoverSeconds: changeover,
                nodes: nodes)
            guard model.isFeasible else { continue }
            let onDemandPrice = Double.random(in: 2...6, using: &generator)
            let noSpot = seed % 5 == 0
            let pools = (0..<Int.random(in: 1...3, using: &generator)).map { index in
                SyntheticTraces.pool(
                    name: "pool-\(index)", ticks: ticks,
                    failure: noSpot ? 1 : Double.random(in: 0.02...0.9, using: &generator),
                    recovery: noSpot ? 0 : Double.random(in: 0.02...0.9, using: &generator),
                    spotPrice: onDemandPrice * Double.random(in: 0.1...1, using: &generator),
                    onDemandPrice: onDemandPrice, generator: &generator)
            }.map { pool in
                noSpot
                    ? PoolSeries(
                        name: pool.name, available: Array(repeating: false, count: ticks), spotPrices: pool.spotPrices,
                        onDemandPricePerHour: pool.onDemandPricePerHour) : pool
            }
            let replayer = TraceReplayer(pools: pools, model: model)
            let up = replayer.replay(UniformProgressPolicy(), startTick: 0)
            let onDemand = replayer.replay(OnDemandPolicy(), startTick: 0)
            #expect(up.metDeadline, "seed \(seed)")
            #expect(up.onDemandStarts <= up.spotStarts + 1, "seed \(seed): \(up)")
            let perTry = model.cost(units: model.changeoverUnits, pricePerNodeHour: 2 * onDemandPrice)
            #expect(
                up.cost <= onDemand.cost + Double(up.spotStarts) * perTry + 1e-9,
                "seed \(seed): UP \(up.cost), on-demand \(onDemand.cost), \(up.spotStarts) spot tries")
            if noSpot {
                #expect(
                    abs(up.cost - onDemand.cost) < 1e-9, "seed \(seed): without spot, UP \(up.cost) vs \(onDemand.cost)"
                )
            }
            tried += 1
        }
        #expect(tried > 250)
    }
}
