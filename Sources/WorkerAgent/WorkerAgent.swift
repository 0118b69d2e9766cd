import Checkpoints
import CloudAuth
import CoordinatorClient
import Foundation
import Logging
import SpotwiseCore

/// How a worker agent is set up: which coordinator, what capacity it stands for, where it works.
public struct WorkerAgentConfiguration: Sendable {
    public var coordinatorURL: String
    public var bootstrapToken: String
    public var name: String
    public var provider: ProviderName
    public var pool: WorkerPool
    /// Where attempts get their scratch directories (progress file, staging, resume, output).
    public var workDirectory: URL
    /// What a job's relative `workdir` and `file://` checkpoint storage are relative to.
    public var jobRoot: URL
    public var watchers: [any InterruptionWatcher]
    /// How long a termination notice gives when its source names no time (EC2: 120 s).
    public var noticeWindowSeconds: Double
    /// Leave (deregister and return) after an attempt ends on a termination notice: the node is going away.
    public var exitAfterTermination: Bool
    /// Extra environment for every trainer.
    public var environment: [String: String]
    /// Leave after one attempt, however it ended (capacity launched for one job).
    public var exitAfterAttempt: Bool
    /// Leave after this long without an assignment (launched capacity must not idle and bill).
    public var idleExitSeconds: Double?
    /// AWS credentials for `s3://` checkpoint storage (the standard chain, resolved on first use).
    public var awsCredentials: AWSCredentialCache
    /// The AWS region and S3 endpoint for `s3://` storage (default: `AWS_REGION`, `AWS_ENDPOINT_URL_S3`).
    public var awsRegion: String
    public var s3Endpoint: URL?
    /// Where this node's peers reach it when it holds rank 0 of a gang (nil: loopback).
    public var address: String?

    public init(
        coordinatorURL: String, bootstrapToken: String, name: String, provider: ProviderName, pool: WorkerPool,
        workDirectory: URL, jobRoot: URL, watchers: [any InterruptionWatcher], noticeWindowSeconds: Double = 120,
        exitAfterTermination: Bool = true, environment: [String: String] = [:], exitAfterAttempt: Bool = false,
        idleExitSeconds: Double? = nil,
        awsCredentials: AWSCredentialCache = AWSCredentialCache(chain: .live()),
        awsRegion: String = AWSEnvironment.region(), s3Endpoint: URL? = AWSEnvironment.endpoint(service: "s3"),
        address: String? = nil
    ) {
        self.address = address
        self.awsCredentials = awsCredentials
        self.exitAfterAttempt = exitAfterAttempt
        self.idleExitSeconds = idleExitSeconds
        self.awsRegion = awsRegion
        self.s3Endpoint = s3Endpoint
        self.coordinatorURL = coordinatorURL
        self.bootstrapToken = bootstrapToken
        self.name = name
        self.provider = provider
        self.pool = pool
        self.workDirectory = workDirectory
        self.jobRoot = jobRoot
        self.watchers = watchers
        self.noticeWindowSeconds = noticeWindowSeconds
        self.exitAfterTermination = exitAfterTermination
        self.environment = environment
    }
}

/// The agent on a node: registers, asks for work, runs each attempt (`AttemptRunner`) and
/// leaves cleanly on a termination notice. A coordinator that cannot be reached is retried with
/// backoff; the trainer keeps running meanwhile.
public struct WorkerAgent<C: Clock>: Sendable where C.Duration == Duration {
    let configuration: WorkerAgentConfiguration
    let logger: Logger
    /// Every wait and every timer of the agent and its attempts.
    let clock: C

    public init(configuration: WorkerAgentConfiguration, logger: Logger, clock: C) {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
    }

    public func run() async throws {
        let bootstrap = CoordinatorClient(
            baseURL: configuration.coordinatorURL, token: configuration.bootstrapToken, timeout: .seconds(5))
        var backoff = Backoff()
        let registered: WorkerProtocol.Registered
        while true {
            do {
                registered = try await bootstrap.register(
                    WorkerProtocol.Registration(
                        name: configuration.name, provider: configuration.provider.rawValue, pool: configuration.pool,
                        address: configuration.address))
                break
            } catch let failure as CoordinatorClient.Failure where failure.status != nil {
                throw failure
            } catch {
                logger.warning("cannot register yet: \(error); retrying")
                try await clock.sleep(for: backoff.next())
            }
        }
        try? FileManager.default.createDirectory(at: configuration.workDirectory, withIntermediateDirectories: true)
        try? Data(registered.workerID.rawValue.utf8).write(
            to: configuration.workDirectory.appendingPathComponent("worker-id"))
        logger.info(
            "registered as \(registered.workerID) (\(configuration.provider.rawValue)/\(configuration.pool.region)/\(configuration.pool.market.rawValue))"
        )
        let client = CoordinatorClient(
            baseURL: configuration.coordinatorURL, token: registered.token, timeout: .seconds(5))
        let period = Duration.milliseconds(registered.heartbeatEveryMilliseconds)
        backoff = Backoff()
        var idleSince = clock.now
        while !Task.isCancelled {
            if let limit = configuration.idleExitSeconds, idleSince.duration(to: clock.now) > .seconds(limit) {
                logger.info("no assignment for \(Int(limit)) s: leaving")
                try? await client.deregister(worker: registered.workerID)
                return
            }
            if let notice = await firstNotice(), notice.isTermination {
                logger.info("\(notice.kind.rawValue) while idle: leaving")
                try? await client.deregister(worker: registered.workerID)
                return
            }
            let assignment: WorkerProtocol.Assignment?
            do {
                assignment = try await client.assignment(worker: registered.workerID)
                backoff = Backoff()
            } catch {
                logger.warning("cannot reach the coordinator: \(error)")
                try await clock.sleep(for: backoff.next())
                continue
            }
            if let assignment {
                let runner = AttemptRunner(
                    assignment: assignment, workerID: registered.workerID, client: client,
                    configuration: configuration, heartbeatPeriod: period, logger: logger, clock: clock)
                let outcome = await runner.run()
                logger.info("job \(assignment.job) attempt \(assignment.attempt): \(outcome)")
                if case .preempted = outcome, configuration.exitAfterTermination {
                    try? await client.deregister(worker: registered.workerID)
                    return
                }
                if configuration.exitAfterAttempt {
                    try? await client.deregister(worker: registered.workerID)
                    return
                }
                idleSince = clock.now
            } else {
                try await clock.sleep(for: period)
            }
        }
    }

    func firstNotice() async -> InterruptionNotice? {
        for watcher in configuration.watchers {
            if let notice = await watcher.check() { return notice }
        }
        return nil
    }
}

extension WorkerAgent where C == ContinuousClock {
    public init(configuration: WorkerAgentConfiguration, logger: Logger) {
        self.init(configuration: configuration, logger: logger, clock: ContinuousClock())
    }
}

/// Exponential backoff with full jitter: 0.25 s doubling to 8 s.
struct Backoff {
    private var attempt = 0

    mutating func next() -> Duration {
        let ceiling = min(8.0, 0.25 * pow(2, Double(attempt)))
        attempt += 1
        return .milliseconds(Int(Double.random(in: ceiling / 2...ceiling) * 1000))
    }
}
