import Foundation
import Reports
import SpotwiseCore
import StateStore
import Testing

@Suite struct LedgerRowTests {
    static let pool = WorkerPool(
        region: "us-east-1", market: .spot, instanceType: "g5.xlarge", pricePerHour: Money(micros: 3_600_000),
        onDemandPricePerHour: Money(micros: 7_200_000))

    static func segment(
        start: Double, firstStep: Double?, end: Double?, reason: AttemptEndKind?, resumed: Int?, last: Int?,
        committed: Int?
    ) -> AttemptSegment {
        var segment = AttemptSegment(
            job: JobID("job-1"), attempt: 2, epoch: LeaseEpoch(2), workerID: "w", provider: "sagemaker", pool: pool,
            startedAt: Date(timeIntervalSince1970: start), resumedFromStep: resumed)
        segment.firstStepAt = firstStep.map { Date(timeIntervalSince1970: $0) }
        segment.endedAt = end.map { Date(timeIntervalSince1970: $0) }
        segment.endKind = reason
        segment.endReason = reason?.rawValue
        segment.lastStep = last
        segment.committedStep = committed
        return segment
    }

    @Test func aGangSegmentBillsEveryNodeAndStillAddsUp() throws {
        var segment = Self.segment(
            start: 1_000, firstStep: 1_020, end: 1_620, reason: .preemptedWithNotice, resumed: 100, last: 220,
            committed: 200)
        let single = LedgerRow(segment: segment, job: nil, now: Date(timeIntervalSince1970: 9_999))
        segment.nodes = 4
        let gang = LedgerRow(segment: segment, job: nil, now: Date(timeIntervalSince1970: 9_999))
        #expect(gang.nodes == 4 && gang.pricePerHour == single.pricePerHour)
        #expect(gang.cost == Money(micros: 4 * single.cost.micros))
        #expect(gang.onDemandEquivalent == Money(micros: 4 * single.onDemandEquivalent.micros))
        #expect(gang.lostCost == Money(micros: 4 * single.lostCost.micros))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(LedgerRow.self, from: try encoder.encode(gang)) == gang)
    }

    @Test func anInterruptedSegmentSplitsIntoOverheadLostAndUsefulThatAddUp() {
        // 620 s at $3.60/h ($0.001/s): 20 s to the first step, then 120 steps (100 -> 220) of which
        // 100 were committed: 20 steps lost, i.e. 100 s of the 600 s of compute.
        let row = LedgerRow(
            segment: Self.segment(
                start: 1_000, firstStep: 1_020, end: 1_620, reason: .preemptedWithNotice, resumed: 100, last: 220,
                committed: 200),
            job: nil, now: Date(timeIntervalSince1970: 9_999))
        #expect(row.billedMilliseconds == 620_000)
        #expect(row.overheadMilliseconds == 20_000)
        #expect(row.lostMilliseconds == 100_000)
        #expect(row.usefulMilliseconds == 500_000)
        #expect(row.usefulSteps == 100 && row.lostSteps == 20)
        #expect(row.interrupted)
        #expect(row.cost == Money(micros: 620_000))
        #expect(row.overheadCost == Money(micros: 20_000))
        #expect(row.lostCost == Money(micros: 100_000))
        // The useful 500 s at the on-demand $7.20/h; every billed second on demand for SageMaker's figure.
        #expect(row.onDemandEquivalent == Money(micros: 1_000_000))
        #expect(row.onDemandForBilledTime == Money(micros: 1_240_000))
    }

    @Test func aCompletedSegmentLosesNothingAndARunningOneIsPricedUpToNow() {
        let done = LedgerRow(
            segment: Self.segment(
                start: 0, firstStep: 10, end: 110, reason: .completed, resumed: 50, last: 100, committed: 50),
            job: nil, now: Date(timeIntervalSince1970: 500))
        #expect(done.lostSteps == 0 && done.usefulSteps == 50 && done.lostMilliseconds == 0)
        #expect(!done.interrupted)
        let running = LedgerRow(
            segment: Self.segment(
                start: 0, firstStep: 30, end: nil, reason: nil, resumed: nil, last: nil, committed: nil),
            job: nil, now: Date(timeIntervalSince1970: 90))
        #expect(running.billedMilliseconds == 90_000 && running.overheadMilliseconds == 30_000)
        #expect(running.cost == Money(micros: 90_000) && running.lostCost == .zero)
        // Lost before any step was trained: all overhead, no useful compute.
        let lost = LedgerRow(
            segment: Self.segment(
                start: 0, firstStep: nil, end: 40, reason: .lost, resumed: 10, last: nil, committed: 10
            ),
            job: nil, now: Date(timeIntervalSince1970: 90))
        #expect(lost.overheadMilliseconds == 40_000 && lost.onDemandEquivalent == .zero && lost.interrupted)
    }

    @Test func lostWorkIsALowerBoundOnlyWhenTheAttemptEndedWithoutTheWorkersReport() throws {
        let expected: [(AttemptEndKind?, Bool)] = [
            (.lost, true), (.preemptedWithoutNotice, true), (.cancelled, true),
            (.stopped, true), (.infrastructure, true),
            (.preemptedWithNotice, false), (.failed, false), (.completed, false),
            (.resized, false), (.other, true), (nil, false),
        ]
        #expect(Set(expected.compactMap(\.0)) == Set(AttemptEndKind.allCases), "every kind has a row here")
        for (reason, lowerBound) in expected {
            let row = LedgerRow(
                segment: Self.segment(
                    start: 0, firstStep: 10, end: reason == nil ? nil : 110, reason: reason, resumed: 100, last: 160,
                    committed: 150),
                job: nil, now: Date(timeIntervalSince1970: 500))
            #expect(row.lostIsLowerBound == lowerBound, "\(reason?.rawValue ?? "running")")
            if reason == nil {
                // Still running with steps heard (from metric batches): nothing lost yet.
                #expect(row.lostSteps == 0 && row.usefulSteps == 60 && row.lostMilliseconds == 0)
            }
        }
        // The flag survives the JSON form, and a row written before it existed reads as exact.
        let lost = LedgerRow(
            segment: Self.segment(
                start: 0, firstStep: 10, end: 110, reason: .lost, resumed: 100, last: 160,
                committed: 150),
            job: nil, now: Date(timeIntervalSince1970: 500))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let data = try encoder.encode(lost)
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["lost_is_lower_bound"] as? Bool == true)
        #expect(try decoder.decode(LedgerRow.self, from: data) == lost)
        var older = object
        older["lost_is_lower_bound"] = nil
        let old = try decoder.decode(LedgerRow.self, from: JSONSerialization.data(withJSONObject: older))
        #expect(!old.lostIsLowerBound && old.lostSteps == lost.lostSteps)
    }

    @Test func whatTheNextAttemptResumedFromIsWhatThisOneKept() {
        // Committed 150, but the next attempt resumed from 120 (150 failed verification): 40 of the
        // 60 steps trained (100 -> 160) are trained again.
        let segment = Self.segment(
            start: 0, firstStep: 10, end: 110, reason: .preemptedWithNotice, resumed: 100, last: 160, committed: 150)
        var next = segment
        next.attempt = 3
        next.resumedFromStep = 120
        let row = LedgerRow(segment: segment, job: nil, now: Date(timeIntervalSince1970: 500), next: next)
        #expect(row.usefulSteps == 20 && row.lostSteps == 40)
        // The next attempt started from scratch: everything this one trained is lost.
        next.resumedFromStep = nil
        let scratch = LedgerRow(segment: segment, job: nil, now: Date(timeIntervalSince1970: 500), next: next)
        #expect(scratch.usefulSteps == 0 && scratch.lostSteps == 60)
        // No next attempt: the committed step is what was kept.
        let alone = LedgerRow(segment: segment, job: nil, now: Date(timeIntervalSince1970: 500))
        #expect(alone.usefulSteps == 50 && alone.lostSteps == 10)
    }
}
