/// The modelling choices of `SpotwisePolicy`, named so that `PolicyBenchmark` can measure
/// alternatives against the standard ones on the same windows (`--policies spotwise,spotwise-X`).
public struct SpotwiseTuning: Hashable, Sendable {
    /// Suffix of the policy's name when it differs from the standard.
    public var label: String
    /// Whether the plan knows the `SafetyNet`: below one tick and one changeover of slack the job
    /// may only run on-demand (until the end). Without it the plan counts on slack the safety net
    /// will not let it use, and launches spot that the safety net pulls back at once.
    public var planKnowsSafetyNet: Bool
    /// Hazard grid points per factor of 2 (`AvailabilityChain`).
    public var hazardStepsPerOctave: Int
    /// How many times over a move's expected saving must pay for its changeover.
    public var moveMargin: Double
    /// Whether a tie (within float precision) between waiting and on-demand goes to waiting,
    /// which commits to no changeover and sees one more tick of the market.
    public var waitOnTies: Bool

    public init(
        label: String, planKnowsSafetyNet: Bool, hazardStepsPerOctave: Int, moveMargin: Double,
        waitOnTies: Bool = false
    ) {
        self.label = label
        self.planKnowsSafetyNet = planKnowsSafetyNet
        self.hazardStepsPerOctave = hazardStepsPerOctave
        self.moveMargin = moveMargin
        self.waitOnTies = waitOnTies
    }

    public static let standard = SpotwiseTuning(
        label: "", planKnowsSafetyNet: true, hazardStepsPerOctave: 1, moveMargin: 2)

    /// The alternatives the benchmark knows, by label.
    public static let alternatives: [SpotwiseTuning] = [
        SpotwiseTuning(label: "deadline-plan", planKnowsSafetyNet: false, hazardStepsPerOctave: 1, moveMargin: 2),
        SpotwiseTuning(label: "fine-hazards", planKnowsSafetyNet: true, hazardStepsPerOctave: 2, moveMargin: 2),
        SpotwiseTuning(label: "move-margin-1", planKnowsSafetyNet: true, hazardStepsPerOctave: 1, moveMargin: 1),
        SpotwiseTuning(
            label: "wait-on-ties", planKnowsSafetyNet: true, hazardStepsPerOctave: 1, moveMargin: 2, waitOnTies: true),
    ]
}
