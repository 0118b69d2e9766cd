import Foundation

/// RFC 3339 times (`2026-11-30T09:00:00Z`, `2026-11-30T10:00:00.25+01:00`) and full dates
/// (`2026-11-30`, midnight UTC), read in Swift. Every time a user, a worker or a cloud sends is
/// read here, never with Foundation's `ISO8601DateFormatter`: that one hands the text to ICU,
/// whose parser dies of SIGFPE (a division by zero in C) on 35 or more fractional digits, so a
/// `since=` of a report or a spec's deadline took the coordinator down.
///
/// The grammar is RFC 3339 §5.6: years 0000-9999, months and days that exist (29 February in
/// leap years), hours 00-23, minutes 00-59, seconds 00-60 (60: a leap second, read as the next
/// second), 1-9 fractional digits, `Z` or an offset `±HH:MM` up to ±23:59. `T`/`t` and `Z`/`z`
/// are both accepted, as the RFC allows; nothing else is.
public enum RFC3339 {
    /// The most fractional digits read: nanoseconds, beyond what `Date` keeps anyway.
    public static let maxFractionDigits = 9

    /// A date-time with its offset; nil for anything else.
    public static func dateTime(_ text: String) -> Date? {
        var reader = Reader(Array(text.utf8))
        guard let day = reader.fullDate(), reader.take(anyOf: "Tt"),
            let hour = reader.number(digits: 2), hour <= 23, reader.take(":"),
            let minute = reader.number(digits: 2), minute <= 59, reader.take(":"),
            let second = reader.number(digits: 2), second <= 60
        else { return nil }
        var fraction = 0.0
        if reader.take(".") {
            guard let (value, digits) = reader.fraction(), digits <= maxFractionDigits else { return nil }
            fraction = Double(value) / pow(10, Double(digits))
        }
        let offset: Int
        if reader.take(anyOf: "Zz") {
            offset = 0
        } else if let sign = reader.sign(), let hours = reader.number(digits: 2), hours <= 23, reader.take(":"),
            let minutes = reader.number(digits: 2), minutes <= 59
        {
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard reader.atEnd else { return nil }
        let seconds = day * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// A full date (`2026-11-30`) as midnight UTC; nil for anything else.
    public static func fullDate(_ text: String) -> Date? {
        var reader = Reader(Array(text.utf8))
        guard let day = reader.fullDate(), reader.atEnd else { return nil }
        return Date(timeIntervalSince1970: Double(day * 86_400))
    }

    /// Days from 1970-01-01 to a civil date (proleptic Gregorian), for any year 0-9999.
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    fileprivate struct Reader {
        let bytes: [UInt8]
        var at = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { at == bytes.count }

        /// `YYYY-MM-DD` as days since the epoch, for a day that exists.
        mutating func fullDate() -> Int? {
            guard let year = number(digits: 4), take("-"), let month = number(digits: 2), (1...12).contains(month),
                take("-"), let day = number(digits: 2), day >= 1, day <= RFC3339.daysIn(month: month, year: year)
            else { return nil }
            return RFC3339.daysSinceEpoch(year: year, month: month, day: day)
        }

        /// Exactly `digits` ASCII digits.
        mutating func number(digits: Int) -> Int? {
            guard at + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[at..<at + digits] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            at += digits
            return value
        }

        /// One or more digits after the point: their value (of at most the first 18) and count.
        mutating func fraction() -> (Int, Int)? {
            let start = at
            var value = 0
            while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
                if at - start < 18 { value = value * 10 + Int(bytes[at] - UInt8(ascii: "0")) }
                at += 1
            }
            return at > start ? (value, at - start) : nil
        }

        mutating func sign() -> Int? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }

        mutating func take(_ character: Character) -> Bool { take(anyOf: String(character)) }

        mutating func take(anyOf characters: String) -> Bool {
            guard at < bytes.count, characters.utf8.contains(bytes[at]) else { return false }
            at += 1
            return true
        }
    }
}
