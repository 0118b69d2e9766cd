import ArgumentParser
import Foundation
import SpotPolicy

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay spot availability traces through spot policies and compare their cost.",
        discussion: """
            Each window starts at a random tick (seeded) and runs a job of --job-hours of compute
            against a deadline of --deadline-hours, paying --changeover-hours on every new instance.
            Several trace files are several pools the job may use; --separately replays each trace
            on its own instead and pools the windows. Prices come from the trace where it has them
            (SkyNomad's metadata.price_info), else from the flags. Costs are divided by the cost of
            all on-demand and by the offline optimum of the same window.
            """
    )

    @Option(name: .customLong("trace"), help: "A JSON trace file (repeat for several pools).")
    var traces: [String] = []

    @Option(help: "Policies to compare, comma-separated: \(PolicyCatalog.names.joined(separator: ", ")), or all.")
    var policy: String = "all"

    @Option(help: "How to read 'data': preempted (1 = unavailable) or available (count of instances).")
    var convention: String = TraceConvention.preempted.rawValue

    @Option(help: "Compute the job needs, in hours.") var jobHours: Double = 48
    @Option(help: "Deadline after the start, in hours.") var deadlineHours: Double = 60
    @Option(help: "Changeover delay on every new instance, in hours.") var changeoverHours: Double = 0.2
    @Option(help: "Gang size: spot counts only when this many nodes are available.") var nodes: Int = 1
    @Option(help: "Start points per experiment.") var starts: Int = 100
    @Option(help: "Seed for choosing start points.") var seed: UInt64 = 1
    @Option(help: "Spot price per node-hour in USD, for traces without prices.") var spotPrice: Double?
    @Option(help: "On-demand price per node-hour in USD, for traces without prices.") var onDemandPrice: Double?
    @Flag(help: "Replay each trace as its own single pool.") var separately = false
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        guard !traces.isEmpty else { throw ValidationError("give at least one --trace FILE") }
        guard TraceConvention(rawValue: convention) != nil else {
            throw ValidationError("--convention must be preempted or available, not '\(convention)'")
        }
        let requested = policy.split(separator: ",").map(String.init)
        guard policy == "all" || requested.allSatisfy(PolicyCatalog.names.contains) else {
            throw ValidationError(
                "unknown policy '\(policy)'; known: \(PolicyCatalog.names.joined(separator: ", ")), all")
        }
        guard jobHours > 0, deadlineHours > 0, changeoverHours >= 0 else {
            throw ValidationError("--job-hours and --deadline-hours must be above 0, --changeover-hours at least 0")
        }
        guard jobHours + changeoverHours <= deadlineHours else {
            throw ValidationError(
                "the job cannot meet its deadline even on on-demand: \(jobHours) h + \(changeoverHours) h changeover > \(deadlineHours) h"
            )
        }
        guard nodes >= 1, starts >= 1 else { throw ValidationError("--nodes and --starts must be at least 1") }
    }

    func run() async throws {
        let simulation = try simulation()
        let names = policy == "all" ? PolicyCatalog.names : policy.split(separator: ",").map(String.init)
        let policies = names.compactMap(PolicyCatalog.policy(named:))
        let summaries = await simulation.run(policies: policies, includeOptimum: true)
        let shown = names.filter { summaries[$0] != nil }
        print(json ? Self.json(summaries, names: shown) : Self.table(summaries, names: shown))
    }

    /// The traces loaded as pools, and the windows to replay.
    func simulation() throws -> PolicySimulation {
        let convention = TraceConvention(rawValue: convention)!
        var traces: [SpotTrace] = []
        var pools: [PoolSeries] = []
        do {
            for path in self.traces {
                let trace = try SpotTrace.read(contentsOf: URL(fileURLWithPath: path), convention: convention)
                traces.append(trace)
                pools.append(
                    try PoolSeries(trace: trace, nodes: nodes, spotPrice: spotPrice, onDemandPrice: onDemandPrice))
            }
        } catch {
            throw ValidationError("\(error)")
        }
        let ticks = Set(traces.map(\.tickSeconds))
        guard ticks.count == 1, let tickSeconds = ticks.first else {
            throw ValidationError("all traces must have the same metadata.gap_seconds; found \(ticks.sorted())")
        }
        let model = ExecutionModel(
            tickSeconds: tickSeconds, workSeconds: jobHours * 3600, deadlineSeconds: deadlineHours * 3600,
            changeoverSeconds: changeoverHours * 3600, nodes: nodes)
        let simulation = PolicySimulation(
            experiments: separately ? pools.map { [$0] } : [pools], model: model, startsPerExperiment: starts,
            seed: seed)
        guard !simulation.windows().isEmpty else {
            throw ValidationError("the traces are shorter than one deadline (\(deadlineHours) h); no window fits")
        }
        return simulation
    }

    static func json(_ summaries: [String: PolicySummary], names: [String]) -> String {
        struct Output: Encodable { var policies: [String: PolicySummary] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let filtered = summaries.filter { names.contains($0.key) }
        return String(decoding: (try? encoder.encode(Output(policies: filtered))) ?? Data(), as: UTF8.self)
    }

    static func table(_ summaries: [String: PolicySummary], names: [String]) -> String {
        func f(_ value: Double) -> String { value.isNaN ? "-" : String(format: "%.3f", value) }
        var lines = [
            "policy            cost/on-demand (mean p50 p95 max)   cost/optimum (mean p50 p95 max)   misses  spot h (mean)  changeovers (mean)"
        ]
        for name in names {
            guard let s = summaries[name] else { continue }
            let c = s.costOverOnDemand
            let o = s.costOverOptimum
            lines.append(
                name.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + "\(f(c.mean)) \(f(c.p50)) \(f(c.p95)) \(f(c.max))".padding(
                        toLength: 36, withPad: " ", startingAt: 0)
                    + "\(f(o.mean)) \(f(o.p50)) \(f(o.p95)) \(f(o.max))".padding(
                        toLength: 34, withPad: " ", startingAt: 0)
                    + "\(s.deadlineMisses)/\(s.windows)".padding(toLength: 8, withPad: " ", startingAt: 0)
                    + f(s.spotHours.mean).padding(toLength: 15, withPad: " ", startingAt: 0) + f(s.changeovers.mean))
        }
        return lines.joined(separator: "\n")
    }
}
