/// An exact amount of US dollars, held as integer micro-dollars.
///
/// Money is never a `Double`: cost reports must reconcile with the ledger to the cent, and
/// binary floating point cannot represent most cent amounts exactly.
public struct Money: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public static let microsPerDollar: Int64 = 1_000_000
    public static let zero = Money(micros: 0)

    public var micros: Int64

    public init(micros: Int64) {
        self.micros = micros
    }

    /// Parses a decimal dollar amount such as `12`, `12.5` or `0.000001` exactly.
    /// Returns nil for anything else, including more than six decimal places.
    public init?(decimalDollars text: String) {
        var text = Substring(text)
        var negative = false
        if text.first == "-" {
            negative = true
            text = text.dropFirst()
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        var fraction = parts.count == 2 ? parts[1] : ""
        guard parts.count == 1 || !fraction.isEmpty, fraction.allSatisfy(\.isASCIIDigit), fraction.count <= 6
        else { return nil }
        fraction += String(repeating: "0", count: 6 - fraction.count)
        guard let dollars = Int64(whole), let micros = Int64(fraction) else { return nil }
        let (scaled, overflow) = dollars.multipliedReportingOverflow(by: Money.microsPerDollar)
        guard !overflow else { return nil }
        let (total, overflow2) = scaled.addingReportingOverflow(micros)
        guard !overflow2 else { return nil }
        self.micros = negative ? -total : total
    }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.micros < rhs.micros }
    public static func + (lhs: Money, rhs: Money) -> Money { Money(micros: lhs.micros + rhs.micros) }
    public static func - (lhs: Money, rhs: Money) -> Money { Money(micros: lhs.micros - rhs.micros) }
    /// A price for `count` of the same thing (a gang's nodes).
    public static func * (lhs: Money, count: Int) -> Money { Money(micros: lhs.micros * Int64(count)) }

    /// An approximate value for decision code (the spot policy); never summed into a bill.
    public var dollars: Double { Double(micros) / Double(Money.microsPerDollar) }

    /// What this price per hour comes to over `milliseconds`, rounded half up to the micro-dollar.
    /// Exact integer arithmetic (128-bit intermediate), so ledger rows add up to the cent.
    public func perHour(over milliseconds: Int64) -> Money {
        let product = micros.multipliedFullWidth(by: max(0, milliseconds))
        let (quotient, remainder) = Int64(3_600_000).dividingFullWidth(product)
        return Money(micros: quotient + (remainder * 2 >= 3_600_000 ? 1 : 0))
    }

    /// Dollars with exactly six decimals, e.g. `12.500000`.
    public var exactDescription: String {
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        let whole = magnitude / UInt64(Money.microsPerDollar)
        let fraction = String(magnitude % UInt64(Money.microsPerDollar))
        return "\(sign)\(whole).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    /// Dollars rounded half away from zero to the cent, e.g. `$12.50`.
    public var description: String {
        let cents = (micros.magnitude + 5_000) / 10_000
        let sign = micros < 0 && cents > 0 ? "-" : ""
        let centsText = String(cents % 100)
        return "\(sign)$\(cents / 100).\(centsText.count == 1 ? "0" : "")\(centsText)"
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
