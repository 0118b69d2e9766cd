import SpotPolicy
import SpotwiseCore

/// Small random spot markets for property tests of policies and the offline optimum.
public enum SyntheticTraces {
    /// A pool whose availability flips with the given probabilities per tick.
    public static func pool(
        name: String, ticks: Int, failure: Double, recovery: Double, spotPrice: Double, onDemandPrice: Double,
        generator: inout SeededGenerator
    ) -> PoolSeries {
        var available: [Bool] = []
        var up = Bool.random(using: &generator)
        for _ in 0..<ticks {
            available.append(up)
            let flip = Double.random(in: 0..<1, using: &generator)
            up = up ? flip >= failure : flip < recovery
        }
        return PoolSeries(
            name: name, available: available, spotPrices: Array(repeating: spotPrice, count: ticks),
            onDemandPricePerHour: onDemandPrice)
    }

    /// 1-3 pools with random behaviour and prices (spot usually, not always, cheaper than on-demand).
    public static func pools(ticks: Int, generator: inout SeededGenerator) -> [PoolSeries] {
        (0..<Int.random(in: 1...3, using: &generator)).map { index in
            pool(
                name: "pool-\(index)", ticks: ticks, failure: Double.random(in: 0.02...0.6, using: &generator),
                recovery: Double.random(in: 0.05...0.9, using: &generator),
                spotPrice: Double.random(in: 0.5...4, using: &generator),
                onDemandPrice: Double.random(in: 3...6, using: &generator), generator: &generator)
        }
    }
}
