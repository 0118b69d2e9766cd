import Foundation
import SpotPolicy
import Testing

/// Found by fuzzing the trace reader (scripts/fuzz, docs/fuzzing.md): NSNumber's `intValue` wraps
/// a value beyond Int's range, so an `available` trace counting 33333333333333333330 instances was
/// read as a negative count, and `gap_seconds` of 2^64 + 600 as a tick of 600 s.
@Suite struct SpotTraceLimitsTests {
    func read(_ json: String, _ convention: TraceConvention = .available) throws -> SpotTrace {
        try SpotTrace.read(Data(json.utf8), file: "t.json", name: "t", convention: convention)
    }

    func message(_ json: String, _ convention: TraceConvention = .available) -> String? {
        do {
            _ = try read(json, convention)
            return nil
        } catch let error as TraceReadError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func aCountBeyondIntIsRefusedNotWrapped() {
        #expect(
            message(#"{"metadata": {"gap_seconds": 600}, "data": [0, 33333333333333333330]}"#)
                == "data[1] must be a whole number of spot instances from 0 to 2147483647")
    }

    @Test(arguments: ["2.5", "1e300", "2147483648"])
    func aCountThatIsNotAWholeNumberOfInstancesIsRefused(_ value: String) {
        #expect(message(#"{"metadata": {"gap_seconds": 60}, "data": [\#(value)]}"#)?.hasPrefix("data[0] must") == true)
    }

    @Test(arguments: ["18446744073709552216", "0", "-600", "600.5", "86401"])
    func aTickOutsideOneSecondToADayIsRefused(_ gap: String) {
        for convention in TraceConvention.allCases {
            #expect(
                message(#"{"metadata": {"gap_seconds": \#(gap)}, "data": [0]}"#, convention)
                    == "metadata.gap_seconds must be a whole number of seconds from 1 to 86400")
        }
    }

    @Test func wholeCountsAndTicksStillRead() throws {
        let trace = try read(#"{"metadata": {"gap_seconds": 86400.0}, "data": [0, 3.0, 2147483647]}"#)
        #expect(trace.tickSeconds == 86_400 && trace.capacity == [0, 3, 2_147_483_647])
    }
}
