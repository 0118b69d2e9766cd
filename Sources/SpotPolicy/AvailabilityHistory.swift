/// Running statistics of one pool's spot availability, updated one observation at a time
/// (O(1) per tick), so a policy learns from everything seen so far without keeping the series.
public struct AvailabilityHistory: Hashable, Sendable {
    public private(set) var observedTicks = 0
    /// Length of the run in progress, and whether it is a run of availability.
    public private(set) var currentRunTicks = 0
    public private(set) var currentlyAvailable = false
    /// Per age class of a run (see `AvailabilityHistory.upAgeLimit`, `downAgeLimit`): ticks spent
    /// in the class and runs that ended in it, so hazards can differ between young and old runs.
    public private(set) var upExposure = [0, 0]
    public private(set) var upEnds = [0, 0]
    public private(set) var downExposure = [0, 0]
    public private(set) var downEnds = [0, 0]

    /// Runs up for fewer ticks than this are young; spot is far likelier to vanish early in a run.
    public static let upAgeLimit = 3
    /// Outages shorter than this are fresh; most end quickly, and the rest last long.
    public static let downAgeLimit = 2

    public init() {}

    public init<S: Sequence>(observations: S) where S.Element == Bool {
        for available in observations { record(available) }
    }

    public mutating func record(_ available: Bool) {
        if observedTicks > 0 {
            // The run in progress was exposed for one more tick at its age; it ended if the state flipped.
            let ended = available != currentlyAvailable
            if currentlyAvailable {
                let ageClass = currentRunTicks < Self.upAgeLimit ? 0 : 1
                upExposure[ageClass] += 1
                if ended { upEnds[ageClass] += 1 }
            } else {
                let ageClass = currentRunTicks < Self.downAgeLimit ? 0 : 1
                downExposure[ageClass] += 1
                if ended { downEnds[ageClass] += 1 }
            }
            if ended { currentRunTicks = 0 }
        }
        currentlyAvailable = available
        currentRunTicks += 1
        observedTicks += 1
    }

    /// Probability per tick that a run of availability of this age class ends, with a prior.
    public func upHazard(ageClass: Int, prior: Double, weight: Double) -> Double {
        (Double(upEnds[ageClass]) + prior * weight) / (Double(upExposure[ageClass]) + weight)
    }

    /// Probability per tick that an outage of this age class ends, with a prior.
    public func downHazard(ageClass: Int, prior: Double, weight: Double) -> Double {
        (Double(downEnds[ageClass]) + prior * weight) / (Double(downExposure[ageClass]) + weight)
    }
}
