import Coordinator
import Foundation
import HummingbirdTesting
import Reports
import SpotwiseCore
import StateStore
import Testing

/// Issue 14 item 12: an attempt killed without notice counts the work it is known to have lost,
/// from the highest step the coordinator heard of (heartbeats and metric batches), as a lower
/// bound. On the lifecycle suite's harness (in-memory store, manual lease clock).
extension AttemptLifecycleTests {
    @Test func anAttemptLostWithoutNoticeCountsTheHighestStepHeardAndSaysItIsALowerBound() async throws {
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let id = try await submit(client)
            try await scheduler.scheduleOnce()
            let first = try #require(try await assignment(client, worker, token))
            let commit =
                #"{"epoch": \#(first.epoch), "step": 650, "location": "x/step-650", "manifest_digest": "\#(Self.digest)"}"#
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/checkpoints", token: token, commit).status == .ok)
            // The trainer reported 655 (with a metric) and 660 (without one) in the last batch...
            let batch =
                #"{"epoch": \#(first.epoch), "resumed_from_step": 0, "lines": [{"step": 655, "metrics": {"loss": 0.5}}, {"step": 660, "metrics": {}}]}"#
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/metrics", token: token, batch).status == .ok)
            // ...and its last heartbeat, sent before that batch, said 650.
            let beat =
                #"{"job": "\#(id)", "attempt": 1, "epoch": \#(first.epoch), "step": 650, "committed_step": 650}"#
            #expect(try await post(client, "/v1/workers/\(worker)/heartbeat", token: token, beat).status == .ok)
            // Then the node dies without a word: the lease runs out.
            // While it runs, nothing is lost yet.
            let running = try #require(try await SavingsReport.ledger(from: store, now: Date()).first)
            #expect(running.lostSteps == 0 && running.usefulSteps == 660 && !running.lostIsLowerBound)
            let lease = try #require(try await store.lease(job: JobID(id)))
            clock.advance(milliseconds: lease.expiresAtMilliseconds - clock.nowMilliseconds() + 1)
            let reconciler = LeaseReconciler(store: store, clock: clock, board: board)
            #expect(try await reconciler.reconcileOnce() == [JobID(id)])

            let segment = try #require(try await store.segments(job: JobID(id)).first)
            #expect(segment.endReason == "lost (lease expired)")
            #expect(segment.lastStep == 660 && segment.committedStep == 650)
            let rows = try await SavingsReport.ledger(from: store, now: Date())
            let row = try #require(rows.first)
            #expect(row.lostSteps == 10 && row.usefulSteps == 650)
            #expect(row.lostIsLowerBound)
            let report = SavingsReport(rows: rows, since: nil, until: nil, by: .job, generatedAt: Date())
            #expect(report.totals.lostSteps == 10 && report.totals.lostIsLowerBound)
        }
    }

    @Test func aStepHeardAfterTheAttemptEndedChangesNothingAndAWorkersFinalReportIsExact() async throws {
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let id = try await submit(client)
            try await scheduler.scheduleOnce()
            let first = try #require(try await assignment(client, worker, token))
            let commit =
                #"{"epoch": \#(first.epoch), "step": 40, "location": "x/step-40", "manifest_digest": "\#(Self.digest)"}"#
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/checkpoints", token: token, commit).status == .ok)
            let batch =
                #"{"epoch": \#(first.epoch), "resumed_from_step": 0, "lines": [{"step": 44, "metrics": {"loss": 0.5}}]}"#
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/metrics", token: token, batch).status == .ok)
            // A notice: the worker's own report of how far its trainer got ends the attempt.
            let preempted = #"{"epoch": \#(first.epoch), "outcome": "preempted", "notice": true, "last_step": 47}"#
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/finish", token: token, preempted).status == .ok)
            // Recorded straight on the store after the end (a late batch is fenced off by the API).
            try await store.recordReachedStep(job: JobID(id), attempt: 1, step: 90)

            let segment = try #require(try await store.segments(job: JobID(id)).first)
            #expect(segment.lastStep == 47)
            let row = try #require(try await SavingsReport.ledger(from: store, now: Date()).first)
            #expect(row.lostSteps == 7 && !row.lostIsLowerBound)
        }
    }
}
