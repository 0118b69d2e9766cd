/// Sees the offline optimum's dynamic program improve a state, so that its schedule can be traced
/// back. The planner is generic over it; `NoOptimumRecorder` keeps `minimumCost` bare.
protocol OptimumRecorder {
    mutating func begin(ticks: Int, layerSize: Int, changeoverCount: Int)
    /// State `index` after tick `tick` got cheaper, reached from state `source` before that tick.
    mutating func improve(tick: Int, index: Int, from source: Int, launched: Bool)
    /// The job finished during tick `tick` more cheaply than before, in `state`.
    mutating func finish(tick: Int, from source: Int, state: Int, launched: Bool)
}

struct NoOptimumRecorder: OptimumRecorder {
    @inline(__always) mutating func begin(ticks: Int, layerSize: Int, changeoverCount: Int) {}
    @inline(__always) mutating func improve(tick: Int, index: Int, from source: Int, launched: Bool) {}
    @inline(__always) mutating func finish(tick: Int, from source: Int, state: Int, launched: Bool) {}
}

/// What the offline optimum does in one window, tick by tick: for diagnosing where a policy loses
/// money against it (`PolicyBenchmark --diagnose`). Memory grows with ticks x progress x states,
/// so it is for single windows, not for whole benchmarks.
public struct OptimalSchedule: Sendable {
    /// Where the job runs during each tick until it finishes.
    public enum Placement: Hashable, Sendable {
        case idle
        case spot(pool: Int)
        case onDemand
    }

    public var cost: Double
    public var placements: [Placement]
    /// Ticks in which the optimum started a new instance (each pays a changeover).
    public var launches: Int
}

struct ScheduleRecorder: OptimumRecorder {
    var layerSize = 0
    var changeoverCount = 1
    /// Per tick, per state after it: the state before it, negated minus one when launched.
    var parents: [[Int32]] = []
    var finalTick = -1
    var finalSource = 0
    var finalState = 0
    var finalLaunched = false

    mutating func begin(ticks: Int, layerSize: Int, changeoverCount: Int) {
        self.layerSize = layerSize
        self.changeoverCount = changeoverCount
        parents = Array(repeating: [], count: ticks)
    }

    mutating func improve(tick: Int, index: Int, from source: Int, launched: Bool) {
        if parents[tick].isEmpty { parents[tick] = Array(repeating: 0, count: layerSize) }
        parents[tick][index] = launched ? Int32(-source - 1) : Int32(source)
    }

    mutating func finish(tick: Int, from source: Int, state: Int, launched: Bool) {
        (finalTick, finalSource, finalState, finalLaunched) = (tick, source, state, launched)
    }

    func placement(ofState state: Int, pools: Int) -> OptimalSchedule.Placement {
        guard state > 0 else { return .idle }
        let mode = (state - 1) / changeoverCount
        return mode < pools ? .spot(pool: mode) : .onDemand
    }

    func schedule(cost: Double, pools: Int, stateCount: Int) -> OptimalSchedule {
        guard finalTick >= 0 else { return OptimalSchedule(cost: cost, placements: [], launches: 0) }
        var placements = [placement(ofState: finalState, pools: pools)]
        var launches = finalLaunched ? 1 : 0
        var index = finalSource
        for tick in stride(from: finalTick - 1, through: 0, by: -1) {
            placements.append(placement(ofState: index % stateCount, pools: pools))
            let parent = Int(parents[tick][index])
            if parent < 0 { launches += 1 }
            index = parent < 0 ? -parent - 1 : parent
        }
        return OptimalSchedule(cost: cost, placements: placements.reversed(), launches: launches)
    }
}

extension OmniscientPlanner {
    /// The optimum's cost and what it does each tick (one of the optimal schedules).
    public func optimalSchedule(startTick: Int) -> OptimalSchedule {
        var recorder = ScheduleRecorder()
        let cost = solve(startTick: startTick, recorder: &recorder)
        let changeovers = model.changeoverSteps.values.count
        return recorder.schedule(cost: cost, pools: pools.count, stateCount: 1 + (pools.count + 1) * changeovers)
    }
}
