import Coordinator
import CoordinatorClient
import Foundation
import Hummingbird
import HummingbirdTesting
import StateStore
import Testing

/// The client the CLI uses, against a live server on a loopback socket.
@Suite struct CoordinatorClientLiveTests {
    @Test func submitListShowCancelOverARealSocket() async throws {
        let store = InMemoryStateStore()
        let app = Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: "admin", readOnly: ["reader"]), settings: .init()),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { testClient in
            let port = try #require(testClient.port)
            let client = CoordinatorClient(baseURL: "http://127.0.0.1:\(port)", token: "admin")
            let spec = Data("name: live\nrun: python3 train.py\n".utf8)
            let job = try await client.submit(spec: spec, idempotencyKey: "k1")
            #expect(job.state == "queued")
            // The retried submission with the same key is the same job.
            #expect(try await client.submit(spec: spec, idempotencyKey: "k1").id == job.id)
            #expect(try await client.jobs().map(\.id) == [job.id])
            #expect(try await client.jobs(state: "running").isEmpty)
            #expect(try await client.job(job.id).history?.first?.message == "submitted")
            #expect(try await client.cancel(job.id).state == "cancelled")

            do {
                _ = try await client.job("job-missing")
                Issue.record("an unknown job was found")
            } catch let failure as CoordinatorClient.Failure {
                #expect(failure.status == 404 && failure.code == "not_found")
                #expect(failure.description == "no job job-missing (not_found, HTTP 404)")
            }
            let reader = CoordinatorClient(baseURL: "http://127.0.0.1:\(port)", token: "reader")
            await #expect(throws: CoordinatorClient.Failure.self) {
                _ = try await reader.submit(spec: spec, idempotencyKey: "k2")
            }
            let wrong = CoordinatorClient(baseURL: "http://127.0.0.1:\(port)", token: "wrong")
            do {
                _ = try await wrong.jobs()
                Issue.record("a wrong token listed jobs")
            } catch let failure as CoordinatorClient.Failure {
                #expect(failure.status == 401)
            }
        }
    }

    @Test func anUnreachableCoordinatorIsOneClearLine() async throws {
        // Port 1 on loopback: nothing listens there.
        let client = CoordinatorClient(baseURL: "http://127.0.0.1:1", token: "t", timeout: .milliseconds(300))
        do {
            _ = try await client.jobs()
            Issue.record("reached a coordinator on port 1")
        } catch let failure as CoordinatorClient.Failure {
            #expect(failure.code == "unreachable")
            #expect(failure.description.contains("is `spotwise coordinator` running?"))
        }
    }
}
