import Foundation
import SpotwiseCore

// libFuzzer harness: the job spec parser (`spotwise validate`, `POST /v1/jobs`) on any bytes.
// Beyond "no crash, no hang, no memory blow-up" (libFuzzer's -timeout and -rss_limit_mb), every
// answer must keep the parser's promises: an accepted spec is within the documented bounds, and a
// refusal points at a real place in the file.

private let submittedAt = Date(timeIntervalSince1970: 1_800_000_000)
private let parser = JobSpecParser(now: submittedAt)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJobSpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch parser.parse(bytes, file: "fuzz.yaml") {
    case .success(let spec):
        checkAccepted(spec)
    case .failure(let error):
        // + 2: libyaml ends the stream on a line of its own, after a last line without a break.
        checkRefused(error, lines: lineBreaks(in: bytes) + 2, bytes: bytes.count)
    }
    return 0
}

private func checkAccepted(_ spec: JobSpec) {
    require(!spec.name.isEmpty && !spec.run.isEmpty, "an accepted spec has a name and a run command")
    if let deadline = spec.deadline {
        let seconds = deadline.instant(submittedAt: submittedAt).timeIntervalSince(submittedAt)
        require(
            seconds > 0 && seconds <= JobSpec.maxDeadlineSeconds,
            "accepted deadline \(seconds) s after submission; the parser allows (0, \(JobSpec.maxDeadlineSeconds)]")
    }
    require(
        spec.resources.nodes.minimum >= 1 && spec.resources.nodes.minimum <= spec.resources.nodes.maximumCount,
        "accepted nodes \(spec.resources.nodes)")
    require(spec.checkpoint.everySteps >= 1, "accepted checkpoint.every_steps \(spec.checkpoint.everySteps)")
    require(spec.retries.maxFailures >= 0, "accepted retries.max_failures \(spec.retries.maxFailures)")
    if let maxCost = spec.maxCost { require(maxCost >= .zero, "accepted a negative max_cost \(maxCost)") }
}

/// At least as many as YAML's line breaks: `\n`, `\r` (`\r\n` counted twice), NEL, LS and PS.
private func lineBreaks(in bytes: [UInt8]) -> Int {
    var count = 0
    for (index, byte) in bytes.enumerated() {
        switch byte {
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): count += 1
        case 0xC2 where index + 1 < bytes.count && bytes[index + 1] == 0x85: count += 1
        case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80 && (0xA8...0xA9).contains(bytes[index + 2]):
            count += 1
        default: break
        }
    }
    return count
}

private func checkRefused(_ error: SpecValidationError, lines: Int, bytes: Int) {
    require(!error.diagnostics.isEmpty, "a refusal without a diagnostic")
    for diagnostic in error.diagnostics {
        require(
            diagnostic.file == "fuzz.yaml" && !diagnostic.problem.isEmpty && !diagnostic.field.isEmpty,
            "a diagnostic without file, field or problem: \(diagnostic)")
        require(
            diagnostic.line >= 1 && diagnostic.line <= lines && diagnostic.column >= 1
                && diagnostic.column <= bytes + 1,
            "a diagnostic outside the file (\(lines) lines): \(diagnostic)")
    }
}

private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard condition else { fatalError("JobSpecFuzz: \(message())") }
}
