import CoordinatorClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SpotwiseCore
import SpotwiseTesting
import Synchronization
import Testing

@testable import WorkerAgent

/// The driver's wiring where no trainer is needed: against a stand-in for the coordinator's
/// attempt routes (the documented request and reply shapes).
@Suite struct AttemptRunnerTests {
    final class Posts: Sendable {
        let bodies = Mutex<[(path: String, body: String)]>([])
    }

    static func coordinator(_ posts: Posts) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("v1/jobs/:job/attempts/:attempt/finish") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 16)
            posts.bodies.withLock { $0.append((request.uri.path, String(buffer: body))) }
            // The job as the coordinator answers a finish (the fields a summary must have).
            let job = #"""
                {"id": "job-1", "name": "j", "state": "failed", "version": 3, "submitted_at": "2026-12-02T10:00:00Z",
                 "updated_at": "2026-12-02T10:05:00Z", "attempts": 2, "preemptions": 0, "failures": 1, "tags": {}}
                """#
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: job)))
        }
        return router
    }

    static func runner(_ url: String, storage: String) -> AttemptRunner<ContinuousClock> {
        let assignment = WorkerProtocol.Assignment(
            job: "job-1", jobName: "j", attempt: 2, epoch: 7, run: "true", workdir: ".", env: [:],
            hyperparameters: [:], checkpointEverySteps: 10, keepLast: 1, checkpointStorage: storage, resume: nil)
        let configuration = WorkerAgentConfiguration(
            coordinatorURL: url, bootstrapToken: "b", name: "n", provider: .local,
            pool: WorkerPool(
                region: "local-a", market: .spot, instanceType: "t", pricePerHour: .zero, onDemandPricePerHour: .zero),
            workDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("runner-\(UUID().uuidString)"),
            jobRoot: FileManager.default.temporaryDirectory, watchers: [])
        return AttemptRunner(
            assignment: assignment, workerID: "worker-1", client: CoordinatorClient(baseURL: url, token: "worker-1.t"),
            configuration: configuration, heartbeatPeriod: .seconds(1), logger: Logger(label: "test"),
            clock: ContinuousClock())
    }

    @Test func aStorageTheAgentCannotUseIsReportedAsAConfigurationProblem() async throws {
        let posts = Posts()
        let outcome = try await withLiveServer(Self.coordinator(posts)) { url in
            await Self.runner(url, storage: "ftp://host/checkpoints").run()
        }
        guard case .infrastructure(let why) = outcome else {
            Issue.record("expected an infrastructure outcome, got \(outcome)")
            return
        }
        #expect(why.contains("'ftp://host/checkpoints'") && why.contains("allowed: file://PATH"))
        let sent = posts.bodies.withLock { $0 }
        #expect(sent.count == 1)
        #expect(sent.first?.path == "/v1/jobs/job-1/attempts/2/finish")
        let finished = try JSONDecoder().decode(
            WorkerProtocol.AttemptFinished.self, from: Data((sent.first?.body ?? "").utf8))
        #expect(finished.outcome == .infrastructure && finished.epoch == 7)
        #expect(finished.message?.contains("ftp://host/checkpoints") == true)
    }
}
