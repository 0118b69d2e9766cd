// Durability check: kills the coordinator with SIGKILL while submissions and worker heartbeats
// are in flight, restarts it, and checks that every acknowledged submission is still there and
// that no job ever had two live attempts, on SQLite or PostgreSQL.
//
//   swift build -c release --product spotwise --product DurabilityCheck
//   .build/release/DurabilityCheck --spotwise .build/release/spotwise [--kills 10] [--db postgres://...]
//
// Reports acknowledged submissions, how many were lost (must be 0), jobs whose retried submission
// (same Idempotency-Key) got a different id (must be 0), restart-to-serving times, and for the
// simulated workers (which take attempts, heartbeat, and now and then stall past their lease and
// come back with the old epoch): jobs during which two workers held a lease the coordinator had
// confirmed live at the same moment (must be 0).
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

struct Arguments {
    var spotwise = ".build/release/spotwise"
    var kills = 10
    var db: String?
    var port = 17_070
    var submitters = 8
    var workers = 6

    init() {
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--spotwise": spotwise = value
            case "--kills": kills = Int(value) ?? kills
            case "--db": db = value
            case "--port": port = Int(value) ?? port
            case "--submitters": submitters = Int(value) ?? submitters
            case "--workers": workers = Int(value) ?? workers
            default:
                fatalError("unknown flag \(flag); known: --spotwise PATH --kills N --db URL --port P --submitters N")
            }
        }
    }
}

/// Acknowledged submissions: idempotency key -> job id, shared by the submitters.
actor Ledger {
    var acknowledged: [String: String] = [:]
    func record(key: String, id: String) { acknowledged[key] = id }
}

let arguments = Arguments()
let home = FileManager.default.temporaryDirectory.appendingPathComponent("spotwise-durability-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
let base = "http://127.0.0.1:\(arguments.port)"
let http = HTTPClient(eventLoopGroupProvider: .singleton)
let spec = ByteBuffer(string: "name: durable\nrun: python3 train.py\n")

func startCoordinator() throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments.spotwise)
    var flags = [
        "coordinator", "--state-dir", home.path, "--bind", "127.0.0.1:\(arguments.port)", "--heartbeat-seconds", "1",
        "--lease-seconds", "2", "--restart-grace-seconds", "2",
        // PostgreSQL: the restarted coordinator takes leadership over once the killed one's claim runs out.
        "--leader-seconds", "3",
    ]
    if let db = arguments.db { flags += ["--db", db] }
    process.arguments = flags
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// The simulated workers' own client: the submitters would otherwise hold every pooled connection.
let workerHTTP = HTTPClient(eventLoopGroupProvider: .singleton)

func request(
    _ method: HTTPMethod, _ path: String, token: String, key: String? = nil, body: ByteBuffer? = nil,
    client: HTTPClient = http
) async throws -> (Int, Data) {
    var request = HTTPClientRequest(url: base + path)
    request.method = method
    request.headers.add(name: "Authorization", value: "Bearer \(token)")
    if let key { request.headers.add(name: "Idempotency-Key", value: key) }
    if let body { request.body = .bytes(body) }
    let response = try await client.execute(request, timeout: .seconds(5))
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return (Int(response.status.code), Data(bytes.readableBytesView))
}

/// Waits until /health answers; returns how long that took.
func waitUntilServing() async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    while clock.now - start < .seconds(30) {
        if let (status, _) = try? await request(.GET, "/health", token: ""), status == 200 { return clock.now - start }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw CancellationError()
}

func jobID(_ data: Data) -> String? {
    (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["id"] as? String
}

/// Every lease a worker was told is live: from the reply until the expiry it announced.
actor Holds {
    struct Hold {
        var worker: Int
        var epoch: Int
        var from: ContinuousClock.Instant
        var until: ContinuousClock.Instant
    }
    var byJob: [String: [Hold]] = [:]
    var accepted = 0
    var refused = 0
    var placements = Set<String>()

    func confirm(job: String, worker: Int, epoch: Int, from: ContinuousClock.Instant, validMilliseconds: Int) {
        accepted += 1
        placements.insert("\(job)/\(epoch)")
        byJob[job, default: []].append(
            Hold(worker: worker, epoch: epoch, from: from, until: from + .milliseconds(validMilliseconds)))
    }

    func refuse() { refused += 1 }

    /// Jobs where two different epochs were held live at the same moment, each described.
    func doubleHeld(since origin: ContinuousClock.Instant) -> [String] {
        func ms(_ instant: ContinuousClock.Instant) -> Int {
            let elapsed = instant - origin
            return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        }
        var found: [String] = []
        for (job, holds) in byJob {
            let sorted = holds.sorted { $0.from < $1.from }
            search: for (index, hold) in sorted.enumerated() {
                for later in sorted[(index + 1)...] {
                    if later.from >= hold.until { break }
                    if later.epoch != hold.epoch {
                        found.append(
                            "\(job): worker \(hold.worker) epoch \(hold.epoch) held \(ms(hold.from))-\(ms(hold.until)) ms, worker \(later.worker) epoch \(later.epoch) from \(ms(later.from)) ms"
                        )
                        break search
                    }
                }
            }
        }
        return found
    }
}

/// A simulated worker: takes attempts, heartbeats every 300 ms, finishes an attempt after about
/// 8 heartbeats, and now and then stalls for 4 s (past its 2 s lease) before heartbeating
/// again with the epoch it had.
func simulateWorker(_ index: Int, token: String, id: String, holds: Holds) async {
    var generator = SystemRandomNumberGenerator()
    var attempt: (job: String, attempt: Int, epoch: Int)?
    var beats = 0
    while !Task.isCancelled {
        if let current = attempt, beats >= 8 {
            let body = ByteBuffer(string: #"{"epoch": \#(current.epoch), "outcome": "completed"}"#)
            if let (status, _) = try? await request(
                .POST, "/v1/jobs/\(current.job)/attempts/\(current.attempt)/finish", token: token, body: body,
                client: workerHTTP),
                status != 503
            {
                attempt = nil
            }
        } else if let current = attempt {
            beats += 1
            let body = ByteBuffer(
                string: #"{"job": "\#(current.job)", "attempt": \#(current.attempt), "epoch": \#(current.epoch)}"#)
            let sent = ContinuousClock.now
            if let (status, data) = try? await request(
                .POST, "/v1/workers/\(id)/heartbeat", token: token, body: body, client: workerHTTP)
            {
                if status == 200,
                    let reply = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let valid = reply["lease_expires_in_ms"] as? Int
                {
                    await holds.confirm(
                        job: current.job, worker: index, epoch: current.epoch, from: sent, validMilliseconds: valid)
                } else if status == 409 || status == 404 || status == 403 {
                    await holds.refuse()
                    attempt = nil
                }
            }
            let stall = Int.random(in: 0..<15, using: &generator) == 0
            try? await Task.sleep(for: .milliseconds(stall ? 4_000 : 300))
        } else {
            if let (status, data) = try? await request(
                .POST, "/v1/workers/\(id)/assignment", token: token, client: workerHTTP),
                status == 200,
                let reply = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let assignment = reply["assignment"] as? [String: Any], let job = assignment["job"] as? String,
                let number = assignment["attempt"] as? Int, let epoch = assignment["epoch"] as? Int
            {
                attempt = (job, number, epoch)
                beats = 0
            } else {
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
    }
}

let ledger = Ledger()
let holds = Holds()
let origin = ContinuousClock.now
var workerTokens: [(id: String, token: String)] = []
var workers: Task<Void, Never>?
var restartTimes: [Duration] = []
var attempted = 0
var generator = SystemRandomNumberGenerator()
for round in 1...arguments.kills {
    let coordinator = try startCoordinator()
    restartTimes.append(try await waitUntilServing())
    let token = try String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    if workerTokens.isEmpty {
        let bootstrap = try String(contentsOf: home.appendingPathComponent("bootstrap.token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for index in 0..<arguments.workers {
            let body = ByteBuffer(
                string:
                    #"{"name": "sim-\#(index)", "provider": "local", "pool": {"region": "local-a", "market": "spot", "instance_type": "sim", "price_per_hour": "0.30", "on_demand_price_per_hour": "1.00"}}"#
            )
            let (_, data) = try await request(.POST, "/v1/workers", token: bootstrap, body: body)
            let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            workerTokens.append((object["worker_id"] as! String, object["token"] as! String))
        }
        // The workers run through every kill and restart that follows.
        let registered = workerTokens
        workers = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, worker) in registered.enumerated() {
                    group.addTask { await simulateWorker(index, token: worker.token, id: worker.id, holds: holds) }
                }
            }
        }
    }
    let submitters = Task {
        await withTaskGroup(of: Int.self) { group in
            for submitter in 0..<arguments.submitters {
                group.addTask {
                    var sent = 0
                    while !Task.isCancelled {
                        let key = "r\(round)-s\(submitter)-\(sent)"
                        sent += 1
                        guard
                            let (status, data) = try? await request(
                                .POST, "/v1/jobs", token: token, key: key, body: spec)
                        else { break }
                        if status == 201 || status == 200, let id = jobID(data) {
                            await ledger.record(key: key, id: id)
                        }
                    }
                    return sent
                }
            }
            var total = 0
            for await sent in group { total += sent }
            return total
        }
    }
    try await Task.sleep(for: .milliseconds(Int.random(in: 2_000...5_000, using: &generator)))
    kill(coordinator.processIdentifier, SIGKILL)
    coordinator.waitUntilExit()
    submitters.cancel()
    attempted += await submitters.value
}

// Final restart: every acknowledged submission must be there, and a retry must return the same id.
let coordinator = try startCoordinator()
restartTimes.append(try await waitUntilServing())
let token = try String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8)
    .trimmingCharacters(in: .whitespacesAndNewlines)
// Let the workers meet the final coordinator too (past the restart grace), then stop them.
try await Task.sleep(for: .seconds(4))
workers?.cancel()
await workers?.value
let acknowledged = await ledger.acknowledged
var lost = 0
var mismatched = 0
for (key, id) in acknowledged {
    let (status, _) = try await request(.GET, "/v1/jobs/\(id)", token: token)
    if status != 200 { lost += 1 }
    let (_, data) = try await request(.POST, "/v1/jobs", token: token, key: key, body: spec)
    if jobID(data) != id { mismatched += 1 }
}
coordinator.terminate()
coordinator.waitUntilExit()
try await http.shutdown().get()
try await workerHTTP.shutdown().get()

let milliseconds = restartTimes.map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 }
    .sorted()
print("backend: \(arguments.db == nil ? "sqlite" : "postgres"), SIGKILLs: \(arguments.kills)")
print(
    "submissions sent: \(attempted), acknowledged: \(acknowledged.count), lost: \(lost), retried with a different id: \(mismatched)"
)
print(
    String(
        format: "restart-to-serving: p50 %.0f ms, max %.0f ms (%d starts)", milliseconds[milliseconds.count / 2],
        milliseconds.last!, milliseconds.count))
let doubleHolds = await holds.doubleHeld(since: origin)
for line in doubleHolds { print("two live leases: \(line)") }
let doubles = doubleHolds.count
print(
    "worker heartbeats accepted: \(await holds.accepted), refused as stale: \(await holds.refused), attempts run: \(await holds.placements.count), jobs with two live leases at once: \(doubles)"
)
exit(lost == 0 && mismatched == 0 && doubles == 0 ? 0 : 1)
