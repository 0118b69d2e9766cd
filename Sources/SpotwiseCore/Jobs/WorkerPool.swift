/// The capacity a worker stands for: which pool it is in and what it costs. Workers of the local
/// provider and of every cloud say this when they register; the scheduler places by it and the
/// ledger prices by it.
public struct WorkerPool: Hashable, Sendable, Codable {
    public var region: String
    public var market: Market
    public var instanceType: String
    /// What the node costs per hour in its market.
    public var pricePerHour: Money
    /// What the same instance costs per hour on demand (the savings report's yardstick).
    public var onDemandPricePerHour: Money

    public init(region: String, market: Market, instanceType: String, pricePerHour: Money, onDemandPricePerHour: Money)
    {
        self.region = region
        self.market = market
        self.instanceType = instanceType
        self.pricePerHour = pricePerHour
        self.onDemandPricePerHour = onDemandPricePerHour
    }

    enum CodingKeys: String, CodingKey {
        case region, market
        case instanceType = "instance_type"
        case pricePerHour = "price_per_hour"
        case onDemandPricePerHour = "on_demand_price_per_hour"
    }

    /// Prices travel as decimal dollar strings ("0.35"), so no binary fraction ever touches money.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        region = try container.decode(String.self, forKey: .region)
        market = try container.decode(Market.self, forKey: .market)
        instanceType = try container.decode(String.self, forKey: .instanceType)
        func price(_ key: CodingKeys) throws -> Money {
            let text = try container.decode(String.self, forKey: key)
            guard let money = Money(decimalDollars: text), money.micros >= 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container,
                    debugDescription: "'\(text)' is not a price in dollars (e.g. \"0.35\", at most six decimals)")
            }
            return money
        }
        pricePerHour = try price(.pricePerHour)
        onDemandPricePerHour = try price(.onDemandPricePerHour)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(region, forKey: .region)
        try container.encode(market, forKey: .market)
        try container.encode(instanceType, forKey: .instanceType)
        try container.encode(pricePerHour.exactDescription, forKey: .pricePerHour)
        try container.encode(onDemandPricePerHour.exactDescription, forKey: .onDemandPricePerHour)
    }
}
