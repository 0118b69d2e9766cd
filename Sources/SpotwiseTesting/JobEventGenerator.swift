import SpotwiseCore

/// Random job events for property tests: mostly plausible ones (for the live attempt, in a state
/// where they fit), mixed with stale, out-of-order and invalid ones that the machine must refuse.
public struct JobEventGenerator: Sendable {
    public var generator: SeededGenerator

    public init(seed: UInt64) {
        self.generator = SeededGenerator(seed: seed)
    }

    public mutating func randomBudget() -> RetryBudget {
        RetryBudget(
            maxPreemptions: Bool.random(using: &generator) ? nil : Int.random(in: 0...4, using: &generator),
            maxFailures: Int.random(in: 0...3, using: &generator),
            maxInfrastructureErrors: Int.random(in: 0...3, using: &generator),
            retryOnExitCodes: Bool.random(using: &generator) ? [] : [137, 3])
    }

    public mutating func nextEvent(for record: JobRecord) -> JobEvent {
        let live = record.liveAttempt?.number ?? record.attemptCount
        let attempt = Int.random(in: 0..<10, using: &generator) == 0 ? max(0, live - 1) : live
        let markets = Market.allCases
        let placement = Placement(
            provider: ProviderName.allCases.randomElement(using: &generator)!,
            region: ["us-east-1", "us-west-2", "europe-west4"].randomElement(using: &generator)!,
            market: markets.randomElement(using: &generator)!)
        let reasons: [AttemptEndReason] = [
            .completed, .preempted(withNotice: true), .preempted(withNotice: false), .lost,
            .userError(exitCode: 1), .userError(exitCode: 137), .infrastructureError("capacity error"), .cancelled,
        ]
        switch Int.random(in: 0..<100, using: &generator) {
        case 0..<25: return .placed(placement)
        case 25..<45: return .attemptStarted(attempt: attempt)
        case 45..<95:
            // Completion is rarer than trouble, so that budgets are actually exercised.
            let reason = reasons[
                Int.random(in: 0..<100, using: &generator) < 5
                    ? 0 : Int.random(in: 1..<reasons.count - 1, using: &generator)]
            return .attemptEnded(
                attempt: attempt, reason: Int.random(in: 0..<50, using: &generator) == 0 ? .cancelled : reason)
        case 95..<98: return .cancelRequested
        default: return .abandoned(reason: "max_cost reached")
        }
    }
}
