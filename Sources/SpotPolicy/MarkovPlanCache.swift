import Synchronization

/// Solved plans shared by every decision (and every thread) of a process. A plan depends only on
/// its key, so sharing changes no decision; it only spares solving the same process twice.
public final class MarkovPlanCache: Sendable {
    public static let shared = MarkovPlanCache(capacity: 24)

    private let plans: Mutex<[MarkovPlan.Key: MarkovPlan]>
    private let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
        self.plans = Mutex([:])
    }

    public func plan(for key: MarkovPlan.Key) -> MarkovPlan {
        if let plan = plans.withLock({ $0[key] }) { return plan }
        let plan = MarkovPlan(key: key)
        plans.withLock { plans in
            // Plans for big jobs are megabytes; start over rather than grow without bound.
            if plans.count >= capacity { plans.removeAll() }
            plans[key] = plan
        }
        return plan
    }
}
