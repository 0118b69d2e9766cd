import Foundation
import SpotwiseCore
import StateStore

/// One row of the cost ledger: one attempt segment, priced exactly.
///
/// The segment's billed time splits into overhead (placement to the first trained step:
/// provisioning, trainer start, restore), lost compute (steps trained beyond the step the next
/// attempt resumed from, or the last committed checkpoint, which the next attempt trains again)
/// and useful compute. Steps trained are counted up to the highest step the coordinator heard of
/// for the attempt; after an end without the worker's final report (a loss, an interruption
/// without notice) the trainer may have gone further, and the lost work is a lower bound
/// (`lostIsLowerBound`).
/// Each part is priced at the segment's own price; the useful part is the remainder, so the three
/// add up to the segment's cost to the micro-dollar. The on-demand equivalent is the useful
/// compute at the on-demand price of the same instance.
public struct LedgerRow: Hashable, Sendable, Codable {
    public var job: String
    public var jobName: String
    public var attempt: Int
    public var provider: String
    public var region: String
    public var instanceType: String
    public var market: Market
    /// Prices of one node; a gang's segment is billed for each of its `nodes`.
    public var pricePerHour: Money
    public var onDemandPricePerHour: Money
    public var nodes: Int
    public var startedAt: Date
    /// Nil while the attempt runs (priced up to the report's time).
    public var endedAt: Date?
    /// How it ended, as a type (nil while it runs): what `interrupted` and `lostIsLowerBound` follow.
    public var endKind: AttemptEndKind?
    /// How it ended, in words for people.
    public var endReason: String?
    public var billedMilliseconds: Int64
    public var overheadMilliseconds: Int64
    public var lostMilliseconds: Int64
    public var usefulSteps: Int
    public var lostSteps: Int
    /// Lost steps, seconds and dollars are at least what the row says: the attempt ended without
    /// the worker's report of how far its trainer got.
    public var lostIsLowerBound: Bool
    public var interrupted: Bool
    public var cost: Money
    public var overheadCost: Money
    public var lostCost: Money
    public var onDemandEquivalent: Money
    /// Every billed millisecond at the on-demand price: what SageMaker's savings formula compares with.
    public var onDemandForBilledTime: Money
    public var team: String?
    public var project: String?
    public var model: String?

    public var usefulMilliseconds: Int64 { billedMilliseconds - overheadMilliseconds - lostMilliseconds }

    /// `next` is the job's next attempt, when there is one: the step it resumed from is what this
    /// attempt kept (nil there: it started from scratch). Without it, the last committed step is.
    public init(segment: AttemptSegment, job: StoredJob?, now: Date, next: AttemptSegment? = nil) {
        let end = segment.endedAt ?? now
        let billed = max(0, Self.milliseconds(from: segment.startedAt, to: end))
        let overhead =
            segment.firstStepAt.map { min(billed, max(0, Self.milliseconds(from: segment.startedAt, to: $0))) }
            ?? billed
        let start = segment.resumedFromStep ?? 0
        let reached = max(start, segment.lastStep ?? start)
        let completed = segment.endKind == .completed
        let resumedFrom = next.map { $0.resumedFromStep ?? 0 } ?? segment.committedStep ?? start
        // A running attempt has lost nothing yet (its steps heard so far all count as trained).
        let kept = completed || segment.endedAt == nil ? reached : min(reached, max(start, resumedFrom))
        let trained = reached - start
        let useful = kept - start
        let lost = trained - useful
        let compute = billed - overhead
        // Running or completed: nothing lost (yet). Ended otherwise without a reported step: its
        // compute is lost in full.
        let lostMilliseconds: Int64 =
            segment.endedAt == nil || completed ? 0 : trained > 0 ? compute * Int64(lost) / Int64(trained) : compute
        let pool = segment.pool

        self.job = segment.job.rawValue
        jobName = job?.spec.name ?? ""
        attempt = segment.attempt
        provider = segment.provider
        region = pool.region
        instanceType = pool.instanceType
        market = pool.market
        pricePerHour = pool.pricePerHour
        onDemandPricePerHour = pool.onDemandPricePerHour
        nodes = max(1, segment.nodes)
        startedAt = segment.startedAt
        endedAt = segment.endedAt
        endKind = segment.endKind
        endReason = segment.endReason
        billedMilliseconds = billed
        overheadMilliseconds = overhead
        self.lostMilliseconds = lostMilliseconds
        usefulSteps = useful
        lostSteps = lost
        lostIsLowerBound = segment.endedAt != nil && !(segment.endKind?.reportsHowFarItGot ?? false)
        interrupted = segment.endKind?.isInterruption ?? false
        let price = pool.pricePerHour * nodes
        let onDemandPrice = pool.onDemandPricePerHour * nodes
        cost = price.perHour(over: billed)
        overheadCost = price.perHour(over: overhead)
        lostCost = price.perHour(over: lostMilliseconds)
        onDemandEquivalent = onDemandPrice.perHour(over: billed - overhead - lostMilliseconds)
        onDemandForBilledTime = onDemandPrice.perHour(over: billed)
        team = job?.spec.tags["team"]
        project = job?.spec.tags["project"]
        model = job?.spec.register?.model
    }

    static func milliseconds(from start: Date, to end: Date) -> Int64 {
        Int64((end.timeIntervalSince(start) * 1000).rounded())
    }

    enum CodingKeys: String, CodingKey {
        case job, attempt, provider, region, market, interrupted, team, project, model, nodes
        case jobName = "job_name"
        case instanceType = "instance_type"
        case pricePerHour = "price_per_hour"
        case onDemandPricePerHour = "on_demand_price_per_hour"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case endKind = "end_kind"
        case endReason = "end_reason"
        case billedSeconds = "billed_seconds"
        case overheadSeconds = "overhead_seconds"
        case lostSeconds = "lost_seconds"
        case usefulSteps = "useful_steps"
        case lostSteps = "lost_steps"
        case lostIsLowerBound = "lost_is_lower_bound"
        case cost = "actual_usd"
        case overheadCost = "overhead_usd"
        case lostCost = "lost_usd"
        case onDemandEquivalent = "on_demand_usd"
        case onDemandForBilledTime = "on_demand_billed_usd"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(job, forKey: .job)
        try c.encode(jobName, forKey: .jobName)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(provider, forKey: .provider)
        try c.encode(region, forKey: .region)
        try c.encode(instanceType, forKey: .instanceType)
        try c.encode(market, forKey: .market)
        try c.encode(pricePerHour.exactDescription, forKey: .pricePerHour)
        try c.encode(onDemandPricePerHour.exactDescription, forKey: .onDemandPricePerHour)
        try c.encode(nodes, forKey: .nodes)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(endedAt, forKey: .endedAt)
        try c.encode(endKind, forKey: .endKind)
        try c.encode(endReason, forKey: .endReason)
        try c.encode(Seconds(billedMilliseconds), forKey: .billedSeconds)
        try c.encode(Seconds(overheadMilliseconds), forKey: .overheadSeconds)
        try c.encode(Seconds(lostMilliseconds), forKey: .lostSeconds)
        try c.encode(usefulSteps, forKey: .usefulSteps)
        try c.encode(lostSteps, forKey: .lostSteps)
        try c.encode(lostIsLowerBound, forKey: .lostIsLowerBound)
        try c.encode(interrupted, forKey: .interrupted)
        try c.encode(cost.exactDescription, forKey: .cost)
        try c.encode(overheadCost.exactDescription, forKey: .overheadCost)
        try c.encode(lostCost.exactDescription, forKey: .lostCost)
        try c.encode(onDemandEquivalent.exactDescription, forKey: .onDemandEquivalent)
        try c.encode(onDemandForBilledTime.exactDescription, forKey: .onDemandForBilledTime)
        try c.encode(team, forKey: .team)
        try c.encode(project, forKey: .project)
        try c.encode(model, forKey: .model)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func money(_ key: CodingKeys) throws -> Money {
            let text = try c.decode(String.self, forKey: key)
            guard let value = Money(decimalDollars: text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "'\(text)' is not dollars")
            }
            return value
        }
        job = try c.decode(String.self, forKey: .job)
        jobName = try c.decode(String.self, forKey: .jobName)
        attempt = try c.decode(Int.self, forKey: .attempt)
        provider = try c.decode(String.self, forKey: .provider)
        region = try c.decode(String.self, forKey: .region)
        instanceType = try c.decode(String.self, forKey: .instanceType)
        market = try c.decode(Market.self, forKey: .market)
        pricePerHour = try money(.pricePerHour)
        onDemandPricePerHour = try money(.onDemandPricePerHour)
        nodes = try c.decodeIfPresent(Int.self, forKey: .nodes) ?? 1
        startedAt = try c.decode(Date.self, forKey: .startedAt)
        endedAt = try c.decodeIfPresent(Date.self, forKey: .endedAt)
        endKind = try c.decodeIfPresent(AttemptEndKind.self, forKey: .endKind)
        endReason = try c.decodeIfPresent(String.self, forKey: .endReason)
        billedMilliseconds = try c.decode(Seconds.self, forKey: .billedSeconds).milliseconds
        overheadMilliseconds = try c.decode(Seconds.self, forKey: .overheadSeconds).milliseconds
        lostMilliseconds = try c.decode(Seconds.self, forKey: .lostSeconds).milliseconds
        usefulSteps = try c.decode(Int.self, forKey: .usefulSteps)
        lostSteps = try c.decode(Int.self, forKey: .lostSteps)
        lostIsLowerBound = try c.decodeIfPresent(Bool.self, forKey: .lostIsLowerBound) ?? false
        interrupted = try c.decode(Bool.self, forKey: .interrupted)
        cost = try money(.cost)
        overheadCost = try money(.overheadCost)
        lostCost = try money(.lostCost)
        onDemandEquivalent = try money(.onDemandEquivalent)
        onDemandForBilledTime = try money(.onDemandForBilledTime)
        team = try c.decodeIfPresent(String.self, forKey: .team)
        project = try c.decodeIfPresent(String.self, forKey: .project)
        model = try c.decodeIfPresent(String.self, forKey: .model)
    }
}

/// Milliseconds written as seconds with three decimals (`12.345`), read back exactly.
struct Seconds: Codable {
    var milliseconds: Int64

    init(_ milliseconds: Int64) { self.milliseconds = milliseconds }

    init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer().decode(Decimal.self)
        milliseconds = NSDecimalNumber(decimal: value * 1000).int64Value
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Decimal(milliseconds) / 1000)
    }
}
