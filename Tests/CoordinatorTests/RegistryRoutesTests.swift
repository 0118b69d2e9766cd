import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Reports
import SpotwiseCore
import StateStore
import Synchronization
import Testing

/// Run tracking, the registry and the savings report through the routes, on the lifecycle suite's
/// harness (in-memory store, manual lease clock).
extension AttemptLifecycleTests {
    func submit(_ client: some TestClientProtocol, spec: String) async throws -> String {
        let response = try await post(client, "/v1/jobs", token: Self.admin, spec)
        #expect(response.status == .created)
        return try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: response.body)).id
    }

    static let registeredSpec = """
        name: digits
        run: python3 train.py
        deadline: 36h
        checkpoint: {every_steps: 10}
        tags: {team: vision}
        register: {model: digits-classifier, gate: {metric: auc, min: 0.85}}
        """

    static func metrics(epoch: UInt64, resumed: Int, steps: ClosedRange<Int>, loss: Double) -> String {
        let lines = steps.map { #"{"step": \#($0), "metrics": {"loss": \#(loss)}}"# }.joined(separator: ",")
        return #"{"epoch": \#(epoch), "resumed_from_step": \#(resumed), "lines": [\#(lines)]}"#
    }

    static let artifact =
        #"{"storage": "file://checkpoints", "location": "j/model-attempt-2", "manifest_digest": "\#(String(repeating: "cd", count: 32))", "bytes": 42}"#

    @Test func aFinishedJobIsGatedRegisteredAndItsSeriesHasNoStepTwiceAfterAResume() async throws {
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let id = try await submit(client, spec: Self.registeredSpec)
            try await scheduler.scheduleOnce()
            let first = try #require(try await assignment(client, worker, token))
            let batch = Self.metrics(epoch: first.epoch, resumed: 0, steps: 1...15, loss: 1)
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/metrics", token: token, batch).status == .ok)
            let commit =
                #"{"epoch": \#(first.epoch), "step": 10, "location": "x/step-10", "manifest_digest": "\#(Self.digest)"}"#
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/checkpoints", token: token, commit).status == .ok)
            let preempted = #"{"epoch": \#(first.epoch), "outcome": "preempted", "notice": true, "last_step": 15}"#
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/finish", token: token, preempted).status == .ok)

            clock.advance(milliseconds: 500)
            try await scheduler.scheduleOnce()
            let second = try #require(try await assignment(client, worker, token))
            // A late batch from the first attempt is fenced off.
            let late = Self.metrics(epoch: first.epoch, resumed: 0, steps: 16...18, loss: 1)
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/metrics", token: token, late).status == .conflict)
            let beat = #"{"job": "\#(id)", "attempt": 2, "epoch": \#(second.epoch), "step": 11}"#
            #expect(try await post(client, "/v1/workers/\(worker)/heartbeat", token: token, beat).status == .ok)
            let resumed = Self.metrics(epoch: second.epoch, resumed: 10, steps: 11...20, loss: 0.5)
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/2/metrics", token: token, resumed).status == .ok)
            let bad = #"{"epoch": \#(second.epoch), "resumed_from_step": 10, "lines": [{"step": -1, "metrics": {}}]}"#
            let refused = try await post(client, "/v1/jobs/\(id)/attempts/2/metrics", token: token, bad)
            #expect(refused.status == .badRequest && String(buffer: refused.body).contains("invalid_metrics"))
            let done = try await post(
                client, "/v1/jobs/\(id)/attempts/2/finish", token: token,
                #"{"epoch": \#(second.epoch), "outcome": "completed", "metrics": {"auc": 0.97}, "last_step": 20, "artifact": \#(Self.artifact)}"#
            )
            #expect(done.status == .ok)

            let read = try await client.execute(
                uri: "/v1/jobs/\(id)/metrics", method: .get, headers: Self.bearer(Self.reader))
            let tracked = try JobSummary.decoder.decode(JobMetrics.self, from: Data(buffer: read.body))
            let loss = try #require(tracked.series.first { $0.name == "loss" })
            #expect(loss.steps == Array(1...20))
            #expect(loss.attempts == Array(repeating: 1, count: 10) + Array(repeating: 2, count: 10))
            #expect(tracked.finalMetrics == ["auc": 0.97])
            #expect(try await store.segments(job: JobID(id)).allSatisfy { $0.firstStepAt != nil })

            let models = try await client.execute(uri: "/v1/models", method: .get, headers: Self.bearer(Self.reader))
            let listed = try JobSummary.decoder.decode([ModelSummary].self, from: Data(buffer: models.body))
            #expect(listed.map(\.model) == ["digits-classifier"] && listed.first?.latest?.version == 1)
            #expect(listed.first?.latest?.artifact.location == "j/model-attempt-2")
            #expect(listed.first?.latest?.lineage.interruptions == 1)
            let history = try await store.history(JobID(id)).map(\.message)
            #expect(history.contains { $0.contains("model digits-classifier version 1 registered") })

            // Aliases: readers read, only the admin moves.
            let path = "/v1/models/digits-classifier/aliases/production"
            #expect(try await post(client, path, token: Self.reader, #"{"version": 1}"#).status == .forbidden)
            #expect(try await post(client, path, token: Self.admin, #"{"version": 1}"#).status == .ok)
            #expect(try await post(client, path, token: Self.admin, #"{"version": 7}"#).status == .notFound)
            #expect(try await post(client, path, token: Self.admin, #"{"ver": 1}"#).status == .badRequest)
            #expect(try await post(client, path + "/rollback", token: Self.admin, "").status == .conflict)
            let badAlias = try await post(
                client, "/v1/models/digits-classifier/aliases/Prod", token: Self.admin, #"{"version": 1}"#)
            #expect(badAlias.status == .badRequest)
            let detail = try await client.execute(
                uri: "/v1/models/digits-classifier", method: .get, headers: Self.bearer(Self.reader))
            let shown = try JobSummary.decoder.decode(ModelDetail.self, from: Data(buffer: detail.body))
            #expect(shown.aliases == ["production": 1] && shown.aliasHistory.count == 1)
            #expect(
                try await client.execute(uri: "/v1/models/nothing", method: .get, headers: Self.bearer(Self.reader))
                    .status
                    == .notFound)

            // The savings report agrees with the job's own cost, for a read-only token too.
            let job = try JobSummary.decoder.decode(
                JobSummary.self,
                from: Data(
                    buffer: try await client.execute(
                        uri: "/v1/jobs/\(id)", method: .get, headers: Self.bearer(Self.reader)
                    ).body))
            let json = try await client.execute(
                uri: "/v1/reports/savings?by=team", method: .get, headers: Self.bearer(Self.reader))
            #expect(json.status == .ok)
            let object = try #require(JSONSerialization.jsonObject(with: Data(buffer: json.body)) as? [String: Any])
            let totals = try #require(object["totals"] as? [String: Any])
            #expect(totals["actual_usd"] as? String == job.costUSD)
            #expect(totals["on_demand_usd"] as? String == job.onDemandCostUSD)
            #expect(totals["interruptions"] as? Int == 1)
            #expect((object["groups"] as? [[String: Any]])?.first?["key"] as? String == "vision")
            #expect((object["segments"] as? [Any])?.count == 2)
            let csv = try await client.execute(
                uri: "/v1/reports/savings?format=csv", method: .get, headers: Self.bearer(Self.reader))
            #expect(
                csv.headers[.contentType]?.hasPrefix("text/csv") == true
                    && String(buffer: csv.body).contains("TOTAL,1,2,"))
            let html = try await client.execute(
                uri: "/reports/savings", method: .get, headers: Self.bearer(Self.reader))
            #expect(
                html.headers[.contentType]?.hasPrefix("text/html") == true && String(buffer: html.body).contains("<svg")
            )
            #expect(try await client.execute(uri: "/reports/savings", method: .get).status == .unauthorized)
            for query in ["by=colour", "since=yesterday", "format=pdf"] {
                let wrong = try await client.execute(
                    uri: "/v1/reports/savings?\(query)", method: .get, headers: Self.bearer(Self.reader))
                #expect(wrong.status == .badRequest, "\(query)")
            }
            let window = try await client.execute(
                uri: "/v1/reports/savings?since=2999-01-01", method: .get, headers: Self.bearer(Self.reader))
            #expect(String(buffer: window.body).contains(#""segments":[]"#))
        }
    }

    @Test func aModelBelowItsGateIsRejectedWithTheReasonAndGetsNoVersion() async throws {
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            let id = try await submit(client, spec: Self.registeredSpec)
            try await scheduler.scheduleOnce()
            let first = try #require(try await assignment(client, worker, token))
            let beat = #"{"job": "\#(id)", "attempt": 1, "epoch": \#(first.epoch), "step": 1}"#
            #expect(try await post(client, "/v1/workers/\(worker)/heartbeat", token: token, beat).status == .ok)
            let done = try await post(
                client, "/v1/jobs/\(id)/attempts/1/finish", token: token,
                #"{"epoch": \#(first.epoch), "outcome": "completed", "metrics": {"auc": 0.61}, "artifact": \#(Self.artifact)}"#
            )
            #expect(done.status == .ok)
            #expect(try await store.modelVersions(model: nil).isEmpty)
            let decision = try #require(try await store.gateDecision(job: JobID(id)))
            #expect(!decision.accepted && decision.reason == "gate auc >= 0.85: auc 0.61 < 0.85")
            let history = try await store.history(JobID(id)).map(\.message)
            #expect(history.contains("model digits-classifier not registered: gate auc >= 0.85: auc 0.61 < 0.85"))
            #expect(try await store.job(JobID(id))?.state == .succeeded, "the job succeeded; its model did not pass")
        }
    }

    @Test func maxCostStopsTheJobAfterItsCheckpointWithAClearEvent() async throws {
        let wall = WallClock(Date(timeIntervalSince1970: 1_000_000), lease: clock)
        let scheduler = JobScheduler(store: store, clock: wall, leasePolicy: policy, board: board)
        try await app().test(.router) { client in
            let (worker, token) = try await register(client)
            // $0.36/h: $0.001 every 10 s.
            let id = try await submit(client, spec: Self.registeredSpec + "\nmax_cost: 0.001\n")
            try await scheduler.scheduleOnce()
            let first = try #require(try await assignment(client, worker, token))
            let beat = #"{"job": "\#(id)", "attempt": 1, "epoch": \#(first.epoch), "step": 5}"#
            let reply = try await post(client, "/v1/workers/\(worker)/heartbeat", token: token, beat)
            #expect(String(buffer: reply.body).contains(#""command":"continue""#))

            wall.advance(seconds: 11)
            clock.advance(milliseconds: 1_000)
            try await scheduler.scheduleOnce()
            // Over budget: asked to checkpoint and stop, the lease still live so the checkpoint counts.
            let stop = try await post(client, "/v1/workers/\(worker)/heartbeat", token: token, beat)
            #expect(String(buffer: stop.body).contains(#""command":"stop""#))
            #expect(try await store.job(JobID(id))?.state == .running)
            let commit =
                #"{"epoch": \#(first.epoch), "step": 8, "location": "x/step-8", "manifest_digest": "\#(Self.digest)"}"#
            #expect(try await post(client, "/v1/jobs/\(id)/attempts/1/checkpoints", token: token, commit).status == .ok)

            clock.advance(milliseconds: 1_000)
            try await scheduler.scheduleOnce()
            let job = try #require(try await store.job(JobID(id)))
            #expect(job.state == .failed && job.record.committedCheckpoint?.step == 8)
            #expect(job.record.outcome?.hasPrefix("max_cost $0.00 reached (spent $0.00") == true)
            let history = try await store.history(JobID(id)).map(\.message)
            #expect(history.contains { $0.contains("max_cost") && $0.contains("checkpoints and stops") })
            #expect(try await store.lease(job: JobID(id))?.revoked == true)
            let segment = try await store.segments(job: JobID(id)).first
            #expect(segment?.endReason?.hasPrefix("stopped: max_cost") == true && segment?.endKind == .stopped)
            // Not placed again.
            clock.advance(milliseconds: 1_000)
            #expect(try await scheduler.scheduleOnce().placements.isEmpty)
        }
    }
}

/// A wall clock a test moves by hand.
/// Wall-clock time moved by the test apart from the lease clock (a ledger's worth of hours in a
/// moment of leases).
final class WallClock: CoordinatorClock {
    private let value: Mutex<Date>
    let lease: any LeaseClock

    init(_ start: Date, lease: any LeaseClock) {
        value = Mutex(start)
        self.lease = lease
    }

    var now: Date { value.withLock { $0 } }
    func nowMilliseconds() -> Int64 { lease.nowMilliseconds() }

    func advance(seconds: Double) { value.withLock { $0 += seconds } }
}
