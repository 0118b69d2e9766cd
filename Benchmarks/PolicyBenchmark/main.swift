// Policy cost benchmark: greedy, Uniform Progress and Spotwise against the offline optimum on the
// SkyNomad GCP H100 traces (C = 48 h, R = 60 h and 52 h, d = 0.2 h), single-zone (each zone on
// its own) and all-zones (all 13 as pools). Prints a markdown table for docs/benchmarks.md.
//
//   swift run -c release PolicyBenchmark [--starts N] [--seed S] [--traces DIR] [--policies a,b]
//       [--split tune|holdout|all] [--diagnose N] [--zone-table no] [--oracle-statistics yes]
//
// --policies picks some of greedy, uniform-progress and spotwise (default all three), in the
// order given, or alternatives of spotwise (spotwise-LABEL, `SpotwiseTuning.alternatives`).
// --split keeps the windows of one part of the trace timeline, chosen before any tuning: "tune"
// the windows that start in its first half (start tick < trace ticks / 2), "holdout" those that
// start in its second half, "all" every window (the default, and the headline table). The windows
// are drawn as before and then filtered, so tune + holdout = all. Policies still learn from the
// week before each window's start (online learning); holdout windows never start in tune's half.
// --diagnose N prints, per setting, the N windows where the last policy in --policies pays most
// over the optimum: what each did (spot, on-demand and idle hours, changeovers) and, run-length
// coded per tick, where each ran (S spot, O on-demand, . idle) and when the pool had spot (+/-).
// --zone-table no leaves out the per-zone table (for quick loops).
// --oracle-statistics yes is an experiment: policies learn from each window's own future
// availability instead of the week before it (what a perfectly learned model could gain).
//
// Times are per window, single-threaded, and given as a ratio to greedy's time in the same run.
import Foundation
import SpotPolicy

struct Arguments {
    var starts = 100
    var seed: UInt64 = 1
    var traces = "Benchmarks/traces/skynomad-h100-gcp-16node"
    var policies = ["greedy", "uniform-progress", "spotwise"]
    var split = "all"
    var diagnose = 0
    var zoneTable = true
    var oracleStatistics = false

    init() {
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--starts": starts = Int(value) ?? starts
            case "--seed": seed = UInt64(value) ?? seed
            case "--traces": traces = value
            case "--policies": policies = value.split(separator: ",").map(String.init)
            case "--split":
                guard ["tune", "holdout", "all"].contains(value) else { fatalError("--split is tune, holdout or all") }
                split = value
            case "--diagnose": diagnose = Int(value) ?? diagnose
            case "--zone-table": zoneTable = value != "no"
            case "--oracle-statistics": oracleStatistics = value == "yes"
            default:
                fatalError(
                    "unknown flag \(flag); known: --starts N --seed S --traces DIR --policies a,b --split S --diagnose N --zone-table no"
                )
            }
        }
    }
}

let arguments = Arguments()
let directory = URL(fileURLWithPath: arguments.traces)
let files =
    (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil))?
    .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent } ?? []
guard !files.isEmpty else {
    print("no traces in \(arguments.traces)")
    exit(1)
}
let pools = try files.map {
    try PoolSeries(
        trace: SpotTrace.read(contentsOf: $0, convention: .preempted), nodes: 1, spotPrice: nil, onDemandPrice: nil)
}
let known: [any SpotPolicy] =
    [GreedyPolicy(), UniformProgressPolicy(), SpotwisePolicy()]
    + SpotwiseTuning.alternatives.map { SpotwisePolicy(tuning: $0) }
let policies = arguments.policies.compactMap { name in known.first { $0.name == name } }
guard policies.count == arguments.policies.count else {
    print("--policies: the known policies are \(known.map(\.name).joined(separator: ", "))")
    exit(1)
}

let traceTicks = pools.map(\.available.count).min() ?? 0
func inSplit(_ startTick: Int) -> Bool {
    switch arguments.split {
    case "tune": startTick < traceTicks / 2
    case "holdout": startTick >= traceTicks / 2
    default: true
    }
}
var diagnoses: [String] = []

func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return String(format: "%.3f ms", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
}

print("split: \(arguments.split) (trace ticks \(traceTicks); tune = windows starting before tick \(traceTicks / 2))")
print("")
print("| setting | deadline | windows | policy | cost/optimum mean | p95 | misses | time/window vs greedy |")
print("|---|---|---|---|---|---|---|---|")
for deadline in [60.0, 52.0] {
    let model = ExecutionModel(
        tickSeconds: 600, workSeconds: 48 * 3600, deadlineSeconds: deadline * 3600, changeoverSeconds: 0.2 * 3600,
        nodes: 1)
    for (setting, experiments) in [("single-zone", pools.map { [$0] }), ("all-zones", [pools])] {
        // All-zones gets as many windows as single-zone has in total: starts per zone x zones.
        let starts = setting == "all-zones" ? arguments.starts * pools.count : arguments.starts
        let simulation = PolicySimulation(
            experiments: experiments, model: model, startsPerExperiment: starts, seed: arguments.seed)
        let windows = simulation.windows().filter { inSplit($0.startTick) }
        let clock = ContinuousClock()
        var optima: [Double] = []
        let optimumTime = clock.measure {
            optima = windows.map {
                OmniscientPlanner(pools: experiments[$0.experiment], model: model).minimumCost(startTick: $0.startTick)
            }
        }
        var baseline: Duration?
        var lastOutcomes: [WindowOutcome] = []
        for policy in policies {
            var outcomes: [WindowOutcome] = []
            let time = clock.measure {
                outcomes = windows.map {
                    TraceReplayer(
                        pools: experiments[$0.experiment], model: model, oracleStatistics: arguments.oracleStatistics
                    ).replay(
                        policy, startTick: $0.startTick)
                }
            }
            baseline = baseline ?? time
            lastOutcomes = outcomes
            let ratios = Distribution(outcomes.indices.map { outcomes[$0].cost / optima[$0] })
            let misses = outcomes.filter { !$0.metDeadline }.count
            let perWindow = time / windows.count
            print(
                "| \(setting) | \(Int(deadline)) h | \(windows.count) | \(policy.name) | "
                    + String(format: "%.3f | %.3f", ratios.mean, ratios.p95)
                    + " | \(misses) | \(String(format: "%.1fx", time / baseline!)) (\(milliseconds(perWindow))) |")
        }
        print(
            "| \(setting) | \(Int(deadline)) h | \(windows.count) | omniscient | 1.000 | 1.000 | 0 | "
                + "\(String(format: "%.1fx", optimumTime / baseline!)) (\(milliseconds(optimumTime / windows.count))) |"
        )
        if arguments.diagnose > 0, let policy = policies.last {
            diagnoses.append(
                diagnosis(
                    policy: policy, setting: "\(setting), \(Int(deadline)) h", windows: windows,
                    experiments: experiments, model: model, outcomes: lastOutcomes, optima: optima,
                    count: arguments.diagnose))
        }
    }
}
for text in diagnoses { print(text) }

if !arguments.zoneTable { exit(0) }

// Per zone, each policy's cost against all-on-demand of the same windows (R = 60 h, single-zone):
// a policy that tries spot should never cost much more than never trying it, least of all where
// spot is scarce.
print("")
print(
    "| zone | spot available | windows | " + policies.map { "\($0.name) / on-demand" }.joined(separator: " | ") + " |")
print("|---|---|---|" + policies.map { _ in "---|" }.joined())
let perZoneModel = ExecutionModel(
    tickSeconds: 600, workSeconds: 48 * 3600, deadlineSeconds: 60 * 3600, changeoverSeconds: 0.2 * 3600, nodes: 1)
for pool in pools.sorted(by: { $0.available.filter { $0 }.count < $1.available.filter { $0 }.count }) {
    let simulation = PolicySimulation(
        experiments: [[pool]], model: perZoneModel, startsPerExperiment: arguments.starts, seed: arguments.seed)
    let windows = simulation.windows().filter { inSplit($0.startTick) }
    let replayer = TraceReplayer(pools: [pool], model: perZoneModel)
    let onDemand = windows.map { replayer.replay(OnDemandPolicy(), startTick: $0.startTick).cost }
    let ratios = policies.map { policy in
        let costs = windows.map { replayer.replay(policy, startTick: $0.startTick).cost }
        return Distribution(costs.indices.map { costs[$0] / onDemand[$0] }).mean
    }
    let share = Double(pool.available.filter { $0 }.count) / Double(pool.available.count)
    print(
        "| \(pool.name) | \(String(format: "%.0f%%", share * 100)) | \(windows.count) | "
            + ratios.map { String(format: "%.3f", $0) }.joined(separator: " | ") + " |")
}
