import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// Every malformed worker body gets a 400 with a code and a message naming the field, and changes
/// nothing: the job, its lease and its log stay as they were.
@Suite struct WorkerBadInputTests {
    let store = InMemoryStateStore()
    let clock = ManualLeaseClock(1_000)

    static let heartbeats: [(body: String, code: String, says: String)] = [
        ("{\"job\": 5", "malformed_json", "JSON object"),
        ("[1, 2]", "malformed_json", "must be a JSON object"),
        ("", "malformed_json", "JSON object"),
        (#"{"job": "j", "attempt": 1}"#, "missing_field", "missing field 'epoch'"),
        (#"{"job": "j", "attempt": 1, "epoch": "one"}"#, "wrong_type", "field 'epoch'"),
        (#"{"job": "j", "attempt": 1, "epoch": true}"#, "wrong_type", "field 'epoch'"),
        // Foundation reports a negative number for an unsigned field as invalid JSON, not by field.
        (#"{"job": "j", "attempt": 1, "epoch": -1}"#, "malformed_json", "not valid JSON"),
        (
            #"{"job": "j", "attempt": 1, "epoch": 1, "gpu": 8, "cost": 1}"#, "unknown_field",
            "unknown field(s) cost, gpu"
        ),
    ]

    @Test(arguments: heartbeats.indices)
    func aBadHeartbeatIsRefusedWithWhatIsWrong(index: Int) async throws {
        let (body, code, says) = Self.heartbeats[index]
        let app = Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: "admin", bootstrap: "boot"), settings: .init(),
                clock: SystemClock(lease: clock)))
        try await app.test(.router) { client in
            let registered = try await client.execute(
                uri: "/v1/workers", method: .post, headers: [.authorization: "Bearer boot"],
                body: ByteBuffer(string: #"{"name": "n", "provider": "local"}"#))
            let worker = try JSONDecoder().decode(WorkerProtocol.Registered.self, from: Data(buffer: registered.body))
            let response = try await client.execute(
                uri: "/v1/workers/\(worker.workerID)/heartbeat", method: .post,
                headers: [.authorization: "Bearer \(worker.token)"], body: ByteBuffer(string: body))
            #expect(response.status == .badRequest)
            let text = String(buffer: response.body)
            #expect(text.contains(#""code":"\#(code)""#), "\(text)")
            #expect(text.contains(says), "\(text)")
        }
    }

    @Test func aWorkerAddressThatIsNotAHostIsRefusedAndNoWorkerIsStored() async throws {
        let app = Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: "admin", bootstrap: "boot"), settings: .init(),
                clock: SystemClock(lease: clock)))
        try await app.test(.router) { client in
            for address in ["", "host name", "10.0.0.1;rm", String(repeating: "a", count: 254)] {
                let response = try await client.execute(
                    uri: "/v1/workers", method: .post, headers: [.authorization: "Bearer boot"],
                    body: ByteBuffer(string: #"{"name": "n", "provider": "local", "address": "\#(address)"}"#))
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("address must be a host name or IP address"))
            }
            #expect(try await store.workers().isEmpty)
            let good = try await client.execute(
                uri: "/v1/workers", method: .post, headers: [.authorization: "Bearer boot"],
                body: ByteBuffer(string: #"{"name": "n", "provider": "local", "address": "10.0.3.7"}"#))
            #expect(good.status == .created)
            #expect(try await store.workers().first?.address == "10.0.3.7")
        }
    }

    @Test func badAttemptWritesChangeNothing() async throws {
        let job = try await store.submit(
            JobSubmission(id: JobID("j"), spec: JobSpec(name: "j", run: "x"), idempotencyKey: nil, submittedAt: Date())
        ).job
        let app = Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: "admin", bootstrap: "boot"), settings: .init(),
                clock: SystemClock(lease: clock)))
        try await app.test(.router) { client in
            let registered = try await client.execute(
                uri: "/v1/workers", method: .post, headers: [.authorization: "Bearer boot"],
                body: ByteBuffer(string: #"{"name": "n", "provider": "local"}"#))
            let worker = try JSONDecoder().decode(WorkerProtocol.Registered.self, from: Data(buffer: registered.body))
            let placed = try JobStateMachine.apply(
                .placed(Placement(provider: .local, region: "local", market: .spot)), to: job.record)
            _ = try await store.update(job.id, expectedVersion: 1, record: placed.record, events: [], at: Date())
            try await store.grantLease(
                Lease(
                    job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: worker.workerID,
                    expiresAtMilliseconds: 99_999))
            let before = try await store.job(job.id)
            let auth: HTTPFields = [.authorization: "Bearer \(worker.token)"]
            let cases: [(String, String, String)] = [
                (
                    "checkpoints", #"{"epoch": 1, "step": 10, "location": "x", "manifest_digest": "nothex"}"#,
                    "invalid_checkpoint"
                ),
                (
                    "checkpoints",
                    #"{"epoch": 1, "step": -1, "location": "x", "manifest_digest": "\#(String(repeating: "a", count: 64))"}"#,
                    "invalid_checkpoint"
                ),
                ("finish", #"{"epoch": 1, "outcome": "exploded"}"#, "invalid_value"),
                ("finish", #"{"epoch": 1, "outcome": "failed", "exit_code": 0}"#, "invalid_finish"),
                (
                    "logs",
                    #"{"epoch": 1, "lines": [\#(Array(repeating: "\"x\"", count: 1_001).joined(separator: ","))]}"#,
                    "invalid_logs"
                ),
            ]
            for (route, body, code) in cases {
                let response = try await client.execute(
                    uri: "/v1/jobs/j/attempts/1/\(route)", method: .post, headers: auth, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(route): \(body.prefix(60))")
                #expect(
                    String(buffer: response.body).contains(#""code":"\#(code)""#), "\(String(buffer: response.body))")
            }
            let notANumber = try await client.execute(
                uri: "/v1/jobs/j/attempts/x/finish", method: .post, headers: auth,
                body: ByteBuffer(string: #"{"epoch": 1, "outcome": "completed"}"#))
            #expect(notANumber.status == .badRequest)
            #expect(try await store.job(job.id) == before)
            #expect(try await store.logs(job: job.id, after: 0, limit: 10).isEmpty)
            #expect(try await store.lease(job: job.id)?.revoked == false)
        }
    }
}
