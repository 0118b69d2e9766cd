// Per-window breakdown of a policy's worst windows against the offline optimum (--diagnose N).
import Foundation
import SpotPolicy
import Synchronization

/// Wraps a policy and remembers where the job ran each tick (S spot, O on-demand, . idle).
final class RecordingPolicy: SpotPolicy {
    let inner: any SpotPolicy
    let placements = Mutex<[Character]>([])
    /// Per tick: the pools' learned hazards and the policy's reason (printed for the worst window).
    let reasons = Mutex<[String]>([])

    init(_ inner: any SpotPolicy) { self.inner = inner }

    var name: String { inner.name }

    func decide(_ context: DecisionContext) -> PolicyChoice {
        let choice = inner.decide(context)
        let placement: Character =
            switch choice.decision {
            case .spot: "S"
            case .onDemand: "O"
            case .wait: "."
            case .keepGoing: context.current.map { $0.market == .spot ? "S" : "O" } ?? "."
            }
        placements.withLock { $0.append(placement) }
        let hazards = context.pools.map { pool in
            let chain = AvailabilityChain(history: pool.history)
            return (0..<AvailabilityChain.states).map { String(format: "%.3g", chain.hazard($0)) }.joined(
                separator: "/")
        }
        let slack = SafetyNet.slackSeconds(context) / 60
        reasons.withLock {
            $0.append(
                String(format: "slack %.0f min, ", slack)
                    + "hazards \(hazards.joined(separator: " ")): \(choice.reason)")
        }
        return choice
    }
}

/// "S12 .3 O40": each run of the same character with its length.
func runLengths(_ characters: [Character]) -> String {
    var parts: [String] = []
    var index = 0
    while index < characters.count {
        var end = index
        while end < characters.count && characters[end] == characters[index] { end += 1 }
        parts.append("\(characters[index])\(end - index)")
        index = end
    }
    return parts.joined(separator: " ")
}

func diagnosis(
    policy: any SpotPolicy, setting: String, windows: [PolicySimulation.Window], experiments: [[PoolSeries]],
    model: ExecutionModel, outcomes: [WindowOutcome], optima: [Double], count: Int
) -> String {
    let worst = outcomes.indices.sorted { outcomes[$0].cost / optima[$0] > outcomes[$1].cost / optima[$1] }
        .prefix(count)
    let tickHours = Double(model.tickSeconds) / 3600
    var lines = [
        "", "### \(policy.name): worst windows, \(setting)", "",
        "| pool | start | ratio | who | cost | spot h | on-demand h | idle h | changeovers | pool spot share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    var timelines: [String] = []
    for index in worst {
        let window = windows[index]
        let pools = experiments[window.experiment]
        let outcome = outcomes[index]
        let schedule = OmniscientPlanner(pools: pools, model: model).optimalSchedule(startTick: window.startTick)
        let name = pools.count == 1 ? pools[0].name : "all \(pools.count)"
        let span = window.startTick..<(window.startTick + model.deadlineTicks)
        let share = pools.map { pool in Double(span.filter { pool.available[$0] }.count) / Double(span.count) }
        let shareText = pools.count == 1 ? String(format: "%.0f%%", share[0] * 100) : "-"
        let idle = outcome.finishSeconds - outcome.spotSeconds - outcome.onDemandSeconds
        lines.append(
            "| \(name) | \(window.startTick) | "
                + String(format: "%.3f", outcome.cost / optima[index])
                + " | \(policy.name) | "
                + String(
                    format: "%.0f | %.1f | %.1f | %.1f", outcome.cost, outcome.spotSeconds / 3600,
                    outcome.onDemandSeconds / 3600, idle / 3600)
                + " | \(outcome.changeovers) (\(outcome.preemptions) preempted) | \(shareText) |")
        let spotTicks = schedule.placements.filter { if case .spot = $0 { true } else { false } }.count
        let onDemandTicks = schedule.placements.filter { $0 == .onDemand }.count
        let idleTicks = schedule.placements.filter { $0 == .idle }.count
        lines.append(
            "| | | | omniscient | "
                + String(
                    format: "%.0f | %.1f | %.1f | %.1f", schedule.cost, Double(spotTicks) * tickHours,
                    Double(onDemandTicks) * tickHours, Double(idleTicks) * tickHours) + " | \(schedule.launches) | |")
        if pools.count == 1 {
            let recorder = RecordingPolicy(policy)
            _ = TraceReplayer(pools: pools, model: model).replay(recorder, startTick: window.startTick)
            let optimum: [Character] = schedule.placements.map {
                switch $0 {
                case .idle: "."
                case .spot: "S"
                case .onDemand: "O"
                }
            }
            timelines += [
                "\(name) @\(window.startTick):",
                "  spot      \(runLengths(span.map { pools[0].available[$0] ? "+" : "-" }))",
                "  \(policy.name)  \(runLengths(recorder.placements.withLock { $0 }))",
                "  optimum   \(runLengths(optimum))",
            ]
            if index == worst.first, ProcessInfo.processInfo.environment["POLICY_TRACE"] != nil {
                let reasons = recorder.reasons.withLock { $0 }
                let placements = recorder.placements.withLock { $0 }
                for tick in reasons.indices {
                    let spot = pools[0].available[window.startTick + tick] ? "+" : "-"
                    let best = tick < optimum.count ? optimum[tick] : " "
                    timelines.append("    \(tick) \(spot) \(placements[tick]) opt \(best) \(reasons[tick])")
                }
            }
        }
    }
    return (lines + [""] + timelines).joined(separator: "\n")
}
