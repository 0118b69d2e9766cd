import Foundation
import Reports
import SpotwiseCore
import StateStore
import Testing

/// A savings CSV opened in a spreadsheet must not run a formula a job's tags or name carried
/// (issue 14, item 9): text cells that begin like a formula get a leading `'`; numbers stay numbers.
@Suite struct CSVFormulaTests {
    static let cells: [(text: String, written: String)] = [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-5", "'-5"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "\"'\r=1\""),
        ("\r\n=1", "\"'\r\n=1\""),
        (#"=HYPERLINK("http://x", "y")"#, #""'=HYPERLINK(""http://x"", ""y"")""#),
        ("vision", "vision"),
        ("a=b", "a=b"),
        ("a\r\nb", "\"a\r\nb\""),
        ("", ""),
    ]

    @Test(arguments: cells.indices)
    func aTextCellThatBeginsLikeAFormulaIsPrefixed(index: Int) {
        let (text, written) = Self.cells[index]
        #expect(SavingsReport.csvField(text) == written)
    }

    @Test func aHostileTeamTagIsTextAndTheNumbersAreNot() throws {
        let pool = WorkerPool(
            region: "us-east-1", market: .spot, instanceType: "p4d", pricePerHour: Money(micros: 1_000_000),
            onDemandPricePerHour: Money(micros: 3_000_000))
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        var segment = AttemptSegment(
            job: JobID("job-1"), attempt: 1, epoch: LeaseEpoch(1), workerID: "w", provider: "local", pool: pool,
            startedAt: start, resumedFromStep: 0)
        segment.endedAt = start.addingTimeInterval(3_600)
        var spec = JobSpec(name: "j", run: "true")
        spec.tags = ["team": "=cmd|' /C calc'!A0"]
        let row = LedgerRow(
            segment: segment,
            job: StoredJob(
                id: segment.job, spec: spec, record: JobRecord(budget: RetryBudget(spec.retries)), version: 1,
                idempotencyKey: nil, submittedAt: start, updatedAt: start),
            now: start.addingTimeInterval(7_200))
        let report = SavingsReport(rows: [row], since: nil, until: nil, by: .team, generatedAt: start)
        let lines = report.csv().split(separator: "\n")
        let group = try #require(lines.dropFirst().first)
        let cells = group.split(separator: ",", omittingEmptySubsequences: false)
        #expect(cells.first == "'=cmd|' /C calc'!A0", "\(group)")
        #expect(cells.dropFirst().allSatisfy { !$0.hasPrefix("'") }, "no number cell is prefixed: \(group)")
        #expect(cells[3] == Substring(row.cost.exactDescription), "the cost is a number: \(group)")
    }
}
