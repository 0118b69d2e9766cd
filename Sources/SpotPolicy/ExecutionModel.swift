/// The job model shared by the replayer and the offline optimum (Can't Be Late's model): a job
/// needs `work` seconds of compute before the deadline; every start on a new instance costs a
/// changeover (billed, no progress); progress is never lost (checkpoints are continuous).
///
/// Time is counted in whole units of `unitSeconds` (the gcd of the tick and the changeover), so
/// the replayer and the dynamic program agree exactly.
public struct ExecutionModel: Hashable, Sendable {
    public var unitSeconds: Int
    public var tickUnits: Int
    public var changeoverUnits: Int
    public var workUnits: Int
    /// Whole ticks before the deadline (a deadline inside a tick is rounded down to its start).
    public var deadlineTicks: Int
    public var nodes: Int

    public init(tickSeconds: Int, workSeconds: Double, deadlineSeconds: Double, changeoverSeconds: Double, nodes: Int) {
        let changeover = max(0, Int(changeoverSeconds.rounded()))
        let unit = Self.gcd(tickSeconds, changeover == 0 ? tickSeconds : changeover)
        self.unitSeconds = unit
        self.tickUnits = tickSeconds / unit
        self.changeoverUnits = changeover / unit
        self.workUnits = Int((workSeconds / Double(unit)).rounded(.up))
        self.deadlineTicks = Int((deadlineSeconds / Double(tickSeconds)).rounded(.down))
        self.nodes = nodes
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    public var tickSeconds: Int { tickUnits * unitSeconds }
    public var deadlineUnits: Int { deadlineTicks * tickUnits }

    /// Whether the job can meet its deadline at all (on-demand from the start).
    public var isFeasible: Bool { changeoverUnits + workUnits <= deadlineUnits }

    /// The changeover amounts a tick boundary can see: 0, then d, d - t, d - 2t, ... above 0; and
    /// for each amount (0...d) its position in that list. The DP and the plan index states by it.
    public var changeoverSteps: (values: [Int], index: [Int]) {
        var values = [0]
        var value = changeoverUnits
        while value > 0 {
            values.append(value)
            value -= tickUnits
        }
        var index = Array(repeating: 0, count: changeoverUnits + 1)
        for (position, value) in values.enumerated() { index[value] = position }
        return (values, index)
    }

    /// One tick on an instance: the changeover is paid first, then progress, and the instance is
    /// billed only until the work is done.
    @inline(__always)
    public func runTick(progress: Int, changeoverLeft: Int) -> (progress: Int, changeoverLeft: Int, busyUnits: Int) {
        let busy = min(tickUnits, changeoverLeft + workUnits - progress)
        let consumed = min(changeoverLeft, busy)
        return (progress + busy - consumed, changeoverLeft - consumed, busy)
    }

    /// Dollars for `units` of time at `pricePerNodeHour` for the whole gang.
    @inline(__always)
    public func cost(units: Int, pricePerNodeHour: Double) -> Double {
        Double(units * unitSeconds) / 3600 * pricePerNodeHour * Double(nodes)
    }
}

extension [PoolSeries] {
    /// The pool with the cheapest on-demand price: on-demand is always available, so no other
    /// pool's on-demand is ever worth paying for.
    var cheapestOnDemandPool: Int {
        indices.min { self[$0].onDemandPricePerHour < self[$1].onDemandPricePerHour } ?? 0
    }
}

/// Prices and availability of every pool, aligned tick by tick.
public struct PoolSeries: Sendable {
    public var name: String
    public var available: [Bool]
    public var spotPrices: [Double]
    public var onDemandPricePerHour: Double

    public init(name: String, available: [Bool], spotPrices: [Double], onDemandPricePerHour: Double) {
        self.name = name
        self.available = available
        self.spotPrices = spotPrices
        self.onDemandPricePerHour = onDemandPricePerHour
    }

    public init(trace: SpotTrace, nodes: Int, spotPrice: Double?, onDemandPrice: Double?) throws {
        let spot = trace.spotPricePerHour ?? spotPrice ?? 0
        guard trace.spotPrices != nil || spot > 0 else {
            throw TraceReadError(file: trace.name, message: "no spot price in the trace; pass --spot-price")
        }
        guard let onDemand = trace.onDemandPricePerHour ?? onDemandPrice, onDemand > 0 else {
            throw TraceReadError(file: trace.name, message: "no on-demand price in the trace; pass --on-demand-price")
        }
        self.init(
            name: trace.name, available: trace.availability(nodes: nodes),
            spotPrices: trace.spotPrices ?? Array(repeating: spot, count: trace.capacity.count),
            onDemandPricePerHour: onDemand)
    }
}
