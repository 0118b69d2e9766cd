import Foundation
import Testing

@testable import WorkerAgent

/// A trainer's progress lines are input the agent forwards to the coordinator, which refuses a
/// heartbeat with a negative step (issue 14, item 5): the agent drops such values rather than have
/// every heartbeat of the attempt refused and its lease run out.
@Suite struct ProgressReaderTests {
    @Test func negativeStepsAndTotalsAreDroppedAndTheRestIsKept() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let lines = [
            #"{"step": -5, "total_steps": 920, "checkpoint": "step--5"}"#,
            #"{"step": 10, "total_steps": -1, "metrics": {"loss": 0.5}}"#,
            #"{"step": 20, "checkpoint": "step-20"}"#,
            "not json",
        ]
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        var reader = ProgressReader(url: url)
        let read = reader.read()
        #expect(read.count == 3)
        #expect(read[0].step == nil && read[0].checkpoint == nil && read[0].totalSteps == 920)
        #expect(read[1].step == 10 && read[1].totalSteps == nil && read[1].metrics?["loss"] == 0.5)
        #expect(read[2].step == 20 && read[2].checkpoint == "step-20")
    }
}
