/// The rule every policy but on-demand shares, and the reason no policy misses a deadline that
/// on-demand from the start would meet.
///
/// A job may spend the next tick off on-demand only if, after that tick brought no progress at all
/// (a preemption), starting on-demand would still finish in time: `timeLeft - tick >= remaining +
/// changeover`. Once this fails, the job goes (or stays) on on-demand until it finishes; by
/// induction it still fits, because the check passed one tick earlier.
public enum SafetyNet {
    /// Slack left after reserving one tick and one changeover; negative means on-demand now.
    public static func slackSeconds(_ context: DecisionContext) -> Double {
        context.timeLeftSeconds - context.tickSeconds - context.remainingWorkSeconds - context.changeoverSeconds
    }

    public static func requiresOnDemand(_ context: DecisionContext) -> Bool {
        slackSeconds(context) < 0
    }

    /// The on-demand decision the safety net makes: stay where the job already runs on-demand,
    /// else the cheapest on-demand pool.
    public static func onDemandChoice(_ context: DecisionContext) -> PolicyChoice {
        if let current = context.current, current.market == .onDemand {
            return PolicyChoice(.keepGoing, .safetyNet(slackSeconds: slackSeconds(context)))
        }
        return PolicyChoice(
            .onDemand(pool: context.cheapestOnDemandPool), .safetyNet(slackSeconds: slackSeconds(context)))
    }
}
