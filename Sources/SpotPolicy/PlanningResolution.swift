/// How finely a `MarkovPlan` resolves time, so that every job the coordinator accepts is planned
/// in bounded time and memory.
///
/// A plan holds one value per (tick left, work left, availability state, instance) and grows with
/// the square of the horizon: at the coordinator's 5-minute decision period a 7-day deadline
/// needed 30 million states (13 s and 170 MB in a debug build), 30 days half a billion, and a
/// deadline of 10^15 days overflowed an `Int` and took the process down on every restart. Far
/// from its deadline a job does not need 5-minute resolution, so a plan that would exceed the
/// budget is solved on a coarser grid: ticks and time units `k` times longer (the availability
/// chain stepped `k` times per tick), the changeover rounded to whole coarse units (at least
/// one). Decisions are still taken every period; only the plan that prices them is coarser.
public enum PlanningResolution {
    /// Most values one plan may hold (4 bytes each: 40 MB). The policy benchmark's largest plan
    /// (48 h of work, a 60 h deadline, 10-minute ticks, a 12-minute changeover) holds 8.7 million,
    /// so nothing it measures is coarsened.
    public static let maxStates = 10_000_000

    /// The furthest a plan looks ahead of now. A later deadline is planned as if it were this far
    /// away: an earlier deadline only makes the plan more careful, never late. Job specs accept
    /// at most `JobSpec.maxDeadlineSeconds` (90 days), well inside it; this bounds jobs stored
    /// before that limit existed.
    public static let maxHorizonSeconds: Double = 400 * 86_400

    /// The model a plan is solved on: the exact one when its plan fits `maxStates`, else the
    /// finest coarsening by a whole factor that fits. `stepsPerTick` is that factor. Inputs are
    /// finite and at most 10^12 s (`DecisionContext.planningProblem` checks).
    public static func model(
        tickSeconds: Int, workSeconds: Double, deadlineSeconds: Double, changeoverSeconds: Double, nodes: Int,
        maxStates: Int = maxStates
    ) -> (model: ExecutionModel, stepsPerTick: Int) {
        let deadline = max(0, deadlineSeconds)
        let work = min(max(0, workSeconds), deadline)
        let exact = ExecutionModel(
            tickSeconds: tickSeconds, workSeconds: work, deadlineSeconds: deadline,
            changeoverSeconds: changeoverSeconds, nodes: nodes)
        let states = exact.planStateCount
        guard states > Double(maxStates) else { return (exact, 1) }
        // States shrink with the square of the factor (both ticks and work units); start near the
        // answer and step up until the plan fits.
        var factor = max(2, Int((states / Double(maxStates)).squareRoot()))
        while true {
            let coarse = exact.coarsened(
                by: factor, workSeconds: work, deadlineSeconds: deadline,
                changeoverSeconds: changeoverSeconds)
            if coarse.planStateCount <= Double(maxStates) { return (coarse, factor) }
            factor += max(1, factor / 8)
        }
    }
}

extension ExecutionModel {
    /// How many values a `MarkovPlan` over this model holds, counted without building it (and in
    /// floating point, so that no horizon can overflow the count).
    public var planStateCount: Double {
        let work = Double(workUnits)
        guard work >= 1, deadlineTicks >= 0 else { return 0 }
        let horizon = Double(deadlineTicks)
        let tick = Double(max(1, tickUnits))
        // Layer e ticks after the start holds min(work, e * tick + 1) work values.
        let growing = work >= 2 ? min(horizon, ((work - 2) / tick).rounded(.down)) : -1
        let rising = tick * growing * (growing + 1) / 2 + (growing + 1)
        let full = (horizon - growing) * work
        let changeoverValues = 1 + (changeoverUnits > 0 ? (Double(changeoverUnits) / tick).rounded(.up) : 0)
        let perRow = Double(AvailabilityChain.states) * (1 + 2 * changeoverValues)
        return (rising + full) * perRow
    }

    /// This model on a grid `factor` times coarser: ticks and units `factor` times longer, the
    /// changeover rounded to whole coarse units (at least one when there is any).
    func coarsened(by factor: Int, workSeconds: Double, deadlineSeconds: Double, changeoverSeconds: Double)
        -> ExecutionModel
    {
        var model = self
        model.unitSeconds = unitSeconds * factor
        let unit = Double(model.unitSeconds)
        let changeover = max(0, changeoverSeconds.rounded())
        model.changeoverUnits = changeover > 0 ? max(1, Int((changeover / unit).rounded())) : 0
        model.workUnits = Int((workSeconds / unit).rounded(.up))
        model.deadlineTicks = Int((deadlineSeconds / Double(model.tickSeconds)).rounded(.down))
        return model
    }
}
