import Foundation

/// How a trace's `data` values are to be read; published trace sets differ.
public enum TraceConvention: String, Sendable, CaseIterable {
    /// 1 means preempted / unavailable, 0 available (SkyNomad's GCP H100 traces).
    case preempted
    /// The value is the number of spot instances available; a gang of N needs at least N.
    case available
}

/// One pool's spot history: per tick, how many spot instances could be had, and prices.
public struct SpotTrace: Sendable {
    public var name: String
    public var tickSeconds: Int
    /// Spot instances obtainable per tick. Under the `preempted` convention a tick is either 0 or
    /// `Int.max` (the trace says only whether the requested gang was preempted).
    public var capacity: [Int]
    /// Per-tick spot prices per node-hour, if the trace has them.
    public var spotPrices: [Double]?
    public var spotPricePerHour: Double?
    public var onDemandPricePerHour: Double?

    public init(
        name: String, tickSeconds: Int, capacity: [Int], spotPrices: [Double]? = nil, spotPricePerHour: Double? = nil,
        onDemandPricePerHour: Double? = nil
    ) {
        self.name = name
        self.tickSeconds = tickSeconds
        self.capacity = capacity
        self.spotPrices = spotPrices
        self.spotPricePerHour = spotPricePerHour
        self.onDemandPricePerHour = onDemandPricePerHour
    }

    /// Per tick: can a spot gang of `nodes` be had?
    public func availability(nodes: Int) -> [Bool] {
        capacity.map { $0 >= nodes }
    }
}

public struct TraceReadError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

extension SpotTrace {
    /// The longest tick a trace may have: a day (published traces tick every 1 to 10 minutes).
    public static let maxTickSeconds = 86_400
    /// The most spot instances one tick of an `available` trace may count.
    public static let maxInstances = Int(Int32.max)

    /// Reads the JSON trace format of `../shared/traces`: `{"metadata": {"gap_seconds", "zone",
    /// "price_info": {"price", "on_demand_price"}}, "data": [...], "prices": [...]}`.
    public static func read(contentsOf url: URL, convention: TraceConvention) throws -> SpotTrace {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TraceReadError(file: url.path, message: "not a readable JSON trace (\(error.localizedDescription))")
        }
        return try read(
            data, file: url.path, name: url.deletingPathExtension().lastPathComponent, convention: convention)
    }

    /// Reads a trace's bytes; `file` names it in errors and `name` is used when the trace names
    /// no zone.
    public static func read(_ data: Data, file: String, name fallbackName: String, convention: TraceConvention) throws
        -> SpotTrace
    {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TraceReadError(file: file, message: "not a readable JSON trace (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else {
            throw TraceReadError(file: file, message: "expected a JSON object with metadata and data")
        }
        guard let metadata = root["metadata"] as? [String: Any] else {
            throw TraceReadError(file: file, message: "missing 'metadata'")
        }
        // `Int(exactly:)`, not `intValue`: NSNumber's `intValue` wraps a value beyond Int's range
        // (3.3e19 read as a negative count: found by scripts/fuzz) and truncates a fraction.
        guard let gapValue = (metadata["gap_seconds"] as? NSNumber)?.doubleValue,
            let gap = Int(exactly: gapValue), (1...maxTickSeconds).contains(gap)
        else {
            throw TraceReadError(
                file: file,
                message: "metadata.gap_seconds must be a whole number of seconds from 1 to \(maxTickSeconds)")
        }
        guard let values = root["data"] as? [Any], !values.isEmpty else {
            throw TraceReadError(file: file, message: "'data' must be a non-empty list of numbers")
        }
        var capacity: [Int] = []
        capacity.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            guard let number = value as? NSNumber, number.doubleValue >= 0 else {
                throw TraceReadError(file: file, message: "data[\(index)] is not a number of at least 0")
            }
            switch convention {
            case .preempted: capacity.append(number.doubleValue == 0 ? Int.max : 0)
            case .available:
                guard let count = Int(exactly: number.doubleValue), count <= maxInstances else {
                    throw TraceReadError(
                        file: file,
                        message: "data[\(index)] must be a whole number of spot instances from 0 to \(maxInstances)")
                }
                capacity.append(count)
            }
        }
        var spotPrices: [Double]?
        if let prices = root["prices"] as? [Any] {
            let parsed = prices.compactMap { ($0 as? NSNumber)?.doubleValue }
            guard parsed.count == prices.count, parsed.count >= capacity.count else {
                throw TraceReadError(file: file, message: "'prices' must hold a number for every tick of 'data'")
            }
            spotPrices = parsed
        }
        let priceInfo = metadata["price_info"] as? [String: Any]
        let name =
            (metadata["zone"] as? String) ?? fallbackName
        return SpotTrace(
            name: name, tickSeconds: gap, capacity: capacity, spotPrices: spotPrices,
            spotPricePerHour: (priceInfo?["price"] as? NSNumber)?.doubleValue,
            onDemandPricePerHour: (priceInfo?["on_demand_price"] as? NSNumber)?.doubleValue)
    }
}
