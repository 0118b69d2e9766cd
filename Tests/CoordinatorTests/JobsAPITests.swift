import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// The jobs API in-process, over the in-memory store; every refusal must leave the store as it was.
@Suite struct JobsAPITests {
    static let admin = "admin-secret"
    static let reader = "cost-owner-secret"
    static let spec = "name: digits\nrun: python3 train.py\ntags: {team: vision}\n"

    struct Harness {
        let store = InMemoryStateStore()
        let ids = IDSequence()

        func app(maxBodyBytes: Int = 1 << 20) -> some ApplicationProtocol {
            let ids = ids
            let router = CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: JobsAPITests.admin, readOnly: [JobsAPITests.reader]),
                settings: .init(maxBodyBytes: maxBodyBytes),
                clock: ManualTime(date: Date(timeIntervalSince1970: 1_800_000_000)), newJobID: { ids.next() })
            return Application(router: router)
        }
    }

    final class IDSequence: Sendable {
        let counter = Counter()
        func next() -> JobID { JobID("job-\(counter.increment())") }
    }

    final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func increment() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }

    static func headers(_ token: String?, _ extra: HTTPFields = [:]) -> HTTPFields {
        var fields = extra
        if let token { fields[.authorization] = "Bearer \(token)" }
        return fields
    }

    static func errorCode(_ response: TestResponse) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
        return ((object?["error"] as? [String: Any])?["code"] as? String) ?? "(none)"
    }

    @Test func healthNeedsNoTokenButEverythingElseDoes() async throws {
        let harness = Harness()
        try await harness.app().test(.router) { client in
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            let anonymous = try await client.execute(uri: "/v1/jobs", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(try Self.errorCode(anonymous) == "unauthorized")
            let wrong = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: Self.headers("nope"), body: ByteBuffer(string: Self.spec))
            #expect(wrong.status == .unauthorized)
            #expect(!String(buffer: wrong.body).contains("nope"))
        }
        #expect(try await harness.store.jobs(state: nil, limit: 10).isEmpty)
    }

    @Test func submitShowListAndCancel() async throws {
        let harness = Harness()
        try await harness.app().test(.router) { client in
            let created = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: Self.headers(Self.admin), body: ByteBuffer(string: Self.spec))
            #expect(created.status == .created)
            let view = try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: created.body))
            #expect(view.id == "job-1" && view.state == "queued" && view.tags == ["team": "vision"])

            let shown = try await client.execute(
                uri: "/v1/jobs/job-1", method: .get, headers: Self.headers(Self.reader))
            #expect(shown.status == .ok)
            #expect(
                try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: shown.body)).history?.map(\.message)
                    == [
                        "submitted"
                    ])

            let listed = try await client.execute(
                uri: "/v1/jobs?state=queued", method: .get, headers: Self.headers(Self.reader))
            #expect(String(buffer: listed.body).contains("\"job-1\""))

            let cancelled = try await client.execute(
                uri: "/v1/jobs/job-1/cancel", method: .post, headers: Self.headers(Self.admin))
            #expect(cancelled.status == .ok)
            #expect(
                try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: cancelled.body)).state == "cancelled")
            let again = try await client.execute(
                uri: "/v1/jobs/job-1/cancel", method: .post, headers: Self.headers(Self.admin))
            #expect(again.status == .conflict)
            #expect(try Self.errorCode(again) == "not_cancellable")
        }
    }

    @Test func idempotencyKeyMakesARetrySafe() async throws {
        let harness = Harness()
        try await harness.app().test(.router) { client in
            let headers = Self.headers(Self.admin, [HTTPField.Name("Idempotency-Key")!: "submit-7"])
            let first = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: headers, body: ByteBuffer(string: Self.spec))
            let retry = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: headers, body: ByteBuffer(string: Self.spec))
            #expect(first.status == .created && retry.status == .ok)
            let other = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: headers, body: ByteBuffer(string: "name: other\nrun: x\n"))
            #expect(other.status == .conflict)
        }
        #expect(try await harness.store.jobs(state: nil, limit: 10).count == 1)
    }

    @Test func badInputGetsAClearErrorAndChangesNothing() async throws {
        let harness = Harness()
        try await harness.app(maxBodyBytes: 200).test(.router) { client in
            let admin = Self.headers(Self.admin)
            let invalid = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: admin,
                body: ByteBuffer(string: "name: x\nrun: y\nresources: {nodes: 0}\n"))
            #expect(invalid.status == .badRequest)
            #expect(try Self.errorCode(invalid) == "invalid_spec")
            #expect(
                String(buffer: invalid.body).contains(
                    "request body:3:20: error: resources.nodes: out of range; found 0"))

            let malformed = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: admin, body: ByteBuffer(string: "{\"name\": "))
            #expect(malformed.status == .badRequest)

            let huge = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: admin,
                body: ByteBuffer(string: Self.spec + "# " + String(repeating: "x", count: 500)))
            #expect(huge.status == .contentTooLarge)
            #expect(try Self.errorCode(huge) == "body_too_large")

            let readOnly = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: Self.headers(Self.reader), body: ByteBuffer(string: Self.spec))
            #expect(readOnly.status == .forbidden)

            let unknown = try await client.execute(uri: "/v1/jobs/job-404", method: .get, headers: admin)
            #expect(unknown.status == .notFound)
            #expect(try Self.errorCode(unknown) == "not_found")

            let badState = try await client.execute(uri: "/v1/jobs?state=sleeping", method: .get, headers: admin)
            #expect(badState.status == .badRequest)
            #expect(String(buffer: badState.body).contains("allowed: queued, provisioning"))
            #expect(
                try await client.execute(uri: "/v1/jobs?limit=0", method: .get, headers: admin).status == .badRequest)
        }
        #expect(try await harness.store.jobs(state: nil, limit: 10).isEmpty)
    }
}
