import SpotwiseCore

/// A spot policy decides, at each decision point, where a job's next stretch of work runs.
///
/// Policies are pure and deterministic: the same context gives the same decision. The coordinator
/// calls them at every placement and recovery, and the trace replayer calls the SAME code every
/// tick, so what is measured offline is what runs.
public protocol SpotPolicy: Sendable {
    /// The name used by `spotwise simulate --policy` and in reports.
    var name: String { get }
    func decide(_ context: DecisionContext) -> PolicyChoice
}

/// What a policy may do now.
public enum PolicyDecision: Hashable, Sendable {
    /// Run on spot capacity in this pool (launching there if not already on it).
    case spot(pool: Int)
    /// Run on on-demand capacity in this pool (launching there if not already on it).
    case onDemand(pool: Int)
    /// Hold no instance now.
    case wait
    /// Keep the current instance (or keep waiting if there is none).
    case keepGoing
}

/// A decision and why it was made, for `spotwise job ID` and the simulator's traces.
public struct PolicyChoice: Hashable, Sendable {
    public var decision: PolicyDecision
    public var reason: DecisionReason

    public init(_ decision: PolicyDecision, _ reason: DecisionReason) {
        self.decision = decision
        self.reason = reason
    }
}

/// Why a policy decided what it did. Rendered only when someone reads it.
public enum DecisionReason: Hashable, Sendable, CustomStringConvertible {
    case finished
    case alwaysOnDemand
    /// Waiting any longer could miss the deadline even on on-demand.
    case safetyNet(slackSeconds: Double)
    case spotAvailable(pool: String)
    case stayOnSpot(pool: String)
    case waitingForSpot(slackSeconds: Double)
    /// Uniform Progress: progress is behind the line C·t/R.
    case behindUniformProgress(bySeconds: Double)
    /// Uniform Progress hysteresis: stay on on-demand until ahead of the line 2d later.
    case hysteresis(untilAheadBySeconds: Double)
    /// Uniform Progress: ahead of the line on on-demand, which is left only for spot.
    case onDemandUntilSpot(aheadBySeconds: Double)
    /// Spotwise: the option with the lowest expected cost to finish under the learned model.
    case expectedCost(choice: String, dollars: Double, waitDollars: Double, onDemandDollars: Double)
    /// The decision context cannot be planned (a value out of range); the job waits.
    case cannotPlan(PlanningProblem)

    public var description: String {
        func hours(_ seconds: Double) -> String {
            let value = (seconds / 360).rounded() / 10
            return "\(value) h"
        }
        func percent(_ fraction: Double) -> String { "\(Int((fraction * 100).rounded()))%" }
        switch self {
        case .finished: return "work is done"
        case .alwaysOnDemand: return "policy on-demand: always on-demand"
        case .safetyNet(let slack): return "safety net: only \(hours(slack)) of slack left; on-demand until the end"
        case .spotAvailable(let pool): return "spot available in \(pool)"
        case .stayOnSpot(let pool): return "keep running on spot in \(pool)"
        case .waitingForSpot(let slack): return "no spot now; waiting (slack \(hours(slack)))"
        case .behindUniformProgress(let behind):
            return "behind uniform progress by \(hours(behind)): on-demand until caught up"
        case .hysteresis(let ahead):
            return "hysteresis: on-demand until ahead of the line 2d later (needs \(hours(ahead)) more)"
        case .onDemandUntilSpot(let ahead):
            return "ahead of uniform progress by \(hours(ahead)); on-demand until spot comes"
        case .expectedCost(let choice, let dollars, let wait, let onDemand):
            func money(_ value: Double) -> String {
                value >= Double(MarkovPlan.missPenalty) / 10 ? "late" : "$\(Int(value.rounded()))"
            }
            return
                "\(choice): expected cost to finish \(money(dollars)) (waiting: \(money(wait)), on-demand: \(money(onDemand)))"
        case .cannotPlan(let problem): return "cannot plan: \(problem); waiting"
        }
    }
}

/// Everything a policy may know at one decision point. Nothing from the future.
public struct DecisionContext: Sendable {
    public var totalWorkSeconds: Double
    public var remainingWorkSeconds: Double
    public var elapsedSeconds: Double
    /// The deadline, in seconds after the job's start.
    public var deadlineSeconds: Double
    /// How long the policy waits before it decides again (the trace's tick, or the coordinator's period).
    public var tickSeconds: Double
    /// Time lost, with the instance billed, each time the job starts on a new instance.
    public var changeoverSeconds: Double
    /// Gang size: spot counts as available only when this many nodes are.
    public var nodes: Int
    public var current: RunningInstance?
    public var pools: [PoolState]

    public init(
        totalWorkSeconds: Double, remainingWorkSeconds: Double, elapsedSeconds: Double, deadlineSeconds: Double,
        tickSeconds: Double, changeoverSeconds: Double, nodes: Int, current: RunningInstance?, pools: [PoolState]
    ) {
        self.totalWorkSeconds = totalWorkSeconds
        self.remainingWorkSeconds = remainingWorkSeconds
        self.elapsedSeconds = elapsedSeconds
        self.deadlineSeconds = deadlineSeconds
        self.tickSeconds = tickSeconds
        self.changeoverSeconds = changeoverSeconds
        self.nodes = nodes
        self.current = current
        self.pools = pools
    }

    public var timeLeftSeconds: Double { deadlineSeconds - elapsedSeconds }
    public var progressSeconds: Double { totalWorkSeconds - remainingWorkSeconds }

    /// Index of the pool with the cheapest on-demand price (on-demand is always available).
    public var cheapestOnDemandPool: Int {
        pools.indices.min { pools[$0].onDemandPricePerHour < pools[$1].onDemandPricePerHour } ?? 0
    }
}

/// The instance a job runs on now.
public struct RunningInstance: Hashable, Sendable {
    public var pool: Int
    public var market: Market
    /// Changeover still to pay before the instance makes progress.
    public var changeoverLeftSeconds: Double

    public init(pool: Int, market: Market, changeoverLeftSeconds: Double) {
        self.pool = pool
        self.market = market
        self.changeoverLeftSeconds = changeoverLeftSeconds
    }
}

/// One pool (provider, region or zone) as a policy sees it.
public struct PoolState: Sendable {
    public var name: String
    public var spotPricePerHour: Double
    public var onDemandPricePerHour: Double
    /// Whether a spot gang of `nodes` can be had in this pool now.
    public var spotAvailableNow: Bool
    /// What has been seen of this pool's spot availability so far.
    public var history: AvailabilityHistory

    public init(
        name: String, spotPricePerHour: Double, onDemandPricePerHour: Double, spotAvailableNow: Bool,
        history: AvailabilityHistory
    ) {
        self.name = name
        self.spotPricePerHour = spotPricePerHour
        self.onDemandPricePerHour = onDemandPricePerHour
        self.spotAvailableNow = spotAvailableNow
        self.history = history
    }
}

/// Why a decision context cannot be planned: a value no job or trace should produce. A policy
/// answers it with `wait` and this reason instead of trapping, so one bad job never takes the
/// scheduling pass (or the coordinator) down.
public struct PlanningProblem: Hashable, Sendable, CustomStringConvertible {
    public var field: String
    public var value: Double
    public var allowed: String

    public var description: String { "\(field) is \(value); allowed: \(allowed)" }
}

extension DecisionContext {
    /// The first value a plan cannot be built from, or nil when every value is in range.
    public var planningProblem: PlanningProblem? {
        if pools.isEmpty { return PlanningProblem(field: "pools", value: 0, allowed: "at least one pool") }
        let checks: [(String, Double, ClosedRange<Double>, String)] = [
            ("tickSeconds", tickSeconds, 1...86_400, "1 s to 1 day"),
            ("changeoverSeconds", changeoverSeconds, 0...86_400, "0 to 1 day"),
            ("deadlineSeconds", deadlineSeconds, 1...Double.greatestFiniteMagnitude, "more than 0 s, finite"),
            ("totalWorkSeconds", totalWorkSeconds, 0...Double.greatestFiniteMagnitude, "0 or more, finite"),
            ("remainingWorkSeconds", remainingWorkSeconds, 0...Double.greatestFiniteMagnitude, "0 or more, finite"),
            ("elapsedSeconds", elapsedSeconds, -1e12...1e12, "finite"),
            ("nodes", Double(nodes), 1...1_000_000, "at least 1"),
        ]
        for (field, value, range, allowed) in checks where !(value.isFinite && range.contains(value)) {
            return PlanningProblem(field: field, value: value, allowed: allowed)
        }
        return nil
    }
}
