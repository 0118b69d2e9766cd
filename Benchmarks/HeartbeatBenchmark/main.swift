// Heartbeat throughput: the coordinator's heartbeat route against its own trivial /health route,
// in one process, over loopback with keep-alive connections, on the embedded SQLite store.
//
//   swift run -c release HeartbeatBenchmark [--seconds 5] [--connections 64] [--store sqlite|memory]
//   swift run -c release HeartbeatBenchmark --store postgres --postgres URL [--workers 1000]
//
// For 1,000 and 10,000 registered workers (each with a leased attempt): closed-loop throughput,
// p50 and p99 of /health and of heartbeats (after every worker has beaten once: the steady
// state); then 10,000 workers paced at one heartbeat per 5 s.
//
// On PostgreSQL: one database, served by 1 coordinator and then by 3 replicas in this process
// (each with its own connection pool and port; the load spread evenly), closed-loop heartbeats
// in total against /health on one replica, same run.
import AsyncHTTPClient
import Coordinator
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SpotwiseCore
import StateStore

struct Arguments {
    var seconds = 5
    var connections = 64
    var store = "sqlite"
    var postgres = ""
    var workers = 1_000
    init() {
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--seconds": seconds = Int(value) ?? seconds
            case "--connections": connections = Int(value) ?? connections
            case "--store": store = value
            case "--postgres": postgres = value
            case "--workers": workers = Int(value) ?? workers
            default:
                fatalError(
                    "unknown flag \(flag); known: --seconds N --connections N --store sqlite|memory|postgres --postgres URL --workers N"
                )
            }
        }
    }
}

struct Sample {
    var requests: Int
    var seconds: Double
    var latencies: [Double]  // milliseconds, sorted

    var throughput: Double { Double(requests) / seconds }
    func percentile(_ q: Double) -> Double {
        latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(q * Double(latencies.count)))]
    }
}

let arguments = Arguments()
let http = HTTPClient(
    eventLoopGroupProvider: .singleton,
    configuration: .init(
        connectionPool: .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: arguments.connections)))

/// Runs `connections` loops for `seconds`, each sending `makeRequest(i)` back to back (closed loop),
/// or paced to `ratePerSecond` in total (open loop).
func load(seconds: Int, ratePerSecond: Double? = nil, makeRequest: @escaping @Sendable (Int) -> HTTPClientRequest) async
    -> Sample
{
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + .seconds(seconds)
    let loops = arguments.connections
    let results = await withTaskGroup(of: [Double].self) { group in
        for loop in 0..<loops {
            group.addTask {
                var latencies: [Double] = []
                var index = loop
                let interval = ratePerSecond.map { Duration.seconds(Double(loops) / $0) }
                var next = start + (interval.map { $0 * Double(loop) / Double(loops) } ?? .zero)
                while clock.now < deadline {
                    if let interval {
                        try? await clock.sleep(until: next)
                        next += interval
                    }
                    let begin = clock.now
                    guard let response = try? await http.execute(makeRequest(index), timeout: .seconds(10)),
                        (try? await response.body.collect(upTo: 1 << 16)) != nil, response.status.code < 300
                    else { continue }
                    let elapsed = clock.now - begin
                    latencies.append(
                        Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                    index += loops
                }
                return latencies
            }
        }
        var all: [Double] = []
        for await latencies in group { all += latencies }
        return all
    }
    let elapsed = clock.now - start
    return Sample(
        requests: results.count,
        seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
        latencies: results.sorted())
}

func row(_ label: String, _ sample: Sample, baseline: Sample?) -> String {
    let ratio = baseline.map { String(format: "%.2f", sample.throughput / $0.throughput) } ?? "1.00"
    return String(
        format: "| %@ | %.0f | %@ | %.2f | %.2f |", label, sample.throughput, ratio, sample.percentile(0.5),
        sample.percentile(0.99))
}

print("| run | requests/s | vs /health | p50 ms | p99 ms |")
print("|---|---|---|---|---|")
if arguments.store == "postgres" {
    try await replicasOnPostgres()
    try await http.shutdown().get()
    exit(0)
}
for workers in [1_000, 10_000] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spotwise-hb-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let store: any StateStore =
        arguments.store == "memory"
        ? InMemoryStateStore()
        : try await SQLStateStore.openSQLite(path: directory.appendingPathComponent("state.db").path)
    try await store.migrate()
    let leaseClock = MonotonicLeaseClock()
    let tokens = try await seed(store, workers: workers)
    let port = PortBox()
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    let app = Application(
        router: CoordinatorApplication.router(
            store: store, tokens: AccessTokens(admin: "admin"), settings: .init(), clock: SystemClock(lease: leaseClock)
        ),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { await port.set($0.localAddress?.port ?? 0) }, logger: logger)
    let server = Task { try await app.runService(gracefulShutdownSignals: []) }
    let base = "http://127.0.0.1:\(await port.wait())"
    let health = await load(seconds: arguments.seconds) { _ in HTTPClientRequest(url: base + "/health") }
    let beat = { @Sendable (index: Int) -> HTTPClientRequest in
        let worker = index % workers
        var request = HTTPClientRequest(url: base + "/v1/workers/worker-\(worker)/heartbeat")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(tokens[worker])")
        request.body = .bytes(ByteBuffer(string: #"{"job": "job-\#(worker)", "attempt": 1, "epoch": 1, "step": 10}"#))
        return request
    }
    // Steady state: every worker has beaten once (its token checked, its lease and job read).
    await withTaskGroup(of: Void.self) { group in
        for loop in 0..<arguments.connections {
            group.addTask {
                for worker in stride(from: loop, to: workers, by: arguments.connections) {
                    _ = try? await http.execute(beat(worker), timeout: .seconds(10)).body.collect(upTo: 1 << 16)
                }
            }
        }
    }
    let heartbeats = await load(seconds: arguments.seconds, makeRequest: beat)
    print(row("\(workers) workers: /health, closed loop", health, baseline: nil))
    print(row("\(workers) workers: heartbeat, closed loop", heartbeats, baseline: health))
    if workers == 10_000 {
        let paced = await load(seconds: arguments.seconds, ratePerSecond: Double(workers) / 5, makeRequest: beat)
        print(row("10000 workers: heartbeat, 1 per 5 s each (2000/s offered)", paced, baseline: health))
    }
    server.cancel()
    _ = await server.result
    try await store.close()
}
try await http.shutdown().get()

actor PortBox {
    var port: Int?
    var waiters: [CheckedContinuation<Int, Never>] = []
    func set(_ value: Int) {
        port = value
        for waiter in waiters { waiter.resume(returning: value) }
        waiters = []
    }
    func wait() async -> Int {
        if let port { return port }
        return await withCheckedContinuation { waiters.append($0) }
    }
}

/// Registers `workers` workers, each with a job placed and leased to it; their tokens.
func seed(_ store: any StateStore, workers: Int) async throws -> [String] {
    var tokens: [String] = []
    for index in 0..<workers {
        let id = WorkerID("worker-\(index)")
        let token = "\(id).secret-\(index)"
        try await store.registerWorker(
            WorkerRecord(
                id: id, secretDigest: AccessTokens.hexDigest(token), name: id.rawValue, provider: "local",
                registeredAt: Date()))
        let job = try await store.submit(
            JobSubmission(
                id: JobID("job-\(index)"), spec: JobSpec(name: "bench", run: "x"), idempotencyKey: nil,
                submittedAt: Date())
        ).job
        let placed = try JobStateMachine.apply(
            .placed(Placement(provider: .local, region: "local", market: .spot)), to: job.record)
        _ = try await store.update(job.id, expectedVersion: 1, record: placed.record, events: [], at: Date())
        try await store.grantLease(
            Lease(job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: id, expiresAtMilliseconds: 1 << 40))
        tokens.append(token)
    }
    return tokens
}

/// One PostgreSQL database served by 1 coordinator, then by 3 (each its own pool and port):
/// total closed-loop heartbeats per second, against /health on one of them.
func replicasOnPostgres() async throws {
    guard !arguments.postgres.isEmpty else { fatalError("--store postgres needs --postgres URL") }
    // A database of its own, dropped at the end.
    let name = "spotwise_hb_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
    let admin = try await SQLStateStore.connectPostgres(url: arguments.postgres)
    try await admin.execute("CREATE DATABASE \(name)")
    guard var components = URLComponents(string: arguments.postgres) else { fatalError("bad --postgres URL") }
    components.path = "/\(name)"
    let url = components.string!
    let setup = try await SQLStateStore.connectPostgres(url: url)
    try await setup.migrate()
    let tokens = try await seed(setup, workers: arguments.workers)
    try await setup.close()
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    var baseline: Sample?
    for replicas in [1, 3] {
        var stores: [any StateStore] = []
        var servers: [Task<Void, any Error>] = []
        var bases: [String] = []
        for _ in 0..<replicas {
            let store = try await SQLStateStore.connectPostgres(url: url)
            let port = PortBox()
            let app = Application(
                router: CoordinatorApplication.router(
                    store: store, tokens: AccessTokens(admin: "admin"), settings: .init(),
                    clock: SystemClock()),
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { await port.set($0.localAddress?.port ?? 0) }, logger: logger)
            servers.append(Task { try await app.runService(gracefulShutdownSignals: []) })
            bases.append("http://127.0.0.1:\(await port.wait())")
            stores.append(store)
        }
        let frozen = bases
        if baseline == nil {
            baseline = await load(seconds: arguments.seconds) { _ in HTTPClientRequest(url: frozen[0] + "/health") }
            print(row("\(arguments.workers) workers, PostgreSQL: /health on one coordinator", baseline!, baseline: nil))
        }
        let workers = arguments.workers
        let beat = { @Sendable (index: Int) -> HTTPClientRequest in
            let worker = index % workers
            var request = HTTPClientRequest(
                url: frozen[index % frozen.count] + "/v1/workers/worker-\(worker)/heartbeat")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(tokens[worker])")
            request.body = .bytes(
                ByteBuffer(string: #"{"job": "job-\#(worker)", "attempt": 1, "epoch": 1, "step": 10}"#))
            return request
        }
        _ = await load(seconds: 1, makeRequest: beat)  // connections warm, digests cached
        let heartbeats = await load(seconds: arguments.seconds, makeRequest: beat)
        print(
            row(
                "\(arguments.workers) workers, PostgreSQL: heartbeats in total, \(replicas) coordinator(s)", heartbeats,
                baseline: baseline))
        for server in servers { server.cancel() }
        for server in servers { _ = await server.result }
        for store in stores { try await store.close() }
    }
    try await admin.execute("DROP DATABASE IF EXISTS \(name)")
    try await admin.close()
}
