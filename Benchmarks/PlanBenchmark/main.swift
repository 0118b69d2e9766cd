import Foundation
import SpotPolicy

// What one spot-policy decision costs as the deadline grows, up to the largest a spec accepts
// (90 days) and past it (jobs stored before the limit). The coordinator's settings: 5-minute
// decisions and changeovers, work assumed half the window, one pool with spot now. Each figure is
// the time of a first decision (which solves its plan) as a ratio of the 1-day decision in the
// same run, and the plan's size in values and bytes. Usage: PlanBenchmark [--rounds N]

let arguments = CommandLine.arguments
let rounds = arguments.firstIndex(of: "--rounds").flatMap { Int(arguments[$0 + 1]) } ?? 3
let day = 86_400.0

func context(deadline: Double) -> DecisionContext {
    DecisionContext(
        totalWorkSeconds: deadline / 2, remainingWorkSeconds: deadline / 2, elapsedSeconds: 0,
        deadlineSeconds: deadline, tickSeconds: 300, changeoverSeconds: 300, nodes: 1, current: nil,
        pools: [
            PoolState(
                name: "aws/us-east-1", spotPricePerHour: 0.9, onDemandPricePerHour: 3.06, spotAvailableNow: true,
                history: AvailabilityHistory())
        ])
}

/// Median seconds of a first decision (a fresh cache each round, so the plan is solved).
func firstDecision(deadline: Double) -> (seconds: Double, choice: PolicyChoice) {
    var times: [Double] = []
    var choice: PolicyChoice?
    for _ in 0..<rounds {
        let policy = SpotwisePolicy(cache: MarkovPlanCache(capacity: 1))
        let start = ContinuousClock.now
        choice = policy.decide(context(deadline: deadline))
        let elapsed = ContinuousClock.now - start
        times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    return (times.sorted()[times.count / 2], choice!)
}

let cases: [(String, Double)] = [
    ("1 d (baseline)", day), ("7 d", 7 * day), ("30 d", 30 * day), ("90 d (largest accepted)", 90 * day),
    ("365 d (stored before the limit)", 365 * day), ("10^15 d (stored before the limit)", 999_999_999_999_999 * day),
]
let baseline = firstDecision(deadline: day).seconds
print("| deadline | plan values | plan MB | grid factor | first decision vs 1 d | decision |")
print("|---|---|---|---|---|---|")
for (name, deadline) in cases {
    let horizon = min(deadline, PlanningResolution.maxHorizonSeconds)
    let (model, factor) = PlanningResolution.model(
        tickSeconds: 300, workSeconds: min(deadline / 2, horizon), deadlineSeconds: horizon, changeoverSeconds: 300,
        nodes: 1)
    let (seconds, choice) = firstDecision(deadline: deadline)
    let values = Int(model.planStateCount)
    let decision: String
    switch choice.decision {
    case .spot: decision = "spot"
    case .onDemand: decision = "on-demand"
    case .wait: decision = "wait"
    case .keepGoing: decision = "keep going"
    }
    print(
        "| \(name) | \(values) | \(String(format: "%.1f", Double(values) * 4 / 1_048_576)) | \(factor) | "
            + "\(String(format: "%.2f", seconds / baseline)) | \(decision) |")
}
// The same decisions on the exact plan (the budget raised to fit it): what coarsening changes.
print("")
print(
    "| deadline | exact plan values | exact: decision, expected cost | budgeted: grid factor, decision, expected cost |"
)
print("|---|---|---|---|")
let exactPolicy = SpotwisePolicy(cache: MarkovPlanCache(capacity: 1), maxPlanStates: 40_000_000)
for days in [1.0, 3, 5, 7] {
    let exact = exactPolicy.decide(context(deadline: days * day))
    let budgeted = SpotwisePolicy(cache: MarkovPlanCache(capacity: 1)).decide(context(deadline: days * day))
    let exactModel = ExecutionModel(
        tickSeconds: 300, workSeconds: days * day / 2, deadlineSeconds: days * day, changeoverSeconds: 300, nodes: 1)
    let factor =
        PlanningResolution.model(
            tickSeconds: 300, workSeconds: days * day / 2, deadlineSeconds: days * day, changeoverSeconds: 300, nodes: 1
        ).stepsPerTick
    print("| \(Int(days)) d | \(Int(exactModel.planStateCount)) | \(exact.reason) | \(factor): \(budgeted.reason) |")
}
print("baseline (1 d first decision): \(String(format: "%.3f", baseline)) s on this machine, median of \(rounds)")
