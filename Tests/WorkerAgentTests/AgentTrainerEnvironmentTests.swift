import CloudAuth
import Coordinator
import CoordinatorClient
import Foundation
import Hummingbird
import Logging
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing
import WorkerAgent

/// The whole path (a live coordinator, a real agent, a trainer process): what the trainer's
/// environment holds is the allow-list, the operator's variables, the job's `env` and the
/// contract, and nothing else of the agent's (issue 14, item 3).
@Suite struct AgentTrainerEnvironmentTests {
    /// What `sh -c 'cd DIR && exec env'` adds itself.
    static let shellOwn: Set<String> = ["PWD", "OLDPWD", "SHLVL", "_"]

    @Test func aTrainerSeesTheAllowListTheJobsEnvAndTheContractOnly() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("agent-env-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let dump = scratch.appendingPathComponent("trainer.env")
        let agentOnly = ProcessInfo.processInfo.environment.keys.filter {
            !TrainerEnvironment.passes($0) && !Self.shellOwn.contains($0)
        }
        try #require(!agentOnly.isEmpty, "this process's environment has nothing the allow-list drops")

        var logger = Logger(label: "test.agent-env")
        logger.logLevel = .critical
        let ports = AsyncStream.makeStream(of: Int.self)
        let coordinator = try await CoordinatorApplication.application(
            store: InMemoryStateStore(), tokens: AccessTokens(admin: "admin-t", bootstrap: "bootstrap-t"),
            settings: .init(host: "127.0.0.1", port: 0), clock: SystemClock(),
            leasePolicy: LeasePolicy(
                heartbeatMilliseconds: 300, leaseMilliseconds: 3_000, restartGraceMilliseconds: 3_000),
            schedulerPeriodMilliseconds: 100, logger: logger, onServerRunning: { ports.continuation.yield($0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await coordinator.runService(gracefulShutdownSignals: []) }
            var iterator = ports.stream.makeAsyncIterator()
            let url = "http://127.0.0.1:\(await iterator.next() ?? 0)"
            let client = CoordinatorClient(baseURL: url, token: "admin-t", timeout: .seconds(5))
            let spec = """
                name: env-dump
                run: env > "\(dump.path)"
                deadline: 36h
                env: {SECRET_KEY: job-secret, AWS_ACCESS_KEY_ID: AKIDJOB}
                checkpoint: {every_steps: 50, keep_last: 1, storage: "file://\(scratch.path)/checkpoints"}
                """
            let id = try await client.submit(spec: Data(spec.utf8), idempotencyKey: "env").id
            let agent = WorkerAgent(
                configuration: WorkerAgentConfiguration(
                    coordinatorURL: url, bootstrapToken: "bootstrap-t", name: "env-node", provider: .local,
                    pool: WorkerPool(
                        region: "local-a", market: .spot, instanceType: "local.t4",
                        pricePerHour: Money(micros: 360_000), onDemandPricePerHour: Money(micros: 1_200_000)),
                    workDirectory: scratch.appendingPathComponent("work"), jobRoot: scratch, watchers: [],
                    environment: ["OPERATOR_SET": "yes"], exitAfterAttempt: true,
                    awsCredentials: AWSCredentialCache(
                        chain: AWSCredentialChain(
                            environment: [:], home: "/nonexistent",
                            fetch: { _, url, _ in throw AWSCredentialsError("no metadata here: \(url)") }))),
                logger: logger)
            group.addTask { try await agent.run() }
            // Waits for the trainer's output, not for time.
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline,
                (try? String(contentsOf: dump, encoding: .utf8))?.contains("SPOTWISE_JOB_ID=") != true
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            if !FileManager.default.fileExists(atPath: dump.path) {
                let job = try await client.job(id)
                Issue.record("no trainer output; the job: \(job.state) \(job.history ?? [])")
            }
            group.cancelAll()
        }

        let text = try String(contentsOf: dump, encoding: .utf8)
        var trainer: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            trainer[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        #expect(trainer["SECRET_KEY"] == "job-secret" && trainer["AWS_ACCESS_KEY_ID"] == "AKIDJOB")
        #expect(trainer["OPERATOR_SET"] == "yes")
        #expect(trainer["SPOTWISE_ATTEMPT"] == "1" && trainer["SPOTWISE_CHECKPOINT_EVERY"] == "50")
        let leaked = trainer.keys.filter { name in
            !TrainerEnvironment.passes(name) && !Self.shellOwn.contains(name) && !name.hasPrefix("SPOTWISE_")
                && !["SECRET_KEY", "AWS_ACCESS_KEY_ID", "OPERATOR_SET"].contains(name)
        }
        #expect(leaked.isEmpty, "the agent's variables reached the trainer: \(leaked.sorted())")
        #expect(
            Set(trainer.keys.filter { $0.hasPrefix("SPOTWISE_") }).isSubset(of: [
                "SPOTWISE_JOB_ID", "SPOTWISE_ATTEMPT", "SPOTWISE_CHECKPOINT_DIR", "SPOTWISE_CHECKPOINT_EVERY",
                "SPOTWISE_PROGRESS", "SPOTWISE_OUTPUT_DIR", "SPOTWISE_HPARAMS", "SPOTWISE_RESUME_DIR",
            ]))
    }
}
