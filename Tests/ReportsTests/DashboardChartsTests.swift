import Foundation
import Reports
import SpotwiseCore
import StateStore
import Testing

/// The job page's SVG: the attempt timeline marks each interruption with whether a notice came and
/// the steps it lost; the metric chart draws one line per attempt, rings each resume, thins long
/// series and escapes metric names.
@Suite struct DashboardChartsTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func row(
        attempt: Int, market: Market, from: Double, to: Double?, reason: AttemptEndKind?, next: Int?, last: Int?
    )
        -> LedgerRow
    {
        let pool = WorkerPool(
            region: "r1", market: market, instanceType: "g5", pricePerHour: Money(micros: 1_000_000),
            onDemandPricePerHour: Money(micros: 3_000_000))
        var segment = AttemptSegment(
            job: JobID("job-1"), attempt: attempt, epoch: LeaseEpoch(UInt64(attempt)), workerID: "w", provider: "local",
            pool: pool, startedAt: start.addingTimeInterval(from), resumedFromStep: 0)
        segment.endedAt = to.map { start.addingTimeInterval($0) }
        segment.endKind = reason
        segment.endReason = reason?.rawValue
        segment.lastStep = last
        var following: AttemptSegment?
        if let next {
            following = segment
            following?.attempt = attempt + 1
            following?.resumedFromStep = next
        }
        return LedgerRow(segment: segment, job: nil, now: start.addingTimeInterval(1_000), next: following)
    }

    @Test func interruptionsAreMarkedWithNoticeAndStepsLost() {
        let rows = [
            Self.row(attempt: 1, market: .spot, from: 0, to: 100, reason: .preemptedWithNotice, next: 40, last: 50),
            Self.row(
                attempt: 2, market: .spot, from: 110, to: 200, reason: .preemptedWithoutNotice, next: 80, last: 95),
            Self.row(attempt: 3, market: .onDemand, from: 210, to: nil, reason: nil, next: nil, last: nil),
        ]
        let svg = AttemptTimeline.svg(rows, now: Self.start.addingTimeInterval(300))
        #expect(svg.components(separatedBy: "<rect class=\"attempt market-spot\"").count - 1 == 2)
        #expect(svg.components(separatedBy: "<rect class=\"attempt market-on-demand\"").count - 1 == 1)
        #expect(svg.contains("<g class=\"interruption notice\" data-steps-lost=\"10\">"))
        #expect(svg.contains("<g class=\"interruption no-notice\" data-steps-lost=\"15\">"))
        #expect(svg.components(separatedBy: "class=\"interruption").count - 1 == 2)
    }

    /// Finite values whose difference overflows (a trainer may report any finite number) draw,
    /// never trap the coordinator.
    @Test func extremeValuesDrawWithoutTrapping() {
        let points = [
            MetricPoint(name: "x", step: 0, value: -1e308, attempt: 1),
            MetricPoint(name: "x", step: 5, value: 1e308, attempt: 1),
            MetricPoint(name: "x", step: 9, value: 0, attempt: 2),
        ]
        let svg = MetricChart.svg(points)
        #expect(svg.contains("<polyline") && !svg.lowercased().contains("nan") && !svg.contains("inf"))
    }

    @Test func aResumedAttemptIsRingedAndLongSeriesAreThinned() {
        var points: [MetricPoint] = []
        for step in 0..<5_000 {
            points.append(MetricPoint(name: "loss<x>", step: step, value: 1 / Double(step + 1), attempt: 1))
        }
        for step in 3_000..<6_000 { points.append(MetricPoint(name: "loss<x>", step: step, value: 0.001, attempt: 2)) }
        let svg = MetricChart.svg(points)
        #expect(svg.contains("data-points=\"8000\""))
        #expect(svg.components(separatedBy: "<circle class=\"resume\"").count - 1 == 1)
        #expect(svg.contains("resumed at step 3000"))
        #expect(!svg.contains("loss<x>") && svg.contains("loss&lt;x&gt;"))
        var drawn = 0
        for line in svg.split(separator: "\n") where line.hasPrefix("<polyline") {
            let count = line.split(separator: " ").filter { $0.contains(",") }.count
            #expect(count <= MetricChart.maxPointsPerSeries)
            drawn += count
        }
        #expect(drawn > 2 && drawn <= MetricChart.maxPointsPerChart)
    }
}
