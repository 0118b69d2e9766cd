import Checkpoints
import CloudAuth
import Coordinator
import CoordinatorClient
import Foundation
import Hummingbird
import Logging
import Provisioners
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing
import WorkerAgent

/// The whole worker path with real parts: a live coordinator, the simulated market's IMDS, the
/// agent, and the digits trainer as a child process. A notice must lose no step: the trainer
/// checkpoints on the SIGTERM the agent forwards, and the next attempt resumes from exactly there.
@Suite(.serialized) struct AgentInterruptionTests {
    static let admin = "admin-token"
    static let bootstrap = "bootstrap-token"

    func agent(
        _ name: String, coordinator: String, market: String, scratch: URL, s3: URL? = nil
    ) -> WorkerAgent<ContinuousClock> {
        var logger = Logger(label: "test.agent.\(name)")
        logger.logLevel = .critical
        return WorkerAgent(
            configuration: WorkerAgentConfiguration(
                coordinatorURL: coordinator, bootstrapToken: Self.bootstrap, name: name, provider: .local,
                pool: WorkerPool(
                    region: "local-a", market: .spot, instanceType: "local.t4", pricePerHour: Money(micros: 360_000),
                    onDemandPricePerHour: Money(micros: 1_200_000)),
                workDirectory: scratch.appendingPathComponent(name), jobRoot: RepositoryPaths.root,
                watchers: [EC2MetadataWatcher(baseURL: "\(market)/nodes/\(name)")], noticeWindowSeconds: 10,
                environment: ["DIGITS_STEP_DELAY_MS": "20"],
                awsCredentials: AWSCredentialCache(
                    chain: AWSCredentialChain(
                        environment: ["AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "test"],
                        home: "/nonexistent",
                        fetch: { _, url, _ in throw AWSCredentialsError("no metadata here: \(url)") })),
                awsRegion: "us-east-1", s3Endpoint: s3),
            logger: logger)
    }

    /// Polls until `condition` holds for the job (the trainer runs in real time), at most 90 s.
    func waitFor(_ client: CoordinatorClient, _ id: String, _ condition: (JobSummary) -> Bool) async throws
        -> JobSummary
    {
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let job = try await client.job(id)
            if condition(job) { return job }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting on job \(id)")
        return try await client.job(id)
    }

    /// A live coordinator (in-memory store, 300 ms heartbeats, 3 s leases, a 100 ms scheduler) and
    /// the simulated spot market for the length of `body`, which gets the coordinator's URL, the
    /// market, its URL, and a task group to run agents in (cancelled when `body` returns).
    func withLiveCoordinator(
        _ body:
            @Sendable (String, SimulatedSpotMarket, String, inout ThrowingTaskGroup<Void, any Error>) async throws
            -> Void
    ) async throws {
        var logger = Logger(label: "test.coordinator")
        logger.logLevel = .critical
        let ports = AsyncStream.makeStream(of: Int.self)
        let coordinator = try await CoordinatorApplication.application(
            store: InMemoryStateStore(), tokens: AccessTokens(admin: Self.admin, bootstrap: Self.bootstrap),
            settings: .init(host: "127.0.0.1", port: 0), clock: SystemClock(),
            leasePolicy: LeasePolicy(
                heartbeatMilliseconds: 300, leaseMilliseconds: 3_000, restartGraceMilliseconds: 3_000),
            schedulerPeriodMilliseconds: 100, logger: logger, onServerRunning: { ports.continuation.yield($0) })
        let market = SimulatedSpotMarket()
        try await withLiveServer(market.router()) { marketURL in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await coordinator.runService(gracefulShutdownSignals: []) }
                var iterator = ports.stream.makeAsyncIterator()
                let url = "http://127.0.0.1:\(await iterator.next() ?? 0)"
                try await body(url, market, marketURL, &group)
                group.cancelAll()
            }
        }
    }

    @Test func aNoticeLosesNoStepAndTheNextAttemptResumesWhereTheTrainerStopped() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("agent-test-\(UUID().uuidString)")
        try await withLiveCoordinator { url, market, marketURL, group in
            let client = CoordinatorClient(baseURL: url, token: Self.admin, timeout: .seconds(5))
            let spec = """
                name: digits-notice
                run: python3 jobs/digits/train.py
                deadline: 36h
                checkpoint: {every_steps: 50, keep_last: 2, storage: "file://\(scratch.path)/checkpoints"}
                hyperparameters: {epochs: 10, seed: 7}
                register: {model: digits-e2e, gate: {metric: auc, min: 0.85}}
                """
            let id = try await client.submit(spec: Data(spec.utf8), idempotencyKey: "k").id
            group.addTask { try await agent("spot-1", coordinator: url, market: marketURL, scratch: scratch).run() }

            // Early in a checkpoint interval (by the trainer's own progress file), the market
            // posts a termination notice: the trainer is about 10 steps from the next
            // periodic checkpoint's start when the agent's watcher sees it.
            let progress = scratch.appendingPathComponent("spot-1/\(id)-1/progress.jsonl")
            let deadline = ContinuousClock.now + .seconds(90)
            while ContinuousClock.now < deadline {
                let newest = Self.newestStep(progress) ?? 0
                if newest >= 70, (5...15).contains(newest % 50) { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            market.postNotice(node: "spot-1", terminationAt: Date().addingTimeInterval(10))
            let recovering = try await waitFor(client, id) { $0.state == "recovering" || $0.isTerminal }
            let first = try #require(try await client.job(id).segments?.first)
            #expect(first.endReason == "preempted with notice")
            let stopped = try #require(first.lastStep)
            #expect(stopped > 70)
            // The trainer's own record agrees: it stopped at the step it checkpointed.
            #expect(Self.newestStep(progress) == stopped)
            #expect(
                first.committedStep == stopped, "steps lost with a notice: \(stopped - (first.committedStep ?? 0))")
            #expect(recovering.checkpoint?.step == stopped)

            group.addTask { try await agent("spot-2", coordinator: url, market: marketURL, scratch: scratch).run() }
            let done = try await waitFor(client, id) { $0.isTerminal }
            #expect(done.state == "succeeded")
            let segments = try await client.job(id).segments ?? []
            #expect(segments.map(\.resumedFromStep) == [nil, stopped])
            #expect((done.metrics?["auc"] ?? 0) > 0.9)

            // Run tracking: one loss per step across both attempts, the second's from the resume on.
            let tracked = try await client.metrics(job: id)
            let loss = try #require(tracked.series.first { $0.name == "loss" })
            #expect(loss.steps == loss.steps.sorted() && Set(loss.steps).count == loss.steps.count)
            #expect(
                zip(loss.steps, loss.attempts).allSatisfy { step, attempt in (step <= stopped) == (attempt == 1) })
            // The registry: the gate passed, the output is version 1 and its artifact verifies.
            let version = try #require(try await client.models().first?.latest)
            #expect(version.model == "digits-e2e" && version.version == 1 && version.lineage.interruptions == 1)
            let manifest = try await LocalCheckpointStore(root: scratch.appendingPathComponent("checkpoints"))
                .verify(
                    location: version.artifact.location, manifestDigest: version.artifact.manifestDigest)
            #expect(manifest.files.map(\.path).contains("metrics.json"))
            #expect(segments.allSatisfy { $0.costUSD != "0.000000" })
        }
        try? FileManager.default.removeItem(at: scratch)
    }

    /// The same path with checkpoints and the model in S3 (the moto server on loopback): a run that
    /// commits every 50 steps, registers its model, and whose artifact verifies in the bucket.
    @Test(.needsMoto) func checkpointsAndTheModelGoToS3() async throws {
        let moto = try TestServers.motoURL()
        let bucket = "agent-\(UUID().uuidString.prefix(8).lowercased())"
        let sender = AWSRequestSender(
            endpoint: moto, region: "us-east-1", service: "s3",
            credentials: { AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "test") })
        _ = try await sender.send("PUT", "/\(bucket)")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("agent-s3-\(UUID().uuidString)")
        try await withLiveCoordinator { url, _, marketURL, group in
            let client = CoordinatorClient(baseURL: url, token: Self.admin, timeout: .seconds(5))
            let spec = """
                name: digits-s3
                run: python3 jobs/digits/train.py
                checkpoint: {every_steps: 50, keep_last: 2, storage: "s3://\(bucket)/runs"}
                hyperparameters: {epochs: 10, seed: 7}
                register: {model: digits-s3, gate: {metric: auc, min: 0.85}}
                """
            let id = try await client.submit(spec: Data(spec.utf8), idempotencyKey: "s3").id
            group.addTask {
                try await agent("spot-s3", coordinator: url, market: marketURL, scratch: scratch, s3: moto).run()
            }
            let done = try await waitFor(client, id) { $0.isTerminal }
            #expect(done.state == "succeeded")
            let store = S3CheckpointStore(bucket: bucket, prefix: "runs", sender: sender)
            let steps = try await store.committedSteps(job: id)
            #expect(steps == [150, 200], "keep_last 2 of the committed steps, in the bucket")
            let version = try #require(try await client.models().first?.latest)
            #expect(version.artifact.storage == "s3://\(bucket)/runs")
            let manifest = try await store.verify(
                location: version.artifact.location, manifestDigest: version.artifact.manifestDigest)
            #expect(manifest.files.map(\.path).contains("metrics.json"))
        }
        try? FileManager.default.removeItem(at: scratch)
    }

    /// The newest step in a trainer's progress file.
    static func newestStep(_ file: URL) -> Int? {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["step"] as? Int
        }.max()
    }
}
