import SpotwiseCore

/// What one policy did on one window of a trace.
public struct WindowOutcome: Hashable, Sendable {
    public var cost: Double
    public var metDeadline: Bool
    public var finishSeconds: Double
    public var spotSeconds: Double
    public var onDemandSeconds: Double
    /// Instances started (each pays a changeover): on spot and on on-demand.
    public var spotStarts: Int
    public var onDemandStarts: Int
    public var preemptions: Int

    public var changeovers: Int { spotStarts + onDemandStarts }
}

/// Replays spot traces through a policy: the SAME `SpotPolicy.decide` the coordinator calls,
/// once per tick, under the shared `ExecutionModel`.
public struct TraceReplayer: Sendable {
    public var pools: [PoolSeries]
    public var model: ExecutionModel
    /// Ticks of history before a window's start that policies may learn from.
    public var lookbackTicks: Int
    /// An experiment, never a policy's real input: policies learn from the window's own future
    /// availability (then the day before its start, so that the run in progress has its true
    /// age) instead of the lookback. It bounds what a better-learned model of the same form
    /// could gain (`PolicyBenchmark --oracle-statistics yes`).
    public var oracleStatistics: Bool

    public init(
        pools: [PoolSeries], model: ExecutionModel, lookbackTicks: Int = 7 * 24 * 6, oracleStatistics: Bool = false
    ) {
        self.pools = pools
        self.model = model
        self.lookbackTicks = lookbackTicks
        self.oracleStatistics = oracleStatistics
    }

    /// Ticks every pool covers.
    public var traceTicks: Int { pools.map(\.available.count).min() ?? 0 }

    /// Start ticks at which a whole window fits in the trace.
    public var validStarts: Range<Int> { 0..<max(0, traceTicks - model.deadlineTicks + 1) }

    public func replay(_ policy: any SpotPolicy, startTick: Int) -> WindowOutcome {
        let unitSeconds = Double(model.unitSeconds)
        var histories = pools.map { pool in
            guard oracleStatistics else {
                return AvailabilityHistory(observations: pool.available[max(0, startTick - lookbackTicks)..<startTick])
            }
            let window = pool.available[startTick..<min(pool.available.count, startTick + model.deadlineTicks)]
            return AvailabilityHistory(observations: window + pool.available[max(0, startTick - 144)..<startTick])
        }
        var progress = 0
        var instance: RunningInstance?
        var changeoverLeft = 0
        var outcome = WindowOutcome(
            cost: 0, metDeadline: false, finishSeconds: 0, spotSeconds: 0, onDemandSeconds: 0, spotStarts: 0,
            onDemandStarts: 0, preemptions: 0)
        let onDemandPool = pools.cheapestOnDemandPool

        for tick in 0..<model.deadlineTicks {
            let traceTick = startTick + tick
            // A spot instance whose pool has no capacity this tick is gone before anyone decides.
            if let running = instance, running.market == .spot, !pools[running.pool].available[traceTick] {
                instance = nil
                outcome.preemptions += 1
            }
            let context = DecisionContext(
                totalWorkSeconds: Double(model.workUnits) * unitSeconds,
                remainingWorkSeconds: Double(model.workUnits - progress) * unitSeconds,
                elapsedSeconds: Double(tick * model.tickUnits) * unitSeconds,
                deadlineSeconds: Double(model.deadlineUnits) * unitSeconds,
                tickSeconds: Double(model.tickSeconds), changeoverSeconds: Double(model.changeoverUnits) * unitSeconds,
                nodes: model.nodes,
                current: instance.map {
                    RunningInstance(
                        pool: $0.pool, market: $0.market, changeoverLeftSeconds: Double(changeoverLeft) * unitSeconds)
                },
                pools: pools.indices.map { index in
                    PoolState(
                        name: pools[index].name, spotPricePerHour: pools[index].spotPrices[traceTick],
                        onDemandPricePerHour: pools[index].onDemandPricePerHour,
                        spotAvailableNow: pools[index].available[traceTick], history: histories[index])
                })
            let target: (pool: Int, market: Market)?
            switch policy.decide(context).decision {
            case .keepGoing: target = instance.map { ($0.pool, $0.market) }
            case .wait: target = nil
            case .spot(let pool): target = pools[pool].available[traceTick] ? (pool, .spot) : nil
            case .onDemand(let pool): target = (pool, .onDemand)
            }
            if let target {
                if instance?.pool != target.pool || instance?.market != target.market {
                    instance = RunningInstance(pool: target.pool, market: target.market, changeoverLeftSeconds: 0)
                    changeoverLeft = model.changeoverUnits
                    if target.market == .spot {
                        outcome.spotStarts += 1
                    } else {
                        outcome.onDemandStarts += 1
                    }
                }
                let step = model.runTick(progress: progress, changeoverLeft: changeoverLeft)
                let price =
                    target.market == .spot
                    ? pools[target.pool].spotPrices[traceTick] : pools[target.pool].onDemandPricePerHour
                outcome.cost += model.cost(units: step.busyUnits, pricePerNodeHour: price)
                let busySeconds = Double(step.busyUnits) * unitSeconds
                if target.market == .spot {
                    outcome.spotSeconds += busySeconds
                } else {
                    outcome.onDemandSeconds += busySeconds
                }
                progress = step.progress
                changeoverLeft = step.changeoverLeft
                if progress >= model.workUnits {
                    outcome.metDeadline = true
                    outcome.finishSeconds = Double(tick * model.tickUnits + step.busyUnits) * unitSeconds
                    return outcome
                }
            } else {
                instance = nil
            }
            for index in pools.indices { histories[index].record(pools[index].available[traceTick]) }
        }
        // Missed: finish on on-demand after the deadline so costs stay comparable.
        let onDemandChangeover = instance?.market == .onDemand ? changeoverLeft : model.changeoverUnits
        let lateUnits = onDemandChangeover + model.workUnits - progress
        outcome.cost += model.cost(units: lateUnits, pricePerNodeHour: pools[onDemandPool].onDemandPricePerHour)
        outcome.onDemandSeconds += Double(lateUnits) * unitSeconds
        outcome.finishSeconds = Double(model.deadlineUnits + lateUnits) * unitSeconds
        return outcome
    }
}
