import Coordinator
import CoordinatorClient
import Foundation
import Hummingbird
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

/// Several coordinator URLs: a client reaches whichever answers, keeps to it, and says every URL
/// it tried when none answers.
@Suite struct ClientFailoverTests {
    @Test func aClientMovesPastAnUnreachableReplicaAndStaysOnTheOneThatAnswered() async throws {
        let router = CoordinatorApplication.router(
            store: InMemoryStateStore(), tokens: AccessTokens(admin: "admin", readOnly: []), settings: .init())
        try await withLiveServer(router) { live in
            // Port 1 on loopback: nothing listens there.
            let client = CoordinatorClient(baseURL: "http://127.0.0.1:1/, \(live)", token: "admin")
            #expect(client.baseURLs == ["http://127.0.0.1:1", live])
            let job = try await client.submit(spec: Data("name: f\nrun: python3 t.py\n".utf8), idempotencyKey: "f1")
            #expect(client.baseURL == live)
            #expect(try await client.job(job.id).id == job.id)
            let health = try await client.health()
            #expect(health.role == .single && health.leader == nil)

            // A request that is not safe to send twice (a cancel) is sent once, to the first
            // replica that answers /health: the unreachable one is passed over before sending.
            let once = CoordinatorClient(baseURL: "http://127.0.0.1:1,\(live)", token: "admin", timeout: .seconds(1))
            #expect(try await once.cancel(job.id).state == "cancelled")
            #expect(once.baseURL == live)
        }
        let none = CoordinatorClient(baseURL: "http://127.0.0.1:1,http://127.0.0.1:2", token: "t")
        do {
            _ = try await none.jobs()
            Issue.record("reached a coordinator where none listens")
        } catch let failure as CoordinatorClient.Failure {
            #expect(failure.code == "unreachable")
            #expect(
                failure.message.contains("http://127.0.0.1:1 (") && failure.message.contains("http://127.0.0.1:2 ("))
        }
    }
}
