import Foundation
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// The highest step heard of for an attempt (issue 14 item 12): raised while the segment is open,
/// never lowered, kept when it ends. The same on every store.
@Suite struct ReachedStepConformanceTests {
    @Test(arguments: StoreKind.withoutServers)
    func aSegmentKeepsTheHighestStepHeardWhileItRanAndAfterItEnded(kind: StoreKind) async throws {
        let (store, _) = try await kind.open()
        defer { Task { try? await store.close() } }
        let job = try await store.submit(submission("j")).job
        for attempt in 1...3 {
            try await store.openSegment(
                AttemptSegment(
                    job: job.id, attempt: attempt, epoch: LeaseEpoch(UInt64(attempt)), workerID: "worker-a",
                    provider: "local", pool: AttemptRecordsConformanceTests.spotPool,
                    startedAt: Date(timeIntervalSince1970: Double(attempt)), resumedFromStep: nil))
        }
        // Raised, never lowered, while open.
        try await store.recordReachedStep(job: job.id, attempt: 1, step: 655)
        try await store.recordReachedStep(job: job.id, attempt: 1, step: 660)
        try await store.recordReachedStep(job: job.id, attempt: 1, step: 640)
        #expect(try await store.segments(job: job.id)[0].lastStep == 660)
        // An end with a lower last step (a heartbeat from before the batch) or none keeps it.
        try await store.closeSegment(
            job: job.id, attempt: 1,
            end: SegmentEnd(
                at: Date(timeIntervalSince1970: 10), reason: .lost, lastStep: 650, committedStep: 650))
        try await store.recordReachedStep(job: job.id, attempt: 2, step: 30)
        try await store.closeSegment(
            job: job.id, attempt: 2,
            end: SegmentEnd(
                at: Date(timeIntervalSince1970: 20), reason: .lost, lastStep: nil, committedStep: 20))
        // A higher one from the end wins.
        try await store.recordReachedStep(job: job.id, attempt: 3, step: 30)
        try await store.closeSegment(
            job: job.id, attempt: 3,
            end: SegmentEnd(
                at: Date(timeIntervalSince1970: 30), reason: .preempted(withNotice: true), lastStep: 35,
                committedStep: 30))
        // Once ended, nothing changes it; an unknown attempt or job is no error and changes nothing.
        try await store.recordReachedStep(job: job.id, attempt: 1, step: 9_999)
        try await store.recordReachedStep(job: job.id, attempt: 7, step: 1)
        try await store.recordReachedStep(job: JobID("nope"), attempt: 1, step: 1)
        let segments = try await store.segments(job: job.id)
        #expect(segments.map(\.lastStep) == [660, 30, 35])
        #expect(segments.map(\.committedStep) == [650, 20, 30])
        #expect(segments.map(\.endReason) == ["lost (lease expired)", "lost (lease expired)", "preempted with notice"])
        #expect(segments.map(\.endKind) == [.lost, .lost, .preemptedWithNotice])
    }
}

/// The test above on PostgreSQL (skipped, not passed, without SPOTWISE_TEST_POSTGRES_URL).
@Suite(.needsPostgres) struct ReachedStepConformanceOnPostgres {
    @Test func aSegmentKeepsTheHighestStepHeardWhileItRanAndAfterItEnded() async throws {
        try await ReachedStepConformanceTests().aSegmentKeepsTheHighestStepHeardWhileItRanAndAfterItEnded(
            kind: .postgres)
    }
}
