/// Expected cost to finish a job from every state, when spot availability follows an
/// `AvailabilityChain` and the job acts optimally: a finite-horizon Markov decision process over
/// (ticks left, work left, availability state, instance, changeover left), solved backwards once
/// and then read in O(1) per decision.
///
/// Costs are in units of one spot-unit of time (spot costs 1 per unit, on-demand `priceRatio`);
/// missing the deadline costs `MarkovPlan.missPenalty`. The same `ExecutionModel` as the replayer
/// and the offline optimum moves the job, so all three agree on what a tick does.
public struct MarkovPlan: Sendable {
    public struct Key: Hashable, Sendable {
        public var model: ExecutionModel
        public var chain: AvailabilityChain
        /// On-demand price over spot price, in steps of 1/20.
        public var priceRatioTwentieths: Int
        /// Steps of the availability chain per plan tick: 1, or the factor of a coarsened plan
        /// (`PlanningResolution`).
        public var stepsPerTick: Int
        /// Slack (in plan units) below which the job may only run on-demand: the `SafetyNet`'s
        /// reserve of one decision tick and one changeover, so that the plan never counts on
        /// slack the safety net will not let it use. 0 plans with the deadline alone.
        public var safetyReserveUnits: Int

        public init(
            model: ExecutionModel, chain: AvailabilityChain, priceRatio: Double, stepsPerTick: Int = 1,
            safetyReserveUnits: Int = 0
        ) {
            self.model = model
            self.chain = chain
            self.safetyReserveUnits = max(0, safetyReserveUnits)
            // A ratio that is not a number (a zero or missing price) prices on-demand like spot.
            let twentieths = priceRatio.isFinite ? min(priceRatio * 20, 20_000_000) : 20
            self.priceRatioTwentieths = max(20, Int(twentieths.rounded()))
            self.stepsPerTick = max(1, stepsPerTick)
        }

        public var priceRatio: Double { Double(priceRatioTwentieths) / 20 }
    }

    /// Where the job is, as the plan sees it.
    public enum Instance: Hashable, Sendable {
        case none
        case spot(changeoverLeft: Int)
        case onDemand(changeoverLeft: Int)
    }

    public static let missPenalty: Float = 1e12

    public let key: Key
    let changeoverValues: [Int]
    let changeoverIndex: [Int]
    let transitions: [[Double]]
    /// Per (ticks left, work left - lowest of that layer), per chain state:
    /// [no instance, on-demand for each changeover value, spot for each changeover value].
    let values: [Float]
    let layerOffsets: [Int]
    let layerLowest: [Int]
    let statesPerChainState: Int
    let statesPerRow: Int

    public init(key: Key) {
        self.key = key
        let model = key.model
        let tick = model.tickUnits
        let (changeoverValues, changeoverIndex) = model.changeoverSteps
        self.changeoverValues = changeoverValues
        self.changeoverIndex = changeoverIndex
        let count = changeoverValues.count
        let chainStates = AvailabilityChain.states
        let transitions = key.chain.transitions(steps: key.stepsPerTick)
        self.transitions = transitions
        let perChain = 1 + 2 * count
        self.statesPerChainState = perChain
        let perRow = chainStates * perChain
        self.statesPerRow = perRow

        let work = model.workUnits
        let horizon = model.deadlineTicks
        var offsets: [Int] = []
        var lowests: [Int] = []
        var total = 0
        for ticksLeft in 0...max(0, horizon) {
            // Reachable work left: at most all of it, at least what the elapsed ticks could do.
            let lowest = max(1, work - (horizon - ticksLeft) * tick)
            offsets.append(total)
            lowests.append(lowest)
            total += max(0, work - lowest + 1) * perRow
        }
        self.layerOffsets = offsets
        self.layerLowest = lowests
        var values = [Float](repeating: Self.missPenalty, count: total)
        let ratio = key.priceRatio
        let isUp = (0..<chainStates).map(AvailabilityChain.isUp)

        for ticksLeft in stride(from: 1, through: horizon, by: 1) {
            let previousOffset = offsets[ticksLeft - 1]
            let previousLowest = lowests[ticksLeft - 1]
            // Expected value next tick of landing in (work left, instance kind, changeover index)
            // from chain state `now`. Kinds: 0 none, 1 on-demand, 2 spot (lost if spot goes down).
            func expected(_ workLeft: Int, _ kind: Int, _ c: Int, from now: Int) -> Double {
                if workLeft <= 0 { return 0 }
                if workLeft < previousLowest { return Double(Self.missPenalty) }
                let row = previousOffset + (workLeft - previousLowest) * perRow
                var sum = 0.0
                let probabilities = transitions[now]
                for next in 0..<chainStates where probabilities[next] > 0 {
                    let base = row + next * perChain
                    let slot: Int
                    switch kind {
                    case 0: slot = 0
                    case 1: slot = 1 + c
                    default: slot = isUp[next] ? 1 + count + c : 0
                    }
                    sum += probabilities[next] * Double(values[base + slot])
                }
                return sum
            }
            let offset = offsets[ticksLeft]
            let lowest = lowests[ticksLeft]
            guard lowest <= work else { continue }
            for workLeft in lowest...work {
                let row = offset + (workLeft - lowest) * perRow
                let progress = work - workLeft
                let launch = model.runTick(progress: progress, changeoverLeft: model.changeoverUnits)
                let launchWorkLeft = work - launch.progress
                let launchC = changeoverIndex[launch.changeoverLeft]
                // Under the safety net's reserve the job may only run on-demand.
                let onDemandOnly = ticksLeft * tick - workLeft < key.safetyReserveUnits
                for now in 0..<chainStates {
                    let launchOnDemand =
                        ratio * Double(launch.busyUnits) + expected(launchWorkLeft, 1, launchC, from: now)
                    var base = onDemandOnly ? launchOnDemand : min(expected(workLeft, 0, 0, from: now), launchOnDemand)
                    if isUp[now] && !onDemandOnly {
                        base = min(base, Double(launch.busyUnits) + expected(launchWorkLeft, 2, launchC, from: now))
                    }
                    let slot = row + now * perChain
                    values[slot] = Float(base)
                    for c in 0..<count {
                        let step = model.runTick(progress: progress, changeoverLeft: changeoverValues[c])
                        let nextC = changeoverIndex[step.changeoverLeft]
                        let stayOnDemand =
                            ratio * Double(step.busyUnits) + expected(work - step.progress, 1, nextC, from: now)
                        values[slot + 1 + c] = Float(min(base, stayOnDemand))
                        if isUp[now] && !onDemandOnly {
                            let staySpot = Double(step.busyUnits) + expected(work - step.progress, 2, nextC, from: now)
                            values[slot + 1 + count + c] = Float(min(base, staySpot))
                        } else {
                            values[slot + 1 + count + c] = Float(base)
                        }
                    }
                }
            }
        }
        self.values = values
    }

    /// Expected cost (in spot-units) of acting optimally from this state.
    public func value(ticksLeft: Int, workLeft: Int, instance: Instance, chainState: Int) -> Double {
        let model = key.model
        if workLeft <= 0 { return 0 }
        guard ticksLeft >= 0, ticksLeft < layerOffsets.count else { return Double(Self.missPenalty) }
        let lowest = layerLowest[ticksLeft]
        guard workLeft >= lowest, workLeft <= model.workUnits else { return Double(Self.missPenalty) }
        let base = layerOffsets[ticksLeft] + (workLeft - lowest) * statesPerRow + chainState * statesPerChainState
        let count = changeoverValues.count
        switch instance {
        case .none: return Double(values[base])
        case .onDemand(let c): return Double(values[base + 1 + changeoverIndex[min(c, model.changeoverUnits)]])
        case .spot(let c):
            guard AvailabilityChain.isUp(chainState) else { return Double(values[base]) }
            return Double(values[base + 1 + count + changeoverIndex[min(c, model.changeoverUnits)]])
        }
    }

    /// Expected cost of one action now followed by optimal play, in spot-units.
    public func actionValue(
        ticksLeft: Int, workLeft: Int, instance: Instance, chainState: Int, action: PlanAction
    ) -> Double {
        let model = key.model
        let up = AvailabilityChain.isUp(chainState)
        let changeover: Int
        let onSpot: Bool
        switch (action, instance) {
        case (.wait, _):
            return expectedNext(ticksLeft: ticksLeft, workLeft: workLeft, instance: .none, from: chainState)
        case (.continueSpot, .spot(let c)):
            guard up else { return Double(Self.missPenalty) }
            (changeover, onSpot) = (c, true)
        case (.continueOnDemand, .onDemand(let c)): (changeover, onSpot) = (c, false)
        case (.launchSpot, _):
            guard up else { return Double(Self.missPenalty) }
            (changeover, onSpot) = (model.changeoverUnits, true)
        case (.launchOnDemand, _): (changeover, onSpot) = (model.changeoverUnits, false)
        default: return Double(Self.missPenalty)
        }
        let step = model.runTick(progress: model.workUnits - workLeft, changeoverLeft: changeover)
        let price = onSpot ? 1 : key.priceRatio
        let after: Instance =
            onSpot ? .spot(changeoverLeft: step.changeoverLeft) : .onDemand(changeoverLeft: step.changeoverLeft)
        return price * Double(step.busyUnits)
            + expectedNext(
                ticksLeft: ticksLeft, workLeft: model.workUnits - step.progress, instance: after, from: chainState)
    }

    func expectedNext(ticksLeft: Int, workLeft: Int, instance: Instance, from chainState: Int) -> Double {
        if workLeft <= 0 { return 0 }
        var sum = 0.0
        for (next, probability) in transitions[chainState].enumerated() where probability > 0 {
            sum +=
                probability * value(ticksLeft: ticksLeft - 1, workLeft: workLeft, instance: instance, chainState: next)
        }
        return sum
    }
}

/// The actions a plan weighs.
public enum PlanAction: Hashable, Sendable, CaseIterable {
    case wait, continueSpot, continueOnDemand, launchSpot, launchOnDemand
}
