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

/// A restore longer than a lease must not lose the attempt: the agent heartbeats while it
/// restores, and stops the restore when the coordinator has fenced the attempt off. Against a
/// stand-in for the coordinator's heartbeat route (the documented reply shapes).
@Suite struct RestoreHeartbeatTests {
    static func runner(_ url: String, period: Duration) -> AttemptRunner {
        let assignment = WorkerProtocol.Assignment(
            job: "job-1", jobName: "j", attempt: 2, epoch: 7, run: "true", workdir: ".", env: [:],
            hyperparameters: [:], checkpointEverySteps: 10, keepLast: 1, checkpointStorage: "file://checkpoints",
            resume: nil)
        let configuration = WorkerAgentConfiguration(
            coordinatorURL: url, bootstrapToken: "b", name: "n", provider: .local,
            pool: WorkerPool(
                region: "local-a", market: .spot, instanceType: "t", pricePerHour: .zero, onDemandPricePerHour: .zero),
            workDirectory: FileManager.default.temporaryDirectory, jobRoot: FileManager.default.temporaryDirectory,
            watchers: [])
        return AttemptRunner(
            assignment: assignment, workerID: "worker-1", client: CoordinatorClient(baseURL: url, token: "worker-1.t"),
            configuration: configuration, heartbeatPeriod: period, logger: Logger(label: "test"))
    }

    final class Beats: Sendable {
        let bodies = Mutex<[String]>([])
    }

    /// A heartbeat route that keeps what it gets and answers `status`.
    static func coordinator(_ beats: Beats, status: HTTPResponse.Status) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("v1/workers/:id/heartbeat") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 16)
            beats.bodies.withLock { $0.append(String(buffer: body)) }
            let text =
                status == .ok
                ? #"{"command": "continue", "lease_expires_in_ms": 3000}"#
                : #"{"error": {"code": "stale_epoch", "message": "attempt 2 is not the live attempt"}}"#
            return Response(
                status: status, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        return router
    }

    @Test func aLongRestoreKeepsHeartbeatingTheAttempt() async throws {
        let beats = Beats()
        let (result, fenced) = try await withLiveServer(Self.coordinator(beats, status: .ok)) { url in
            await Self.runner(url, period: .milliseconds(20)).withHeartbeats {
                // Stands for a restore that outlasts several heartbeat periods: it ends only once
                // the coordinator has had three heartbeats (bounded, for a broken agent).
                let giveUp = ContinuousClock.now + .seconds(60)
                while beats.bodies.withLock({ $0.count }) < 3, ContinuousClock.now < giveUp {
                    try await Task.sleep(for: .milliseconds(5))
                }
                return 42
            }
        }
        #expect(try result.get() == 42 && fenced == nil)
        let sent = beats.bodies.withLock { $0 }
        #expect(sent.count >= 3)
        #expect(sent.allSatisfy { $0.contains(#""job":"job-1""#) && $0.contains(#""epoch":7"#) })
    }

    @Test func aFencedAttemptStopsItsRestore() async throws {
        let beats = Beats()
        let (result, fenced) = try await withLiveServer(Self.coordinator(beats, status: .conflict)) { url in
            await Self.runner(url, period: .milliseconds(20)).withHeartbeats {
                try await Task.sleep(for: .seconds(30))  // cancelled by the fence, not waited out
                return 0
            }
        }
        #expect(fenced != nil)
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(beats.bodies.withLock { $0.count } == 1)
    }
}
