import Foundation
import Reports
import SpotwiseCore
import StateStore
import Testing

@Suite struct SavingsReportTests {
    /// Random ledger rows with odd prices (to the micro-dollar) and millisecond times.
    static func rows(count: Int, seed: UInt64) -> [LedgerRow] {
        var random = SeededGenerator(seed: seed)
        let teams = ["vision", "speech", "ranking"]
        return (0..<count).map { index in
            let onDemand = Int64.random(in: 500_000...40_000_000, using: &random)
            let market: Market = Bool.random(using: &random) ? .spot : .onDemand
            let price = market == .spot ? Int64.random(in: 100_000...onDemand, using: &random) : onDemand
            let pool = WorkerPool(
                region: ["us-east-1", "us-west-2", "local-a"].randomElement(using: &random)!, market: market,
                instanceType: "p4d", pricePerHour: Money(micros: price), onDemandPricePerHour: Money(micros: onDemand))
            let start = 1_700_000_000_000 + Int64.random(in: 0...86_400_000 * 30, using: &random)
            let length = Int64.random(in: 1...36_000_000, using: &random)
            var segment = AttemptSegment(
                job: JobID("job-\(index % 37)"), attempt: index / 37 + 1, epoch: LeaseEpoch(UInt64(index + 1)),
                workerID: "w", provider: ["sagemaker", "vertex", "local"].randomElement(using: &random)!, pool: pool,
                startedAt: Date(timeIntervalSince1970: Double(start) / 1000),
                resumedFromStep: Int.random(in: 0...500, using: &random))
            segment.firstStepAt = Date(
                timeIntervalSince1970: Double(start + Int64.random(in: 0...length, using: &random)) / 1000)
            segment.endedAt = Date(timeIntervalSince1970: Double(start + length) / 1000)
            let reached = segment.resumedFromStep! + Int.random(in: 0...2_000, using: &random)
            segment.lastStep = reached
            segment.committedStep = Int.random(in: segment.resumedFromStep!...reached, using: &random)
            segment.endKind = [AttemptEndKind.completed, .preemptedWithNotice, .lost].randomElement(using: &random)
            var spec = JobSpec(name: "job-\(index % 37)", run: "true")
            spec.tags = ["team": teams[index % 3]]
            return LedgerRow(
                segment: segment,
                job: StoredJob(
                    id: segment.job, spec: spec, record: JobRecord(budget: RetryBudget(spec.retries)), version: 1,
                    idempotencyKey: nil, submittedAt: segment.startedAt, updatedAt: segment.startedAt),
                now: Date())
        }
    }

    /// Price x duration for one row, computed apart from `Money.perHour`: Decimal arithmetic,
    /// rounded half up to the micro-dollar.
    static func independentCost(_ row: LedgerRow) -> Int64 {
        var exact = Decimal(row.pricePerHour.micros) * Decimal(row.billedMilliseconds) / Decimal(3_600_000)
        var rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 0, .plain)
        return NSDecimalNumber(decimal: rounded).int64Value
    }

    @Test func totalsReconcileWithTheLedgerToTheCentForEveryGrouping() throws {
        let rows = Self.rows(count: 600, seed: 42)
        let ledgerTotal = rows.reduce(Int64(0)) { $0 + Self.independentCost($1) }
        for grouping in SavingsReport.Grouping.allCases {
            let report = SavingsReport(rows: rows, since: nil, until: nil, by: grouping, generatedAt: Date())
            #expect(report.totals.actual.micros == ledgerTotal, "\(grouping)")
            #expect(report.groups.reduce(Money.zero) { $0 + $1.figures.actual } == report.totals.actual)
            #expect(report.groups.reduce(Money.zero) { $0 + $1.figures.onDemand } == report.totals.onDemand)
            #expect(report.groups.reduce(0) { $0 + $1.figures.interruptions } == report.totals.interruptions)
            #expect(report.groups.reduce(0) { $0 + $1.figures.lostSteps } == report.totals.lostSteps)
            #expect(report.totals.savings == report.totals.onDemand - report.totals.actual)
            // Each row's parts add up to its cost.
            for row in report.segments {
                #expect(row.overheadCost.micros + row.lostCost.micros <= row.cost.micros + 1)
            }
        }
    }

    @Test func theJSONFormReconcilesAndReadsBackExactly() throws {
        let rows = Self.rows(count: 200, seed: 7)
        let report = SavingsReport(
            rows: rows, since: nil, until: nil, by: .team, generatedAt: Date(timeIntervalSince1970: 1))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(report)
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let totals = try #require(object["totals"] as? [String: Any])
        for key in [
            "actual_usd", "on_demand_usd", "savings_usd", "savings_pct", "interruptions", "lost_steps", "lost_usd",
            "overhead_usd",
        ] {
            #expect(totals[key] != nil, "totals.\(key)")
        }
        let segments = try #require(object["segments"] as? [[String: Any]])
        let summed = segments.reduce(Money.zero) { $0 + Money(decimalDollars: $1["actual_usd"] as! String)! }
        #expect(Money(decimalDollars: totals["actual_usd"] as! String) == summed)
        let lost = segments.reduce(Money.zero) { $0 + Money(decimalDollars: $1["lost_usd"] as! String)! }
        #expect(Money(decimalDollars: totals["lost_usd"] as! String) == lost)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let back = try decoder.decode(SavingsReport.self, from: data)
        #expect(back.totals.actual == report.totals.actual && back.segments.map(\.cost) == report.segments.map(\.cost))
        #expect(back.groups.map(\.key) == report.groups.map(\.key))
    }

    @Test func theCSVTotalLineIsTheSumOfItsGroupLines() throws {
        let report = SavingsReport(
            rows: Self.rows(count: 120, seed: 3), since: nil, until: nil, by: .provider, generatedAt: Date())
        let lines = report.csv().split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        #expect(lines[0][3] == "actual_usd")
        let groups = lines.dropFirst().dropLast()
        let total = try #require(lines.last)
        #expect(total[0] == "TOTAL")
        let summed = groups.reduce(Money.zero) { $0 + Money(decimalDollars: String($1[3]))! }
        #expect(Money(decimalDollars: String(total[3])) == summed)
        #expect(SavingsReport.csvField("a,\"b\"") == "\"a,\"\"b\"\"\"")
    }

    @Test func theWindowSelectsSegmentsByTheirStart() {
        let rows = Self.rows(count: 300, seed: 11)
        let since = rows.map(\.startedAt).sorted()[100]
        let until = rows.map(\.startedAt).sorted()[200]
        let report = SavingsReport(rows: rows, since: since, until: until, by: .job, generatedAt: Date())
        #expect(report.segments.count == 100)
        #expect(report.segments.allSatisfy { $0.startedAt >= since && $0.startedAt < until })
        #expect(SavingsReport.time("2026-11-30") == Date(timeIntervalSince1970: 1_795_996_800))
        #expect(SavingsReport.time("2026-11-30T01:00:00.5Z") == Date(timeIntervalSince1970: 1_796_000_400.5))
        #expect(SavingsReport.time("yesterday") == nil)
    }

    @Test func theHTMLPageIsSelfContainedAndEscapesWhatItShows() {
        var rows = Self.rows(count: 50, seed: 5)
        rows[0].team = "<script>alert(1)</script>"
        let html = SavingsReport(rows: rows, since: nil, until: nil, by: .team, generatedAt: Date()).html()
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains("<svg") && html.contains("<polyline"))
        // Attribute values are quoted once: the polyline's points are plain numbers.
        let points = html.components(separatedBy: "<polyline points=\"")[1].prefix { $0 != "\"" }
        #expect(
            !points.isEmpty && points.allSatisfy { $0.isNumber || $0 == "." || $0 == "," || $0 == " " || $0 == "-" })
        #expect(!html.contains("<script"), "nothing runs, and a tag value is escaped")
        #expect(html.contains("&lt;script&gt;"))
        #expect(!html.contains("src=") && !html.contains("href=") && !html.contains("@import"))
        let urls = html.components(separatedBy: "http").count - 1
        #expect(urls == 1, "only the SVG namespace")
        let empty = SavingsReport(rows: [], since: nil, until: nil, by: .job, generatedAt: Date()).html()
        #expect(empty.contains("No attempt segments"))
    }

    @Test func aLowerBoundOnLostWorkIsMarkedInEveryFormAndExactFiguresAreNot() throws {
        let rows = Self.rows(count: 60, seed: 9)
        let exact = rows.filter { !$0.lostIsLowerBound }
        let bounded = SavingsReport(rows: rows, since: nil, until: nil, by: .team, generatedAt: Date())
        let plain = SavingsReport(rows: exact, since: nil, until: nil, by: .team, generatedAt: Date())
        #expect(rows.contains(where: \.lostIsLowerBound) && !exact.isEmpty)
        #expect(bounded.totals.lostIsLowerBound && !plain.totals.lostIsLowerBound)
        for group in bounded.groups {
            let expected = rows.contains { $0.team == group.key && $0.lostIsLowerBound }
            #expect(group.figures.lostIsLowerBound == expected, "\(group.key)")
        }

        // JSON: a field on the totals, the groups and the rows; read back.
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(bounded)
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((object["totals"] as? [String: Any])?["lost_is_lower_bound"] as? Bool == true)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(SavingsReport.self, from: data).totals.lostIsLowerBound)

        // CSV: a last column, added after every earlier one.
        let lines = bounded.csv().split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        #expect(lines[0].last == "lost_is_lower_bound" && lines[0][8] == "lost_steps")
        #expect(lines.last?.last == "true")
        #expect(plain.csv().split(separator: "\n").last?.hasSuffix(",false") == true)

        // HTML: `>=` before a bounded figure, and what it means.
        let page = bounded.html()
        #expect(page.contains("at least \(bounded.totals.lostSteps) steps"))
        #expect(page.contains("&gt;=") && page.contains("lower bound"))
        let plainPage = plain.html()
        #expect(!plainPage.contains("&gt;=") && !plainPage.contains("lower bound"))
    }
}
