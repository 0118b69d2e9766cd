import Foundation
import SpotwiseCore
import SpotwiseTesting
import Testing

/// Times users, workers and clouds send, read without ICU (whose parser died of SIGFPE on 35
/// fractional digits and took the coordinator down with one GET).
@Suite struct RFC3339Tests {
    @Test func readsTimesWithOffsetsAndFractions() throws {
        #expect(RFC3339.dateTime("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(RFC3339.dateTime("2026-11-30T09:00:00Z") == Date(timeIntervalSince1970: 1_796_029_200))
        #expect(RFC3339.dateTime("2026-11-30T10:30:00+01:30") == Date(timeIntervalSince1970: 1_796_029_200))
        #expect(RFC3339.dateTime("2026-11-29t23:00:00-10:00") == Date(timeIntervalSince1970: 1_796_029_200))
        #expect(RFC3339.dateTime("2026-11-30T09:00:00.25z") == Date(timeIntervalSince1970: 1_796_029_200.25))
        #expect(RFC3339.dateTime("2024-02-29T00:00:00Z") == Date(timeIntervalSince1970: 1_709_164_800))
        #expect(RFC3339.dateTime("2000-02-29T00:00:00Z") != nil)
        #expect(RFC3339.dateTime("2016-12-31T23:59:60Z") == RFC3339.dateTime("2017-01-01T00:00:00Z"))
        #expect(RFC3339.dateTime("0000-01-01T00:00:00Z") == Date(timeIntervalSince1970: -62_167_219_200))
        #expect(RFC3339.fullDate("2026-11-30") == Date(timeIntervalSince1970: 1_795_996_800))
    }

    @Test(arguments: [
        "2026-12-02T10:00:00.11111111111111111111111111111111111Z",  // the crash: 35 digits
        "2026-12-02T10:00:00.1234567890Z",  // 10 digits
        "2026-12-02T10:00:00.Z", "2026-12-02T10:00:00", "2026-12-02 10:00:00Z", "2026-12-02T10:00Z",
        "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z", "2026-12-00T00:00:00Z", "2026-12-02T24:00:00Z", "2026-12-02T10:60:00Z",
        "2026-12-02T10:00:61Z", "2026-12-02T10:00:00+24:00", "2026-12-02T10:00:00+99:99", "2026-12-02T10:00:00+0100",
        "2026-12-02T10:00:00Zjunk", "99999-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "+2026-12-02T10:00:00Z",
        "２０２６-12-02T10:00:00Z", "٢٠٢٦-12-02T10:00:00Z", "", "2026-12-02",
    ])
    func refusesAnythingElse(_ text: String) {
        #expect(RFC3339.dateTime(text) == nil)
    }

    @Test func readsBackWhatFoundationWritesForAnyTimeAndOffset() throws {
        var random = SeededGenerator(seed: 3339)
        for _ in 0..<5_000 {
            // Whole milliseconds, years 1600-9999 (before the Gregorian reform Foundation's calendar
            // is Julian; RFC 3339's is Gregorian throughout), offsets within ±17:59 (at
            // exactly ±18:00 Foundation writes the local time with a Z).
            let milliseconds = Int64.random(in: -11_676_096_000_000...253_402_300_799_999, using: &random)
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            let offset = Int.random(in: -1079...1079, using: &random) * 60
            let style = Date.ISO8601FormatStyle(
                timeZoneSeparator: .colon, includingFractionalSeconds: true,
                timeZone: try #require(TimeZone(secondsFromGMT: offset)))
            let text = date.formatted(style)
            let read = try #require(RFC3339.dateTime(text), "\(text)")
            // Foundation writes milliseconds, truncated or rounded: they agree to the millisecond.
            #expect(abs(read.timeIntervalSince(date)) <= 0.001_1, "\(text)")
        }
    }

    @Test func fullDatesAreMidnightUTCOnEveryDayOfFourHundredYears() throws {
        var day = try #require(RFC3339.fullDate("1800-01-01"))
        let style = Date.ISO8601FormatStyle().year().month().day()
        for _ in 0..<146_097 {
            #expect(RFC3339.fullDate(day.formatted(style)) == day)
            day = day.addingTimeInterval(86_400)
        }
        #expect(day.formatted(style) == "2200-01-01")
    }

    /// The guard for this family: nothing in Sources parses text with Foundation's formatters
    /// that hand it to ICU (`ISO8601DateFormatter`, `DateFormatter`); they may still write dates.
    @Test func noSourceReadsTimesThroughICU() throws {
        let sources = RepositoryPaths.url("Sources")
        let files = (FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?.allObjects ?? [])
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        #expect(files.count > 50)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let parses =
                    line.contains(".date(from:") || line.contains("DateFormatter().date")
                    || line.contains("getObjectValue")
                #expect(!parses, "\(file.lastPathComponent):\(number + 1) reads a time through ICU; use RFC3339")
            }
        }
    }
}
