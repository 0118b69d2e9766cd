import SpotwiseCore

/// Spotwise's policy: plan with a learned model of each pool, never with the future.
///
/// 1. **Learn each pool.** From the availability it has seen so far, an `AvailabilityChain` per
///    pool: how likely spot is to vanish when its run is young or old, and how likely an outage
///    is to end when it is fresh or old. In the GCP H100 traces young spot is 5-50 times likelier
///    to vanish than spot that has lasted two hours, and most outages end within minutes while
///    the rest last hours; a policy that ignores the age of a run pays for it in changeovers.
/// 2. **Pick the pool by cost per hour of progress.** For each pool with spot now: its price times
///    expected life / (expected life - changeover), where the expected life follows from the
///    run's age. Move off a live spot instance only when the saving over the new pool's expected
///    life beats what the plan says the changeover costs (money and slack together).
/// 3. **Time the market with a plan.** For that pool, the job's decision process under the
///    learned chain (`MarkovPlan`) gives the expected cost to finish from every state; the policy
///    takes the cheapest of keeping its instance, launching spot, going on-demand and waiting.
///    This is what Uniform Progress approximates with a straight line: the plan knows that a
///    changeover eats slack as well as money, that an outage which just began will probably end
///    soon, and that on-demand bought early is often paid for nothing.
///
/// The shared `SafetyNet` comes first, so it never misses a deadline that on-demand from the
/// start would meet.
public struct SpotwisePolicy: SpotPolicy {
    let cache: MarkovPlanCache
    /// The most values one plan may hold; longer horizons are planned on a coarser grid.
    let maxPlanStates: Int

    /// Choices of the planning model (the defaults are Spotwise's; others are measured against it).
    public let tuning: SpotwiseTuning

    public init(
        cache: MarkovPlanCache = .shared, maxPlanStates: Int = PlanningResolution.maxStates,
        tuning: SpotwiseTuning = .standard
    ) {
        self.cache = cache
        self.maxPlanStates = maxPlanStates
        self.tuning = tuning
    }

    public var name: String { tuning == .standard ? "spotwise" : "spotwise-\(tuning.label)" }

    /// What the policy knows of one pool at this decision.
    struct PoolView {
        var chain: AvailabilityChain
        var chainState: Int
        /// Expected ticks until spot vanishes, from the run's current age (0 when down).
        var expectedLifeTicks: Double
        /// Spot price per hour of progress, counting one changeover per expected life.
        var costPerProgressHour: Double
    }

    func view(_ pool: PoolState, changeoverTicks: Double) -> PoolView {
        let chain = AvailabilityChain(history: pool.history, stepsPerOctave: tuning.hazardStepsPerOctave)
        let state = AvailabilityChain.state(of: pool.history, availableNow: pool.spotAvailableNow)
        let oldLife = 1 / max(chain.hazard(1), 1e-4)
        let youngFailure = chain.hazard(0)
        let ageing = (1 - youngFailure) / Double(AvailabilityHistory.upAgeLimit)
        let youngLife = (1 + ageing * oldLife) / (youngFailure + ageing)
        let life: Double =
            switch state {
            case AvailabilityChain.upOld: oldLife
            case AvailabilityChain.upYoung: youngLife
            default: 0
            }
        let productive = life - changeoverTicks
        return PoolView(
            chain: chain, chainState: state, expectedLifeTicks: life,
            costPerProgressHour: productive > 0 ? pool.spotPricePerHour * life / productive : .infinity)
    }

    public func decide(_ context: DecisionContext) -> PolicyChoice {
        if let problem = context.planningProblem { return PolicyChoice(.wait, .cannotPlan(problem)) }
        guard context.remainingWorkSeconds > 0 else { return PolicyChoice(.wait, .finished) }
        if SafetyNet.requiresOnDemand(context) { return SafetyNet.onDemandChoice(context) }

        // A deadline further than the plan looks is planned as if it were that far (more careful,
        // never later); work beyond the horizon cannot finish either way.
        let horizon = min(
            context.deadlineSeconds, max(0, context.elapsedSeconds) + PlanningResolution.maxHorizonSeconds)
        let (model, stepsPerTick) = PlanningResolution.model(
            tickSeconds: Int(context.tickSeconds.rounded()), workSeconds: min(context.totalWorkSeconds, horizon),
            deadlineSeconds: horizon, changeoverSeconds: context.changeoverSeconds, nodes: context.nodes,
            maxStates: maxPlanStates)
        let unit = Double(model.unitSeconds)
        let planTick = Double(model.tickSeconds)
        let ticksLeft = model.deadlineTicks - Int((context.elapsedSeconds / planTick).rounded())
        let workLeft = Int((min(context.remainingWorkSeconds, horizon) / unit).rounded())
        let changeoverLeft = Int(
            (min(context.current?.changeoverLeftSeconds ?? 0, context.changeoverSeconds) / unit).rounded())
        let onDemandPool = context.cheapestOnDemandPool
        let onDemandPrice = context.pools[onDemandPool].onDemandPricePerHour
        let views = context.pools.map { view($0, changeoverTicks: context.changeoverSeconds / context.tickSeconds) }
        // The safety net's reserve (one decision tick and one changeover) in plan units, rounded up.
        let reserveUnits =
            tuning.planKnowsSafetyNet
            ? Int(((context.tickSeconds + context.changeoverSeconds) / unit).rounded(.up)) : 0

        func plan(_ pool: Int) -> MarkovPlan {
            cache.plan(
                for: MarkovPlan.Key(
                    model: model, chain: views[pool].chain,
                    priceRatio: onDemandPrice / max(context.pools[pool].spotPricePerHour, 1e-9),
                    stepsPerTick: stepsPerTick, safetyReserveUnits: reserveUnits))
        }
        func instance(in pool: Int) -> MarkovPlan.Instance {
            guard let current = context.current else { return .none }
            if current.market == .onDemand { return .onDemand(changeoverLeft: changeoverLeft) }
            return current.pool == pool ? .spot(changeoverLeft: changeoverLeft) : .none
        }
        func dollars(_ pool: Int, _ action: PlanAction) -> Double {
            let perUnit = context.pools[pool].spotPricePerHour * unit / 3600
            return perUnit
                * plan(pool).actionValue(
                    ticksLeft: ticksLeft, workLeft: workLeft, instance: instance(in: pool),
                    chainState: views[pool].chainState, action: action)
        }

        let up = context.pools.indices.filter {
            context.pools[$0].spotAvailableNow && context.pools[$0].spotPricePerHour > 0
        }
        let cheapestUp = up.min { views[$0].costPerProgressHour < views[$1].costPerProgressHour }

        // The pool whose plan decides: the live spot pool (or a better one worth moving to), else
        // the cheapest pool with spot now, else the pool that is cheapest when it comes back.
        var reference: Int
        var spotAction: PlanAction = .launchSpot
        if let current = context.current, current.market == .spot {
            reference = current.pool
            spotAction = .continueSpot
            if let candidate = cheapestUp, candidate != current.pool,
                worthMoving(from: current.pool, to: candidate, views: views, context: context, dollars: dollars)
            {
                reference = candidate
                spotAction = .launchSpot
            }
        } else if let candidate = cheapestUp {
            reference = candidate
        } else {
            reference =
                context.pools.indices.min {
                    context.pools[$0].spotPricePerHour < context.pools[$1].spotPricePerHour
                } ?? onDemandPool
        }

        let onOnDemand = context.current?.market == .onDemand
        let wait = dollars(reference, .wait)
        let onDemand = dollars(reference, onOnDemand ? .continueOnDemand : .launchOnDemand)
        let spot = context.pools[reference].spotAvailableNow ? dollars(reference, spotAction) : .infinity
        let name = context.pools[reference].name
        let reason = { (choice: String, cost: Double) in
            DecisionReason.expectedCost(choice: choice, dollars: cost, waitDollars: wait, onDemandDollars: onDemand)
        }
        if spot <= onDemand && spot <= wait {
            let decision: PolicyDecision = spotAction == .continueSpot ? .keepGoing : .spot(pool: reference)
            return PolicyChoice(decision, reason("spot in \(name)", spot))
        }
        if tuning.waitOnTies ? onDemand < wait * (1 - 1e-6) : onDemand <= wait {
            return PolicyChoice(
                onOnDemand ? .keepGoing : .onDemand(pool: onDemandPool),
                reason("on-demand in \(context.pools[onDemandPool].name)", onDemand))
        }
        return PolicyChoice(.wait, reason("waiting for spot", wait))
    }

    /// Moving off a live spot instance pays a changeover in money and slack; the plan of the
    /// current pool prices that (the value of the same state with and without a fresh changeover).
    func worthMoving(
        from current: Int, to candidate: Int, views: [PoolView], context: DecisionContext,
        dollars: (Int, PlanAction) -> Double
    ) -> Bool {
        let saving = views[current].costPerProgressHour - views[candidate].costPerProgressHour
        guard saving > 0, !saving.isNaN else { return false }
        let hours = min(context.remainingWorkSeconds, views[candidate].expectedLifeTicks * context.tickSeconds) / 3600
        let changeoverCost = dollars(current, .launchSpot) - dollars(current, .continueSpot)
        // Twice over: the saving rests on an estimated life, and the new pool's run may be young.
        return saving * hours > tuning.moveMargin * max(0, changeoverCost)
    }
}
