import Foundation
import SpotwiseCore
import Testing

@Suite struct JobSummaryCodingTests {
    @Test func timesKeepTheirMillisecondsAndWholeSecondTimesStillDecode() throws {
        struct Stamp: Codable, Equatable { var at: Date }
        let stamp = Stamp(at: Date(timeIntervalSince1970: 1_800_000_000.125))
        let data = try JobSummary.encoder.encode(stamp)
        #expect(String(decoding: data, as: UTF8.self) == #"{"at":"2027-01-15T08:00:00.125Z"}"#)
        let back = try JobSummary.decoder.decode(Stamp.self, from: data)
        #expect(abs(back.at.timeIntervalSince(stamp.at)) < 0.001)
        let whole = try JobSummary.decoder.decode(Stamp.self, from: Data(#"{"at":"2027-01-15T08:00:00Z"}"#.utf8))
        #expect(whole.at == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(throws: DecodingError.self) {
            try JobSummary.decoder.decode(Stamp.self, from: Data(#"{"at":"yesterday"}"#.utf8))
        }
    }
}
