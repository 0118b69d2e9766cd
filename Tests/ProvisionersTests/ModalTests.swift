import CloudAuth
import Foundation
import Hummingbird
import Provisioners
import Spawning
import SpotwiseCore
import SpotwiseTesting
import Synchronization
import Testing

/// Modal: the Swift side's requests go through the app's own endpoint logic (run with a stand-in
/// `modal` module), and the client is tested against a local fake of the deployed endpoint.
@Suite struct ModalTests {
    static func spec(_ accelerator: String = "A100") -> JobSpec {
        var spec = JobSpec(name: "digits", run: "python3 train.py")
        spec.resources.accelerator = Accelerator(model: accelerator, count: 1)
        return spec
    }

    static func request() throws -> ModalAPI.Request {
        let now = Date(timeIntervalSince1970: 1_000_000)
        return try ModalLaunches.spawnRequest(
            job: "job-9", attempt: 2, spec: Self.spec(), coordinatorURL: "https://c", bootstrapToken: "b",
            pricePerHour: Money(micros: 3_400_000), deadline: now.addingTimeInterval(7_200), now: now)
    }

    /// Runs provisioners/modal/check_app.py on a request; its JSON answer.
    static func runApp(_ request: ModalAPI.Request, authorization: String) async throws -> [String: Any] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("modal-\(UUID().uuidString).json")
        try JSONEncoder().encode(request).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        var environment = ProcessInfo.processInfo.environment
        environment["SPOTWISE_MODAL_TOKEN"] = "app-token"
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        let process = try ChildProcess(
            executable: "/usr/bin/env",
            arguments: [
                "python3", RepositoryPaths.url("provisioners/modal/check_app.py").path, file.path, authorization,
            ],
            environment: environment)
        let lines = await process.waitForEndOfOutput()
        let status = await process.waitForExit()
        // stdout and stderr are one stream: the answer is the script's one JSON line.
        let answer = try #require(
            lines.last { $0.hasPrefix("{") }, "check_app.py exited \(status) without an answer: \(lines)")
        return try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any] ?? [:]
    }

    @Test func theAppSpawnsWhatTheSwiftSideAsksAndRefusesAWrongToken() async throws {
        let request = try Self.request()
        #expect(
            request.gpu == "A100" && request.timeoutSeconds == 7_200 && request.env?["SPOTWISE_PRICE"] == "3.400000")
        let accepted = try await Self.runApp(request, authorization: "Bearer app-token")
        #expect(accepted["status"] as? Int == 200)
        #expect((accepted["answer"] as? [String: Any])?["call_id"] as? String == "fc-test-1")
        let spawned = try #require(accepted["spawned"] as? [String: Any])
        #expect((spawned["options"] as? [String: Any])?["gpu"] as? String == "A100")
        #expect((spawned["options"] as? [String: Any])?["timeout"] as? Int == 7_200)
        #expect((spawned["env"] as? [String: Any])?["SPOTWISE_WORKER_NAME"] as? String == "job-9-a2")
        let refused = try await Self.runApp(request, authorization: "Bearer wrong")
        #expect(refused["status"] as? Int == 401 && refused["spawned"] is NSNull)
        let status = try await Self.runApp(
            ModalAPI.Request(action: "status", callID: "fc-1"), authorization: "Bearer app-token")
        #expect((status["answer"] as? [String: Any])?["state"] as? String == "running")
        #expect(throws: ModalLaunches.Invalid.self) {
            _ = try ModalLaunches.spawnRequest(
                job: "j", attempt: 1, spec: Self.spec("TPU"), coordinatorURL: "c", bootstrapToken: "b",
                pricePerHour: .zero, deadline: nil, now: Date())
        }
    }

    @Test func theClientAgainstAFakeEndpoint() async throws {
        let fake = ModalFake(states: ["running", "failed"])
        try await withLiveServer(fake.router()) { url in
            let client = ModalClient(endpoint: URL(string: url + "/api")!, token: "app-token", sleep: { _ in })
            let id = try await client.spawn(try Self.request())
            #expect(id == "fc-1" && fake.spawns == 2, "the first spawn answered 503 and was retried")
            #expect(ModalLaunches.observe(try await client.status(callID: id)) == .running)
            #expect(
                ModalLaunches.observe(try await client.status(callID: id))
                    == .failed("preempted and restarted too often"))
            try await client.cancel(callID: id)
            let wrong = ModalClient(endpoint: URL(string: url + "/api")!, token: "nope", sleep: { _ in })
            do {
                _ = try await wrong.status(callID: id)
                Issue.record("a wrong token was accepted")
            } catch let error as ModalError {
                #expect(error.status == 401 && error.kind == .credentials)
            }
        }
    }
}
