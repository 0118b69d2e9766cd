import Foundation

/// One move of the simulated spot market: spot capacity in a region is taken back, or returns.
public struct MarketEvent: Hashable, Sendable {
    public enum Kind: String, Sendable {
        case reclaim, restore
    }

    /// Seconds of real time after the market opens.
    public var atSeconds: Double
    public var region: String
    public var kind: Kind

    public init(atSeconds: Double, region: String, kind: Kind) {
        self.atSeconds = atSeconds
        self.region = region
        self.kind = kind
    }
}

/// When the simulated market reclaims and restores spot capacity: from a real availability trace
/// (`../shared/traces`, read by `SpotTrace`) or from a rate, with time compressed so that
/// `traceSecondsPerSecond` seconds of market time pass in one real second (3,600: one trace hour
/// per second). Pure: the provisioner carries the events out.
public enum SpotMarketSchedule {
    /// Events from an availability series (`true`: spot available), one entry per `tickSeconds` of
    /// trace time. Capacity that starts unavailable is reclaimed at time 0.
    public static func fromTrace(
        _ available: [Bool], tickSeconds: Double, traceSecondsPerSecond: Double, region: String
    ) -> [MarketEvent] {
        var events: [MarketEvent] = []
        var up = true
        for (tick, now) in available.enumerated() where now != up {
            let at = Double(tick) * tickSeconds / traceSecondsPerSecond
            events.append(MarketEvent(atSeconds: at, region: region, kind: now ? .restore : .reclaim))
            up = now
        }
        return events
    }

    /// Reclaims at exponentially distributed intervals, `ratePerHour` per hour of market time on
    /// average, each outage lasting `outageSeconds` of real time, until `durationSeconds` of real
    /// time. Seeded through `generator`, so a seed gives the same market.
    public static func fromRate(
        ratePerHour: Double, traceSecondsPerSecond: Double, outageSeconds: Double, region: String,
        durationSeconds: Double, generator: inout some RandomNumberGenerator
    ) -> [MarketEvent] {
        guard ratePerHour > 0 else { return [] }
        let meanRealSeconds = 3600 / ratePerHour / traceSecondsPerSecond
        var events: [MarketEvent] = []
        var clock = 0.0
        while true {
            let uniform = Double.random(in: Double.ulpOfOne..<1, using: &generator)
            clock += -log(uniform) * meanRealSeconds
            guard clock < durationSeconds else { break }
            events.append(MarketEvent(atSeconds: clock, region: region, kind: .reclaim))
            clock += outageSeconds
            events.append(MarketEvent(atSeconds: clock, region: region, kind: .restore))
        }
        return events
    }
}
