// Policy cost benchmark: greedy, Uniform Progress and Spotwise against the offline optimum on the
// SkyNomad GCP H100 traces (C = 48 h, R = 60 h and 52 h, d = 0.2 h), single-zone (each zone on
// its own) and all-zones (all 13 as pools). Prints a markdown table for docs/benchmarks.md.
//
//   swift run -c release PolicyBenchmark [--starts N] [--seed S] [--traces DIR]
//
// Times are per window, single-threaded, and given as a ratio to greedy's time in the same run.
import Foundation
import SpotPolicy

struct Arguments {
    var starts = 100
    var seed: UInt64 = 1
    var traces = "Benchmarks/traces/skynomad-h100-gcp-16node"

    init() {
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--starts": starts = Int(value) ?? starts
            case "--seed": seed = UInt64(value) ?? seed
            case "--traces": traces = value
            default: fatalError("unknown flag \(flag); known: --starts N --seed S --traces DIR")
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
let policies: [any SpotPolicy] = [GreedyPolicy(), UniformProgressPolicy(), SpotwisePolicy()]

func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return String(format: "%.3f ms", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
}

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
        let windows = simulation.windows()
        let clock = ContinuousClock()
        var optima: [Double] = []
        let optimumTime = clock.measure {
            optima = windows.map {
                OmniscientPlanner(pools: experiments[$0.experiment], model: model).minimumCost(startTick: $0.startTick)
            }
        }
        var baseline: Duration?
        for policy in policies {
            var outcomes: [WindowOutcome] = []
            let time = clock.measure {
                outcomes = windows.map {
                    TraceReplayer(pools: experiments[$0.experiment], model: model).replay(
                        policy, startTick: $0.startTick)
                }
            }
            baseline = baseline ?? time
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
    }
}
