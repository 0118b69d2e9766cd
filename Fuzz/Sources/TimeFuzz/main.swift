import Foundation
import SpotwiseCore

// libFuzzer harness: `RFC3339`, which reads every time users, workers and clouds send (spec
// deadlines, report windows, EC2 notices, credential expiry) since ICU's parser was found to die
// of SIGFPE on 35 fractional digits. Any bytes as text: a time that is read must be within years
// 0000-9999 and must read back the same from what Foundation writes for it; a full date must be a
// UTC midnight.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTime(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let date = RFC3339.dateTime(text) {
        let seconds = date.timeIntervalSince1970
        // 0000-01-01 less a day of offset, to 9999-12-31 plus a day and a leap second.
        check(seconds >= -62_167_305_600 && seconds <= 253_402_387_200, "\(text) read as \(seconds) s")
        let written = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        if seconds >= -11_676_096_000, let again = RFC3339.dateTime(written) {
            // Foundation writes milliseconds; from 1600 on its calendar is the Gregorian one.
            check(abs(again.timeIntervalSince(date)) <= 0.001_1, "\(text) -> \(written) -> \(again)")
        }
    }
    if let day = RFC3339.fullDate(text) {
        check(day.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) == 0, "\(text) is not midnight")
    }
    return 0
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard condition else { fatalError("TimeFuzz: \(message())") }
}
