import Foundation

/// A Markov model of one pool's spot availability per tick, learned from its history, with the
/// age of the run in the state: spot that has just appeared vanishes far more often than spot that
/// has lasted (in the GCP H100 traces the hazard in a run's first 30 minutes is 5-50x the hazard
/// after two hours), and most outages end within minutes while the rest last for hours.
///
/// States: up-young, up-old, down-fresh, down-old. Young and fresh runs age into old ones at the
/// rate that makes their mean stay equal to the class's length. The four hazards are snapped to a
/// geometric grid (factors of 2) so that plans can be shared between decisions whose estimates
/// barely differ.
public struct AvailabilityChain: Hashable, Sendable {
    public static let states = 4
    public static let upYoung = 0, upOld = 1, downFresh = 2, downOld = 3

    /// Hazards: up-young and up-old failure, down-fresh and down-old recovery, as grid buckets.
    public var buckets: [Int]
    /// Grid points per factor of 2 (1: hazards are powers of 2).
    public var stepsPerOctave: Int

    public init(
        upYoungFailure: Double, upOldFailure: Double, downFreshRecovery: Double, downOldRecovery: Double,
        stepsPerOctave: Int = 1
    ) {
        let step = log(2.0) / Double(max(1, stepsPerOctave))
        func bucket(_ p: Double) -> Int { Int((log(min(1, max(1e-4, p))) / step).rounded()) }
        buckets = [upYoungFailure, upOldFailure, downFreshRecovery, downOldRecovery].map(bucket)
        self.stepsPerOctave = max(1, stepsPerOctave)
    }

    /// Learned from a pool's history, with weak priors for pools seen only briefly.
    public init(history: AvailabilityHistory, stepsPerOctave: Int = 1) {
        self.init(
            upYoungFailure: history.upHazard(ageClass: 0, prior: 0.2, weight: 5),
            upOldFailure: history.upHazard(ageClass: 1, prior: 0.05, weight: 20),
            downFreshRecovery: history.downHazard(ageClass: 0, prior: 0.5, weight: 4),
            downOldRecovery: history.downHazard(ageClass: 1, prior: 0.1, weight: 10), stepsPerOctave: stepsPerOctave)
    }

    public func hazard(_ index: Int) -> Double {
        min(1, exp(Double(buckets[index]) * log(2.0) / Double(stepsPerOctave)))
    }

    public static func isUp(_ state: Int) -> Bool { state == upYoung || state == upOld }

    /// The chain state of a pool now.
    public static func state(of history: AvailabilityHistory, availableNow: Bool) -> Int {
        // The history has not yet recorded this tick; a pool that just flipped starts a new run.
        if availableNow != history.currentlyAvailable || history.observedTicks == 0 {
            return availableNow ? upYoung : downFresh
        }
        let age = history.currentRunTicks
        if availableNow { return age < AvailabilityHistory.upAgeLimit ? upYoung : upOld }
        return age < AvailabilityHistory.downAgeLimit ? downFresh : downOld
    }

    /// Transition probabilities from `state` to each state next tick.
    public func transitions(from state: Int) -> [Double] {
        var row = [0.0, 0, 0, 0]
        switch state {
        case Self.upYoung:
            let fail = hazard(0)
            let age = (1 - fail) / Double(AvailabilityHistory.upAgeLimit)
            row[Self.downFresh] = fail
            row[Self.upOld] = age
            row[Self.upYoung] = 1 - fail - age
        case Self.upOld:
            let fail = hazard(1)
            row[Self.downFresh] = fail
            row[Self.upOld] = 1 - fail
        case Self.downFresh:
            let recover = hazard(2)
            let age = (1 - recover) / Double(AvailabilityHistory.downAgeLimit)
            row[Self.upYoung] = recover
            row[Self.downOld] = age
            row[Self.downFresh] = 1 - recover - age
        default:
            let recover = hazard(3)
            row[Self.upYoung] = recover
            row[Self.downOld] = 1 - recover
        }
        return row
    }

    /// Transition probabilities over `steps` ticks: row `from`, column `to` (by squaring, so a
    /// coarse plan's factor costs its logarithm).
    public func transitions(steps: Int) -> [[Double]] {
        func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
            a.map { row in (0..<Self.states).map { to in (0..<Self.states).reduce(0) { $0 + row[$1] * b[$1][to] } } }
        }
        var power = (0..<Self.states).map { transitions(from: $0) }
        var result: [[Double]]?
        var remaining = max(1, steps)
        while remaining > 0 {
            if remaining & 1 == 1 { result = result.map { multiply($0, power) } ?? power }
            remaining >>= 1
            if remaining > 0 { power = multiply(power, power) }
        }
        return result ?? power
    }
}
