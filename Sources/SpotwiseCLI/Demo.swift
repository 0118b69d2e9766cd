import ArgumentParser
import Coordinator
import CoordinatorClient
import Foundation
import Hummingbird
import Logging
import Provisioners
import SpotPolicy
import SpotwiseCore
import StateStore
import UnixSignals

/// The main job: a coordinator on SQLite, a local pool with a simulated spot market, the digits
/// trainer interrupted (with and without notice), resumed, finished; then the summary.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a real model through simulated spot interruptions on a local pool, then show what it cost.",
        discussion: """
            Starts a coordinator on SQLite in the state directory, the nodes of provisioners/local.yaml as \
            `spotwise worker` processes, and a simulated spot market that interrupts the node running the \
            job (the last interruption without notice). Leaves its state behind: afterwards `spotwise \
            coordinator --state-dir DIR` serves it again, and `spotwise job ID` shows the job.
            """)

    @Option(help: "State directory (default: $SPOTWISE_HOME or .spotwise).") var stateDir: String?
    @Option(help: "sqlite:PATH or postgres://... (default: sqlite:STATE_DIR/state.db).") var db: String?
    @Option(help: "Interruptions to cause.") var interruptions: Int = 3
    @Option(help: "How many of them (the last ones) come without a notice (at most --interruptions).")
    var withoutNotice: Int = 1
    @Option(help: "Also write the summary as JSON to this file (the interruption benchmark reads it).")
    var json: String?
    @Option(help: "Seed for where in the run the interruptions land.") var seed: UInt64 = 7
    @Option(help: "Training speed: 1 = 40 ms per step (about 40 s of training), 2 = twice as fast.")
    var speed: Double = 1
    @Option(
        help: """
            How the market interrupts: points (at seeded points of the run, the default), rate:R \
            (R reclaims per spot region per market hour), or trace:FILE[,FILE...] (one spot trace per \
            spot region, e.g. from Benchmarks/traces/skynomad-h100-gcp-16node).
            """)
    var market: String = "points"
    @Option(help: "With rate: or trace:, market hours that pass per real second.") var marketHoursPerSecond: Double = 1
    @Option(help: "With rate: or trace:, the share of reclaims that come without a notice.")
    var noNoticeShare: Double = 0.25
    @Option(help: "The job spec to run.") var job: String = "jobs/digits.yaml"
    @Option(
        help: "The local pool (default: provisioners/local.yaml, or provisioners/local-gang.yaml for a gang's job).")
    var pool: String?
    @Flag(help: "After the job, keep the coordinator and its dashboard up (until Ctrl-C) to look around.")
    var serve = false
    @Option(help: "HOST:PORT the coordinator listens on (default: 127.0.0.1 and a free port).")
    var bind = "127.0.0.1:0"

    func validate() throws {
        guard (0...20).contains(interruptions) else { throw ValidationError("--interruptions must be 0 to 20") }
        guard withoutNotice >= 0 else { throw ValidationError("--without-notice must be 0 or more") }
        guard market == "points" || market.hasPrefix("rate:") || market.hasPrefix("trace:") else {
            throw ValidationError("--market must be points, rate:R or trace:FILE[,FILE...], not '\(market)'")
        }
        guard marketHoursPerSecond > 0, (0...1).contains(noNoticeShare) else {
            throw ValidationError("--market-hours-per-second must be above 0 and --no-notice-share from 0 to 1")
        }
        guard speed > 0, speed <= 100 else { throw ValidationError("--speed must be above 0 and at most 100") }
        guard CoordinatorCommand.hostAndPort(bind) != nil else {
            throw ValidationError("--bind must be HOST:PORT with a port from 0 to 65535, not '\(bind)'")
        }
    }

    func run() async throws {
        let directory = URL(
            fileURLWithPath: stateDir ?? ProcessInfo.processInfo.environment["SPOTWISE_HOME"] ?? ".spotwise")
        guard let specData = FileManager.default.contents(atPath: job) else {
            throw ValidationError(
                "--job \(job): cannot read it (run the demo from the repository root, or pass --job PATH)")
        }
        let spec: JobSpec
        switch JobSpecParser().parse(Array(specData), file: job) {
        case .success(let parsed): spec = parsed
        case .failure(let error):
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
        let poolFile =
            pool ?? (spec.resources.nodes.maximumCount > 1 ? "provisioners/local-gang.yaml" : "provisioners/local.yaml")
        let poolConfiguration: LocalPoolConfiguration
        do {
            poolConfiguration = try LocalPoolConfiguration.load(URL(fileURLWithPath: poolFile))
        } catch {
            throw ValidationError("\(error)")
        }
        // Before anything is created or started: a trainer that cannot import its modules fails
        // every attempt, and the demo would end in a failed job instead of saying what to install.
        if let problem = TrainerImports.problem(run: spec.run, workdir: Self.workdir(of: spec)) {
            FileHandle.standardError.write(Data("error: --job \(job): \(problem)\n".utf8))
            throw ExitCode(1)
        }
        // Only once the job and the pool are known good: a bad --job leaves no state directory behind.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let admin = try CoordinatorCommand.token(named: "admin.token", in: directory, announce: false)
        let reader = try CoordinatorCommand.token(named: "readonly.token", in: directory, announce: false)
        let bootstrap = try CoordinatorCommand.token(named: "bootstrap.token", in: directory, announce: false)
        let location = db ?? "sqlite:\(directory.appendingPathComponent("state.db").path)"
        // Closed on every path (a failed job included): a store left open traps the process.
        try await withStore(location, creating: true, asCoordinator: true) { store in
            var logger = Logger(label: "spotwise.demo")
            // Killed nodes leave half-open connections the servers log as errors; the demo's own
            // output says what happened.
            logger.logLevel = .critical
            let leasePolicy = LeasePolicy(
                heartbeatMilliseconds: 1_000, leaseMilliseconds: 3_000, restartGraceMilliseconds: 3_000)
            let coordinatorPort = AsyncStream.makeStream(of: Int.self)
            let (host, bindPort) = CoordinatorCommand.hostAndPort(bind)!
            let coordinator = try await CoordinatorApplication.application(
                store: store, tokens: AccessTokens(admin: admin, readOnly: [reader], bootstrap: bootstrap),
                settings: .init(host: host, port: bindPort), clock: SystemClock(),
                leasePolicy: leasePolicy,
                schedulerPeriodMilliseconds: 500, logger: logger,
                onServerRunning: { port in coordinatorPort.continuation.yield(port) })
            let market = SimulatedSpotMarket()
            let marketPort = AsyncStream.makeStream(of: Int.self)
            let metadata = Application(
                router: market.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in marketPort.continuation.yield(channel.localAddress?.port ?? 0) },
                logger: logger)

            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await coordinator.runService(gracefulShutdownSignals: []) }
                group.addTask { try await metadata.runService(gracefulShutdownSignals: []) }
                var ports = coordinatorPort.stream.makeAsyncIterator()
                var metadataPorts = marketPort.stream.makeAsyncIterator()
                guard let port = await ports.next(), let imdsPort = await metadataPorts.next() else { return }
                let url = "http://\(host):\(port)"
                say(
                    "coordinator on \(url) (state: \(SQLStateStore.redacted(location))), spot market on 127.0.0.1:\(imdsPort)"
                )
                say(
                    "watch it in a browser: \(url)/ui/ (sign in with the read-only token in \(directory.path)/readonly.token)"
                )

                let provisioner = LocalProvisioner(
                    configuration: poolConfiguration,
                    launch: LocalProvisioner.Launch(
                        spotwiseBinary: URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
                            .resolvingSymlinksInPath(),
                        coordinatorURL: url, bootstrapToken: bootstrap, metadataURL: "http://127.0.0.1:\(imdsPort)",
                        directory: directory, jobRoot: URL(fileURLWithPath: ".").standardizedFileURL,
                        environment: ["DIGITS_STEP_DELAY_MS": String(Int(40 / speed))]),
                    market: market)
                defer { provisioner.stopAll() }
                try provisioner.startAll()
                say(
                    "local pool: "
                        + poolConfiguration.nodes.map {
                            "\($0.name) (\($0.pool.market.rawValue) $\($0.pool.pricePerHour.exactDescription.prefix(4))/h)"
                        }.joined(separator: ", "))

                let client = CoordinatorClient(baseURL: url, token: admin, timeout: .seconds(10))
                let submitted = try await client.submit(spec: specData, idempotencyKey: UUID().uuidString)
                say("submitted \(submitted.id) (\(spec.name)): \(job)")
                var run = DemoRun(
                    client: client, provisioner: provisioner, jobID: submitted.id, interruptions: interruptions,
                    withoutNotice: min(withoutNotice, interruptions), seed: seed)
                run.schedule = try marketSchedule(poolConfiguration)
                run.noNoticeShare = noNoticeShare
                let result = try await run.watch()
                let logs = try await client.logs(job: submitted.id, after: 0).lines
                let reports = InterruptionReport.measure(result, logs: logs, provisioner: provisioner)
                say(DemoSummary.render(result, reports: reports))
                if result.job.state != JobState.succeeded.rawValue {
                    say(DemoSummary.trainerTail(try await Self.lastLogLines(of: JobID(submitted.id), in: store)))
                }
                if let json {
                    struct Summary: Encodable {
                        var job: JobSummary
                        var elapsedSeconds: Double
                        var interruptions: [InterruptionReport]

                        enum CodingKeys: String, CodingKey {
                            case job, interruptions
                            case elapsedSeconds = "elapsed_s"
                        }
                    }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    encoder.dateEncodingStrategy = .iso8601
                    try encoder.encode(Summary(job: result.job, elapsedSeconds: result.elapsed, interruptions: reports))
                        .write(to: URL(fileURLWithPath: json))
                }
                if let decision = try await store.gateDecision(job: JobID(submitted.id)) {
                    say(
                        decision.accepted
                            ? "model: \(decision.model) version \(decision.version ?? 0) registered (\(decision.reason))"
                            : "model: \(decision.model) not registered: \(decision.reason)")
                }
                let flag =
                    directory.path == URL(fileURLWithPath: ".spotwise").path ? "" : " --state-dir \(directory.path)"
                say(
                    "state kept in \(directory.path): `spotwise coordinator\(flag)` then `spotwise job \(submitted.id)`"
                )
                say(
                    "next: `spotwise report savings\(flag)` (--format html -o savings.html for a page to mail), `spotwise models list\(flag)`, `spotwise runs show \(submitted.id)\(flag)`"
                )
                if serve {
                    // The nodes go; the coordinator, its state and its dashboard stay.
                    provisioner.stopAll()
                    say(
                        "dashboard: \(url)/ui/ (sign in with the read-only token in \(directory.path)/readonly.token, or admin.token to change things); serving until Ctrl-C"
                    )
                    for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
                }
                group.cancelAll()
                if result.job.state != JobState.succeeded.rawValue { throw ExitCode(1) }
            }
        }
    }

    /// The directory the job's trainer runs in on the demo's nodes (their job root is the
    /// current directory).
    static func workdir(of spec: JobSpec) -> URL {
        spec.workdir.hasPrefix("/")
            ? URL(fileURLWithPath: spec.workdir)
            : URL(fileURLWithPath: ".").standardizedFileURL.appendingPathComponent(spec.workdir)
    }

    /// The job's last `count` log lines (the trainer's output and the worker's notes, every
    /// attempt's), read page by page from the store.
    static func lastLogLines(of job: JobID, in store: SQLStateStore, count: Int = 20) async throws -> [LogLine] {
        var tail: [LogLine] = []
        var after: Int64 = 0
        while true {
            let page = try await store.logs(job: job, after: after, limit: 1_000)
            tail = Array((tail + page).suffix(count))
            guard let last = page.last, page.count == 1_000 else { return tail }
            after = last.sequence
        }
    }

    /// The market's events for `--market rate:R` or `trace:FILES` (one series per spot region, in
    /// name order, files reused in turn); nil for `points`.
    func marketSchedule(_ pool: LocalPoolConfiguration) throws -> [MarketEvent]? {
        let regions = Array(Set(pool.nodes.filter { $0.pool.market == .spot }.map(\.pool.region))).sorted()
        let compression = marketHoursPerSecond * 3600
        if market.hasPrefix("rate:") {
            guard let rate = Double(market.dropFirst("rate:".count)), rate > 0 else {
                throw ValidationError("--market rate:R needs a rate above 0 (reclaims per region per market hour)")
            }
            var generator = SeededGenerator(seed: seed &+ 3)
            var events: [MarketEvent] = []
            for region in regions {
                events += SpotMarketSchedule.fromRate(
                    ratePerHour: rate, traceSecondsPerSecond: compression, outageSeconds: pool.relaunchSeconds,
                    region: region, durationSeconds: 3_600, generator: &generator)
            }
            return events.sorted { $0.atSeconds < $1.atSeconds }
        }
        if market.hasPrefix("trace:") {
            let files = market.dropFirst("trace:".count).split(separator: ",").map(String.init)
            guard !files.isEmpty else { throw ValidationError("--market trace: needs at least one trace file") }
            var events: [MarketEvent] = []
            for (index, region) in regions.enumerated() {
                let trace: SpotTrace
                do {
                    trace = try SpotTrace.read(
                        contentsOf: URL(fileURLWithPath: files[index % files.count]), convention: .preempted)
                } catch {
                    throw ValidationError("--market: \(error)")
                }
                events += SpotMarketSchedule.fromTrace(
                    trace.availability(nodes: 1), tickSeconds: Double(trace.tickSeconds),
                    traceSecondsPerSecond: compression, region: region)
            }
            return events.sorted { $0.atSeconds < $1.atSeconds }
        }
        return nil
    }
}
