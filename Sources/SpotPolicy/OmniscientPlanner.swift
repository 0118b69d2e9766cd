/// The exact offline optimum for a window of a trace: the least cost at which the job finishes
/// by its deadline, knowing the whole future. Used as the lower bound that policies are measured
/// against (`cost / optimum`).
///
/// A forward dynamic program over (tick, progress, instance, changeover left), under the same
/// `ExecutionModel` as the replayer. Instances are: none, spot in pool k, or on-demand in the pool
/// with the cheapest on-demand price (on-demand elsewhere costs more for the same progress, so it
/// is never better). Every state may drop its instance or launch any instance; launching costs
/// the same from every state with the same progress, so launches are relaxed once per progress
/// level. Progress below what the remaining time can still finish is pruned.
public struct OmniscientPlanner: Sendable {
    public var pools: [PoolSeries]
    public var model: ExecutionModel

    public init(pools: [PoolSeries], model: ExecutionModel) {
        self.pools = pools
        self.model = model
    }

    public func minimumCost(startTick: Int) -> Double {
        var recorder = NoOptimumRecorder()
        return solve(startTick: startTick, recorder: &recorder)
    }

    /// The dynamic program; `recorder` sees every improvement, so a schedule can be traced back
    /// (`OptimalSchedule`). With `NoOptimumRecorder` it compiles to the bare program.
    func solve<Recorder: OptimumRecorder>(startTick: Int, recorder: inout Recorder) -> Double {
        guard model.isFeasible else { return .infinity }
        let work = model.workUnits
        let tick = model.tickUnits
        let poolCount = pools.count
        let (changeoverValues, changeoverIndex) = model.changeoverSteps
        let changeoverCount = changeoverValues.count
        // State 0 is "no instance"; then spot per pool, then on-demand, each with every changeover value.
        let stateCount = 1 + (poolCount + 1) * changeoverCount
        let onDemandMode = poolCount
        let onDemandPool = pools.cheapestOnDemandPool
        let unitHours = Double(model.unitSeconds) / 3600 * Double(model.nodes)
        let onDemandPerUnit = pools[onDemandPool].onDemandPricePerHour * unitHours

        var current = [Double](repeating: .infinity, count: work * stateCount)
        var next = current
        current[0] = 0
        var best = Double.infinity
        recorder.begin(ticks: model.deadlineTicks, layerSize: work * stateCount, changeoverCount: changeoverCount)
        var spotPerUnit = [Double](repeating: 0, count: poolCount)
        var spotAvailable = [Bool](repeating: false, count: poolCount)

        for j in 0..<model.deadlineTicks {
            let traceTick = startTick + j
            for k in 0..<poolCount {
                spotAvailable[k] = pools[k].available[traceTick]
                spotPerUnit[k] = pools[k].spotPrices[traceTick] * unitHours
            }
            let lowest = max(0, work - (model.deadlineTicks - j) * tick)
            let highest = min(work - 1, j * tick)
            guard lowest <= highest else { break }
            let nextLowest = max(0, work - (model.deadlineTicks - j - 1) * tick)
            let nextHighest = min(work - 1, (j + 1) * tick)
            if nextLowest <= nextHighest {
                for index in (nextLowest * stateCount)..<((nextHighest + 1) * stateCount) { next[index] = .infinity }
            }

            func relax(_ progress: Int, _ state: Int, _ cost: Double, from source: Int, launched: Bool) {
                if progress >= work {
                    if cost < best {
                        best = cost
                        recorder.finish(tick: j, from: source, state: state, launched: launched)
                    }
                } else if progress >= nextLowest {
                    let index = progress * stateCount + state
                    if cost < next[index] {
                        next[index] = cost
                        recorder.improve(tick: j, index: index, from: source, launched: launched)
                    }
                }
            }

            for p in lowest...highest {
                let row = p * stateCount
                var cheapest = current[row]
                var cheapestState = 0
                for mode in 0...poolCount {
                    let isSpot = mode < poolCount
                    if isSpot && !spotAvailable[mode] {
                        // Preempted: these states hold no instance now.
                        for c in 0..<changeoverCount where current[row + 1 + mode * changeoverCount + c] < cheapest {
                            cheapest = current[row + 1 + mode * changeoverCount + c]
                            cheapestState = 1 + mode * changeoverCount + c
                        }
                        continue
                    }
                    let perUnit = isSpot ? spotPerUnit[mode] : onDemandPerUnit
                    for c in 0..<changeoverCount {
                        let state = 1 + mode * changeoverCount + c
                        let cost = current[row + state]
                        guard cost < .infinity else { continue }
                        if cost < cheapest {
                            cheapest = cost
                            cheapestState = state
                        }
                        let step = model.runTick(progress: p, changeoverLeft: changeoverValues[c])
                        relax(
                            step.progress, 1 + mode * changeoverCount + changeoverIndex[step.changeoverLeft],
                            cost + Double(step.busyUnits) * perUnit, from: row + state, launched: false)
                    }
                }
                guard cheapest < .infinity else { continue }
                relax(p, 0, cheapest, from: row + cheapestState, launched: false)
                // Launch anything, from the cheapest state at this progress.
                let launched = model.runTick(progress: p, changeoverLeft: model.changeoverUnits)
                let launchedState = changeoverIndex[launched.changeoverLeft]
                for mode in 0...poolCount where mode == onDemandMode || spotAvailable[mode] {
                    let perUnit = mode < poolCount ? spotPerUnit[mode] : onDemandPerUnit
                    relax(
                        launched.progress, 1 + mode * changeoverCount + launchedState,
                        cheapest + Double(launched.busyUnits) * perUnit, from: row + cheapestState, launched: true)
                }
            }
            swap(&current, &next)
        }
        return best
    }
}
