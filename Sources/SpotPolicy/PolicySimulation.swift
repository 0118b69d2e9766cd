import SpotwiseCore

/// Summary statistics of one measure over many windows.
public struct Distribution: Hashable, Sendable, Codable {
    public var mean: Double
    public var p50: Double
    public var p95: Double
    public var max: Double

    public init(_ values: [Double]) {
        guard !values.isEmpty else {
            self.init(mean: .nan, p50: .nan, p95: .nan, max: .nan)
            return
        }
        let sorted = values.sorted()
        func percentile(_ q: Double) -> Double {
            // Nearest rank, so p95 is a value that actually occurred.
            let rank = Int((q * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
        }
        self.init(
            mean: sorted.reduce(0, +) / Double(sorted.count), p50: percentile(0.5), p95: percentile(0.95),
            max: sorted.last!)
    }

    public init(mean: Double, p50: Double, p95: Double, max: Double) {
        self.mean = mean
        self.p50 = p50
        self.p95 = p95
        self.max = max
    }
}

/// One policy's results over every window of a simulation.
public struct PolicySummary: Hashable, Sendable, Codable {
    public var costOverOnDemand: Distribution
    public var costOverOptimum: Distribution
    public var deadlineMisses: Int
    public var spotHours: Distribution
    public var changeovers: Distribution
    public var windows: Int

    enum CodingKeys: String, CodingKey {
        case costOverOnDemand = "cost_over_on_demand"
        case costOverOptimum = "cost_over_optimum"
        case deadlineMisses = "deadline_misses"
        case spotHours = "spot_hours"
        case changeovers
        case windows
    }
}

/// A set of replays: the same windows for every policy, each compared with all-on-demand and with
/// the offline optimum of that window.
public struct PolicySimulation: Sendable {
    /// Each experiment is a set of pools replayed together (one pool, or all pools at once).
    public var experiments: [[PoolSeries]]
    public var model: ExecutionModel
    public var startsPerExperiment: Int
    public var seed: UInt64

    public init(experiments: [[PoolSeries]], model: ExecutionModel, startsPerExperiment: Int, seed: UInt64) {
        self.experiments = experiments
        self.model = model
        self.startsPerExperiment = startsPerExperiment
        self.seed = seed
    }

    public struct Window: Sendable {
        public var experiment: Int
        public var startTick: Int
    }

    /// Start ticks, drawn without replacement from the valid starts with a seeded generator (all of
    /// them when there are fewer), sorted.
    public func windows() -> [Window] {
        var windows: [Window] = []
        for (index, pools) in experiments.enumerated() {
            let replayer = TraceReplayer(pools: pools, model: model)
            var starts = Array(replayer.validStarts)
            var generator = SeededGenerator(seed: seed &+ UInt64(index))
            if starts.count > startsPerExperiment {
                for i in 0..<startsPerExperiment {
                    let j = Int.random(in: i..<starts.count, using: &generator)
                    starts.swapAt(i, j)
                }
                starts = Array(starts.prefix(startsPerExperiment)).sorted()
            }
            windows += starts.map { Window(experiment: index, startTick: $0) }
        }
        return windows
    }

    /// Runs every policy on every window (windows in parallel) and summarises.
    public func run(policies: [any SpotPolicy], includeOptimum: Bool) async -> [String: PolicySummary] {
        let windows = windows()
        let model = model
        let experiments = experiments
        let chunks = Swift.max(1, Swift.min(windows.count, 16))
        var outcomes = [[WindowOutcome]](repeating: [], count: windows.count)
        var optima = [Double](repeating: .nan, count: windows.count)
        var onDemand = [Double](repeating: .nan, count: windows.count)
        await withTaskGroup(of: [(Int, [WindowOutcome], Double, Double)].self) { group in
            for chunk in 0..<chunks {
                group.addTask {
                    var results: [(Int, [WindowOutcome], Double, Double)] = []
                    // Contiguous ranges: neighbouring windows share learned models, so plans are reused.
                    let range = (windows.count * chunk / chunks)..<(windows.count * (chunk + 1) / chunks)
                    for index in range {
                        let window = windows[index]
                        let pools = experiments[window.experiment]
                        let replayer = TraceReplayer(pools: pools, model: model)
                        let perPolicy = policies.map { replayer.replay($0, startTick: window.startTick) }
                        let baseline = replayer.replay(OnDemandPolicy(), startTick: window.startTick).cost
                        let optimum =
                            includeOptimum
                            ? OmniscientPlanner(pools: pools, model: model).minimumCost(startTick: window.startTick)
                            : .nan
                        results.append((index, perPolicy, optimum, baseline))
                    }
                    return results
                }
            }
            for await results in group {
                for (index, perPolicy, optimum, baseline) in results {
                    outcomes[index] = perPolicy
                    optima[index] = optimum
                    onDemand[index] = baseline
                }
            }
        }
        var summaries: [String: PolicySummary] = [:]
        for (policyIndex, policy) in policies.enumerated() {
            let results = outcomes.map { $0[policyIndex] }
            summaries[policy.name] = PolicySummary(
                costOverOnDemand: Distribution(results.indices.map { results[$0].cost / onDemand[$0] }),
                costOverOptimum: Distribution(results.indices.map { results[$0].cost / optima[$0] }),
                deadlineMisses: results.filter { !$0.metDeadline }.count,
                spotHours: Distribution(results.map { $0.spotSeconds / 3600 }),
                changeovers: Distribution(results.map { Double($0.changeovers) }),
                windows: results.count)
        }
        if includeOptimum {
            summaries["omniscient"] = PolicySummary(
                costOverOnDemand: Distribution(optima.indices.map { optima[$0] / onDemand[$0] }),
                costOverOptimum: Distribution(optima.map { _ in 1 }),
                deadlineMisses: optima.filter { !$0.isFinite }.count,
                spotHours: Distribution(mean: .nan, p50: .nan, p95: .nan, max: .nan),
                changeovers: Distribution(mean: .nan, p50: .nan, p95: .nan, max: .nan),
                windows: optima.count)
        }
        return summaries
    }
}

/// The policies `spotwise simulate --policy` knows, by name.
public enum PolicyCatalog {
    public static let names = ["on-demand", "greedy", "uniform-progress", "spotwise", "omniscient"]

    public static func policy(named name: String) -> (any SpotPolicy)? {
        switch name {
        case "on-demand": OnDemandPolicy()
        case "greedy": GreedyPolicy()
        case "uniform-progress": UniformProgressPolicy()
        case "spotwise": SpotwisePolicy()
        default: nil
        }
    }
}
