import Scheduler
import SpotwiseCore

/// The history line of a placement: where, and the policy's reason. For a gang, its ranks and
/// how many of its workers held the job's previous attempt (kept) rather than replacing a lost
/// member (new).
public enum PlacementNote {
    public static func text(_ planned: PlannedPlacement, previousHolders: [WorkerID]) -> String {
        let base = "placed on worker \(planned.target) (\(planned.pool.instanceType)): \(planned.reason)"
        guard planned.members.count > 1 else { return base }
        let previous = Set(previousHolders)
        let kept = planned.members.filter(previous.contains).count
        let ranks = planned.members.enumerated().map { "\($0.offset)=\($0.element)" }.joined(separator: " ")
        let reuse =
            previous.isEmpty ? "" : "; \(kept) kept from the previous attempt, \(planned.members.count - kept) new"
        return
            "placed gang of \(planned.members.count) (\(planned.pool.instanceType)), ranks \(ranks)\(reuse): \(planned.reason)"
    }
}
