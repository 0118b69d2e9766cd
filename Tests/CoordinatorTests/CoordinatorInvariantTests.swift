import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Synchronization
import Testing

/// Random sequences of everything that happens to a coordinator (submissions, registrations,
/// assignment polls, heartbeats with and without notices, checkpoint commits, finishes of every
/// outcome, stale writes from fenced attempts, cancels, deregistrations, scheduler and lease
/// reconciler passes, time passing, restarts) driven through the real routes, scheduler and
/// reconciler on the in-memory store with manual clocks. After every step the store must keep the
/// rules the coordinator's core promises (issue 15):
/// - at most one live lease per job and per worker; a job's lease epochs only grow;
/// - no job goes on past its retry budget;
/// - every placement carries the policy's reason in the job's history;
/// - a terminal job holds no lease and never changes again;
/// - a job's attempts are one ledger row each, ended with a kind;
/// - a model is registered once, only for a succeeded job whose gate passed, and a scheduler pass
///   decides any it missed.
/// A restart keeps the store and gives the coordinator a new lease clock and an empty live board.
@Suite struct CoordinatorInvariantTests {
    static let admin = TestCoordinator.admin
    static let bootstrap = TestCoordinator.bootstrap

    /// One coordinator in the test process: its store, clocks and the passes it runs.
    /// Where the coordinator keeps its state: the in-memory twin, or a real database that a
    /// restart closes and opens again (SQLite loses its in-memory renewals and caches then).
    enum Backend: Sendable {
        case memory
        case sqlite(path: String)
        case postgres(url: String)

        func open() async throws -> any StateStore {
            switch self {
            case .memory: return InMemoryStateStore()
            case .sqlite(let path):
                let store = try await SQLStateStore.openSQLite(path: path)
                try await store.migrate()
                return store
            case .postgres(let url):
                let store = try await SQLStateStore.connectPostgres(url: url)
                try await store.migrate()
                return store
            }
        }

        /// A database of its own for `body`, closed however it ends.
        static func withFreshPostgres(_ body: (SQLStateStore) async throws -> Void) async throws {
            guard case .postgres(let url) = try await CoordinatorInvariantTests.Backend.fresh(.postgres) else {
                Issue.record("no PostgreSQL database was made for this test")
                return
            }
            let store = try await SQLStateStore.connectPostgres(url: url)
            do {
                try await store.migrate()
                try await body(store)
            } catch {
                try? await store.close()
                throw error
            }
            try await store.close()
        }

        /// The real databases a history can run on.
        enum Kind: Sendable { case sqlite, postgres }

        /// A fresh place for one history.
        static func fresh(_ kind: Kind) async throws -> Backend {
            switch kind {
            case .sqlite:
                return .sqlite(
                    path: FileManager.default.temporaryDirectory.appendingPathComponent(
                        "spotwise-invariants-\(UUID().uuidString).db"
                    ).path)
            case .postgres:
                let base = try TestServers.postgresURL()
                let name =
                    "spotwise_inv_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
                let admin = try await SQLStateStore.connectPostgres(url: base)
                do {
                    try await admin.execute("CREATE DATABASE \(name)")
                } catch {
                    try? await admin.close()
                    throw error
                }
                try await admin.close()
                var components = try #require(URLComponents(string: base))
                components.path = "/\(name)"
                return .postgres(url: try #require(components.string))
            }
        }
    }

    /// The store a history has open now, whichever life of the coordinator opened it, so a
    /// failing history closes that one (an SQLite connection left open traps the process).
    final class OpenStore: Sendable {
        let store = Mutex<(any StateStore)?>(nil)
    }

    /// The kit's in-process coordinator (`TestCoordinator`, one manual time), on a backend that a
    /// restart closes and opens again.
    struct Coordinator {
        var backend = Backend.memory
        let open = OpenStore()
        var node = TestCoordinator()

        var store: any StateStore {
            get { node.store }
            set { node.store = newValue }
        }

        func app() -> some ApplicationProtocol { Application(router: node.router) }
        var scheduler: JobScheduler { node.scheduler }
        var reconciler: LeaseReconciler { node.reconciler }
        func advance(milliseconds: Int64) { node.advance(milliseconds: milliseconds) }

        /// The same store after the process restarted: a new lease clock (its own origin), an
        /// empty live board, and every live lease given the restart grace before anything is served.
        func restarted(leaseClockAt start: Int64) async throws -> Coordinator {
            var next = self
            var reopened: (any StateStore)?
            if case .memory = backend {
            } else {
                open.store.withLock { $0 = nil }
                try await store.close()
                let store = try await backend.open()
                open.store.withLock { $0 = store }
                reopened = store
            }
            next.node = try await node.restarted(on: reopened, leaseClockAt: start)
            return next
        }
    }

    /// Everything a run carries from one life of the coordinator to the next.
    struct Run: Sendable {
        var random: SeededGenerator
        var workers: [SimulatedWorker] = []
        var memory = Memory()
        var step = 0
        var restart = false
        /// What happened, counted (for `theHistoriesReachEveryCorner`).
        var seen: [String: Int] = [:]
    }

    /// What the test's simulated workers know: their token and the assignments they were given
    /// (the newest is what they run; older ones are stale and must be refused).
    struct SimulatedWorker: Sendable {
        var id: WorkerID
        var token: String
        var current: WorkerProtocol.Assignment?
        var stale: [WorkerProtocol.Assignment] = []
        var gone = false
    }

    /// What the checker remembers between steps.
    struct Memory: Sendable {
        var jobs: [String] = []
        var highestEpoch: [String: UInt64] = [:]
        var terminal: [String: StoredJob] = [:]
        /// Succeeded jobs with a model that had no gate decision at the last check: a scheduler
        /// pass must decide them.
        var undecided: Set<String> = []
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    static func post(_ client: some TestClientProtocol, _ uri: String, token: String, _ body: some Encodable)
        async throws -> TestResponse
    {
        let data = try JSONEncoder().encode(body)
        return try await client.execute(
            uri: uri, method: .post, headers: bearer(token), body: ByteBuffer(bytes: data))
    }

    /// Seeds from `first`: `count` of them, or `SPOTWISE_INVARIANT_SEEDS` for a long run
    /// (`SPOTWISE_INVARIANT_SEEDS=5000 swift test --filter CoordinatorInvariant`).
    static func seeds(from first: Int, count: Int) -> Range<Int> {
        let asked = ProcessInfo.processInfo.environment["SPOTWISE_INVARIANT_SEEDS"].flatMap { Int($0) }
        return first..<(first + max(1, asked ?? count))
    }

    @Test(arguments: seeds(from: 0, count: 20))
    func randomHistoriesKeepTheCoordinatorsRules(seed: Int) async throws {
        _ = try await Self.randomHistory(seed: seed)
    }

    /// The same on SQLite, the embedded default: its cached jobs and leases and its renewals kept
    /// in memory must keep the rules too, and a restart closes and opens the file again.
    @Test(arguments: seeds(from: 100_000, count: 16))
    func randomHistoriesKeepTheRulesOnSQLite(seed: Int) async throws {
        try await Self.onDatabase(.sqlite, seed: seed)
    }

    /// Runs one history on a real database, closing it on every path (an SQLite connection left
    /// open traps the process).
    static func onDatabase(_ kind: Backend.Kind, seed: Int) async throws {
        var coordinator = Coordinator()
        coordinator.backend = try await Backend.fresh(kind)
        coordinator.store = try await coordinator.backend.open()
        let first = coordinator.store
        coordinator.open.store.withLock { $0 = first }
        do {
            _ = try await randomHistory(seed: seed, on: coordinator)
        } catch {
            if let current = coordinator.open.store.withLock({ $0 }) { try? await current.close() }
            throw error
        }
        if let current = coordinator.open.store.withLock({ $0 }) { try await current.close() }
        switch coordinator.backend {
        case .sqlite(let path):
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        case .postgres(let url):
            guard let name = URLComponents(string: url)?.path.dropFirst() else { break }
            let admin = try await SQLStateStore.connectPostgres(url: try TestServers.postgresURL())
            try? await admin.execute("DROP DATABASE IF EXISTS \(name)")
            try await admin.close()
        case .memory: break
        }
    }

    /// The histories are not idle: over a handful of seeds they reach every corner the rules
    /// speak of (so the test above cannot pass by doing nothing).
    @Test func theHistoriesReachEveryCorner() async throws {
        var seen: [String: Int] = [:]
        for seed in 1_000..<1_040 {
            let (coordinator, run) = try await Self.randomHistory(seed: seed)
            seen.merge(run.seen, uniquingKeysWith: +)
            for id in run.memory.jobs {
                let job = try #require(try await coordinator.store.job(JobID(id)))
                seen["job \(job.state.rawValue)", default: 0] += 1
                let segments = try await coordinator.store.segments(job: job.id)
                for kind in segments.compactMap(\.endKind) { seen["attempt \(kind.rawValue)", default: 0] += 1 }
                if segments.contains(where: { $0.nodes > 1 }) { seen["gang placed", default: 0] += 1 }
                if let decision = try await coordinator.store.gateDecision(job: job.id) {
                    seen[decision.accepted ? "model accepted" : "model refused", default: 0] += 1
                }
            }
        }
        for corner in [
            "job succeeded", "job failed", "job cancelled", "attempt preempted_with_notice", "attempt lost",
            "attempt failed", "attempt completed", "attempt cancelled", "gang placed",
            "model accepted", "model refused", "restart",
            "stale write refused",
        ] {
            #expect(seen[corner, default: 0] > 0, "no history reached '\(corner)': \(seen)")
        }
    }

    /// One seeded history of `steps` steps; returns the coordinator as it ended and the run.
    static func randomHistory(seed: Int, on start: Coordinator = Coordinator()) async throws -> (Coordinator, Run) {
        var coordinator = start
        var run = Run(random: SeededGenerator(seed: UInt64(seed) &* 7_919 &+ 17))
        while run.step < Self.steps {
            if run.restart {
                run.restart = false
                run.seen["restart", default: 0] += 1
                coordinator = try await coordinator.restarted(
                    leaseClockAt: Int64.random(in: 0...100_000, using: &run.random))
                try await Self.check(coordinator, &run.memory, after: "restart before step \(run.step), seed \(seed)")
            }
            run = try await Self.live(coordinator, run, seed: seed)
        }
        return (coordinator, run)
    }

    static let steps = 150

    /// One life of the coordinator: steps until a restart or the end of the run.
    static func live(_ coordinator: Coordinator, _ run: Run, seed: Int) async throws -> Run {
        try await coordinator.app().test(.router) { client in
            var run = run
            var random = run.random
            var workers = run.workers
            var memory = run.memory
            while run.step < Self.steps {
                let step = run.step
                run.step += 1
                let roll = Int.random(in: 0..<101, using: &random)
                let what: String
                switch roll {
                case 0..<9:
                    what = "submit"
                    let preemptions = Int.random(in: 0...3, using: &random)
                    let failures = Int.random(in: 0...2, using: &random)
                    var market = ["auto", "spot", "on-demand"].randomElement(using: &random)!
                    var extra = ""
                    switch Int.random(in: 0..<10, using: &random) {
                    case 0, 1:
                        extra = "resources: {nodes: 2}\n"
                        market = "spot"
                    case 2:
                        extra = "resources: {nodes: {min: 1, max: 2}}\n"
                        market = "spot"
                    case 3, 4, 5, 7: extra = "register: {model: digits, gate: {metric: auc, min: 0.85}}\n"
                    case 6: extra = "max_cost: 0.000001\n"
                    default: break
                    }
                    let spec =
                        "name: job-\(step)\nrun: python3 train.py\nmarket: \(market)\n"
                        + "retries: {max_preemptions: \(preemptions), max_failures: \(failures)}\n" + extra
                    let response = try await client.execute(
                        uri: "/v1/jobs", method: .post, headers: Self.bearer(Self.admin), body: ByteBuffer(string: spec)
                    )
                    try #require(response.status == .created, "\(String(buffer: response.body))")
                    memory.jobs.append(
                        try JobSummary.decoder.decode(JobSummary.self, from: Data(buffer: response.body)).id)
                case 9..<16:
                    what = "register"
                    let market = Bool.random(using: &random) ? Market.spot : .onDemand
                    let registration = WorkerProtocol.Registration(
                        name: "node-\(workers.count)", provider: "local",
                        pool: WorkerPool(
                            region: "local-a", market: market, instanceType: "local.t4",
                            pricePerHour: Money(micros: market == .spot ? 360_000 : 1_200_000),
                            onDemandPricePerHour: Money(micros: 1_200_000)))
                    let response = try await Self.post(client, "/v1/workers", token: Self.bootstrap, registration)
                    try #require(response.status == .created)
                    let registered = try JSONDecoder().decode(
                        WorkerProtocol.Registered.self, from: Data(buffer: response.body))
                    workers.append(SimulatedWorker(id: registered.workerID, token: registered.token))
                case 16..<30:
                    what = "poll"
                    guard let index = workers.indices.filter({ !workers[$0].gone }).randomElement(using: &random)
                    else { continue }
                    let response = try await client.execute(
                        uri: "/v1/workers/\(workers[index].id)/assignment", method: .post,
                        headers: Self.bearer(workers[index].token))
                    try #require(response.status == .ok, "\(String(buffer: response.body))")
                    let reply = try JSONDecoder().decode(
                        WorkerProtocol.AssignmentReply.self, from: Data(buffer: response.body))
                    if let given = reply.assignment, given != workers[index].current {
                        if let old = workers[index].current { workers[index].stale.append(old) }
                        workers[index].current = given
                    }
                case 30..<50:
                    what = "heartbeat"
                    guard let (index, attempt) = Self.someAttempt(workers, &random) else { continue }
                    let notice = Int.random(in: 0..<8, using: &random) == 0 ? "spot-interruption" : nil
                    let beat = WorkerProtocol.Heartbeat(
                        job: attempt.job, attempt: attempt.attempt, epoch: attempt.epoch,
                        step: Int.random(in: 0...500, using: &random), totalSteps: 1_000, notice: notice)
                    let response = try await Self.post(
                        client, "/v1/workers/\(workers[index].id)/heartbeat", token: workers[index].token, beat)
                    try #require(response.status.code < 500, "\(String(buffer: response.body))")
                    if response.status == .conflict { run.seen["stale write refused", default: 0] += 1 }
                case 50..<58:
                    what = "checkpoint"
                    guard let (index, attempt) = Self.someAttempt(workers, &random) else { continue }
                    let stepDone = Int.random(in: 1...1_000, using: &random)
                    let commit = WorkerProtocol.CheckpointCommitted(
                        epoch: attempt.epoch, step: stepDone, location: "\(attempt.job)/step-\(stepDone)",
                        manifestDigest: String(repeating: "ab", count: 32))
                    let response = try await Self.post(
                        client, "/v1/jobs/\(attempt.job)/attempts/\(attempt.attempt)/checkpoints",
                        token: workers[index].token, commit)
                    try #require(response.status.code < 500, "\(String(buffer: response.body))")
                case 58..<67:
                    what = "finish"
                    guard let (index, attempt) = Self.someAttempt(workers, &random) else { continue }
                    let outcome: WorkerProtocol.AttemptFinished.Outcome =
                        switch Int.random(in: 0..<20, using: &random) {
                        case 0..<8: .completed
                        case 8..<14: .preempted
                        case 14..<17: .failed
                        default: .infrastructure
                        }
                    let finished = WorkerProtocol.AttemptFinished(
                        epoch: attempt.epoch, outcome: outcome, exitCode: outcome == .failed ? 3 : 0,
                        notice: outcome == .preempted ? Bool.random(using: &random) : nil,
                        lastStep: Int.random(in: 0...1_000, using: &random),
                        metrics: outcome == .completed ? ["auc": Double.random(in: 0.8...0.9, using: &random)] : nil,
                        message: outcome == .infrastructure ? "disk full" : nil,
                        artifact: outcome == .completed
                            ? ModelArtifact(
                                storage: "file:///models", location: "\(attempt.job)/model",
                                manifestDigest: String(repeating: "cd", count: 32), bytes: 1_024) : nil)
                    let response = try await Self.post(
                        client, "/v1/jobs/\(attempt.job)/attempts/\(attempt.attempt)/finish",
                        token: workers[index].token, finished)
                    try #require(response.status.code < 500, "\(String(buffer: response.body))")
                    if workers[index].current == attempt {
                        workers[index].stale.append(attempt)
                        workers[index].current = nil
                    }
                case 67..<69:
                    what = "cancel"
                    guard let job = memory.jobs.randomElement(using: &random) else { continue }
                    let response = try await client.execute(
                        uri: "/v1/jobs/\(job)/cancel", method: .post, headers: Self.bearer(Self.admin))
                    try #require(response.status.code < 500, "\(String(buffer: response.body))")
                case 69..<71:
                    what = "deregister"
                    guard let index = workers.indices.filter({ !workers[$0].gone }).randomElement(using: &random)
                    else { continue }
                    let response = try await client.execute(
                        uri: "/v1/workers/\(workers[index].id)", method: .delete,
                        headers: Self.bearer(workers[index].token))
                    try #require(response.status.code < 500, "\(String(buffer: response.body))")
                    workers[index].gone = true
                case 71..<83:
                    what = "schedule"
                    try await coordinator.scheduler.scheduleOnce()
                    for id in memory.undecided {
                        #expect(
                            try await coordinator.store.gateDecision(job: JobID(id)) != nil,
                            "step \(step), seed \(seed): succeeded job \(id) still has no gate decision after a pass")
                    }
                    memory.undecided = []
                case 83..<90:
                    what = "reconcile"
                    try await coordinator.reconciler.reconcileOnce()
                case 90..<100:
                    what = "time"
                    coordinator.advance(milliseconds: Int64.random(in: 100...5_000, using: &random))
                default:
                    what = "restart"
                    run.restart = true
                }
                if run.restart { break }
                try await Self.check(coordinator, &memory, after: "step \(step) (\(what)), seed \(seed)")
            }
            run.random = random
            run.workers = workers
            run.memory = memory
            return run
        }
    }

    /// A worker and an attempt it was given: usually its current one, sometimes a stale one.
    static func someAttempt(_ workers: [SimulatedWorker], _ random: inout SeededGenerator)
        -> (Int, WorkerProtocol.Assignment)?
    {
        let holding = workers.indices.filter { workers[$0].current != nil || !workers[$0].stale.isEmpty }
        guard let index = holding.randomElement(using: &random) else { return nil }
        let worker = workers[index]
        if let current = worker.current, worker.stale.isEmpty || Int.random(in: 0..<5, using: &random) > 0 {
            return (index, current)
        }
        return worker.stale.randomElement(using: &random).map { (index, $0) }
    }

    /// The rules, read from the store.
    static func check(_ coordinator: Coordinator, _ memory: inout Memory, after: String) async throws {
        let store = coordinator.store
        let live = try await store.liveLeases()
        // Unrevoked, expired or not: a late heartbeat renews an expired lease until the
        // reconciler revokes it.
        var holders: [WorkerID: [String]] = [:]
        for lease in live {
            for worker in lease.holders { holders[worker, default: []].append(lease.job.rawValue) }
        }
        for (worker, jobs) in holders {
            #expect(jobs.count <= 1, "\(after): worker \(worker) holds live leases of \(jobs)")
        }
        for id in memory.jobs {
            let job = try #require(try await store.job(JobID(id)), "\(after): job \(id) was lost")
            let lease = try await store.lease(job: job.id)
            if let lease {
                let before = memory.highestEpoch[id] ?? 0
                #expect(lease.epoch.value >= before, "\(after): job \(id)'s lease went back to epoch \(lease.epoch)")
                memory.highestEpoch[id] = max(before, lease.epoch.value)
                #expect(
                    job.record.latestEpoch.value >= lease.epoch.value,
                    "\(after): job \(id) has lease epoch \(lease.epoch) beyond its latest \(job.record.latestEpoch)")
            }
            if let frozen = memory.terminal[id] {
                #expect(
                    job.state == frozen.state && job.record == frozen.record,
                    "\(after): terminal job \(id) changed from \(frozen.state) to \(job.state)")
            }
            if job.state.isTerminal {
                #expect(lease == nil || lease?.revoked == true, "\(after): terminal job \(id) holds a live lease")
                memory.terminal[id] = memory.terminal[id] ?? job
            } else {
                let budget = job.record.budget
                #expect(
                    budget.maxPreemptions.map { job.record.preemptions <= $0 } ?? true,
                    "\(after): job \(id) goes on after \(job.record.preemptions) preemptions (budget \(budget.maxPreemptions ?? -1))"
                )
                #expect(
                    job.record.failures <= budget.maxFailures,
                    "\(after): job \(id) goes on after \(job.record.failures) failures (budget \(budget.maxFailures))")
            }
            if job.state.hasLiveAttempt {
                #expect(job.record.liveAttempt != nil, "\(after): job \(id) is \(job.state) without a live attempt")
            }
            let segments = try await store.segments(job: job.id)
            #expect(
                segments.count == Set(segments.map(\.attempt)).count, "\(after): job \(id) has two rows for one attempt"
            )
            #expect(
                segments.count == job.record.attemptCount,
                "\(after): job \(id) has \(segments.count) rows for \(job.record.attemptCount) attempts")
            let open = segments.filter { $0.endedAt == nil }
            #expect(open.count <= 1, "\(after): job \(id) has \(open.count) open attempts")
            if let running = open.first {
                #expect(
                    job.record.liveAttempt?.number == running.attempt,
                    "\(after): job \(id)'s attempt \(running.attempt) is open but not live")
            }
            for ended in segments where ended.endedAt != nil {
                #expect(ended.endKind != nil, "\(after): job \(id)'s attempt \(ended.attempt) ended without a kind")
            }
            if let model = job.spec.register?.model {
                let decision = try await store.gateDecision(job: job.id)
                let versions = try await store.modelVersions(model: model).filter { $0.job == id }
                #expect(versions.count <= 1, "\(after): job \(id) registered \(versions.count) versions")
                #expect(
                    versions.isEmpty || decision?.accepted == true,
                    "\(after): job \(id) has a model version without an accepted gate decision")
                if let decision {
                    #expect(job.state == .succeeded, "\(after): job \(id) is \(job.state) with a gate decision")
                    let auc = job.record.finalMetrics?["auc"] ?? 0
                    #expect(
                        decision.accepted == (auc >= 0.85),
                        "\(after): job \(id) with auc \(auc) was \(decision.accepted ? "accepted" : "refused")")
                    #expect(
                        decision.accepted == (versions.count == 1),
                        "\(after): job \(id)'s decision and its versions disagree")
                } else if job.state == .succeeded {
                    memory.undecided.insert(id)
                }
            }
            let placements = try await store.history(job.id).map(\.message).filter {
                $0.hasPrefix("placed on worker") || $0.hasPrefix("placed gang")
            }
            #expect(
                placements.count == job.record.attemptCount,
                "\(after): job \(id) has \(job.record.attemptCount) attempts and \(placements.count) placement lines")
            for line in placements {
                let reason = line.split(separator: ":", maxSplits: 1).dropFirst().first?.trimmingCharacters(
                    in: .whitespaces)
                #expect(reason?.isEmpty == false, "\(after): job \(id) placed without a reason: \(line)")
            }
        }
    }
}

@Suite(.needsPostgres) struct CoordinatorInvariantsOnPostgres {
    @Test(arguments: CoordinatorInvariantTests.seeds(from: 200_000, count: 4))
    func randomHistoriesKeepTheRulesOnPostgres(seed: Int) async throws {
        try await CoordinatorInvariantTests.onDatabase(.postgres, seed: seed)
    }
}
