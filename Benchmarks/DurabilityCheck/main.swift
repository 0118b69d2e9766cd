// Durability check: kills the coordinator with SIGKILL while submissions are in flight, restarts
// it, and checks that every acknowledged submission is still there, on SQLite or PostgreSQL.
//
//   swift build -c release --product spotwise --product DurabilityCheck
//   .build/release/DurabilityCheck --spotwise .build/release/spotwise [--kills 10] [--db postgres://...]
//
// Reports acknowledged submissions, how many were lost (must be 0), jobs whose retried submission
// (same Idempotency-Key) got a different id (must be 0), and restart-to-serving times.
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
    var flags = ["coordinator", "--state-dir", home.path, "--bind", "127.0.0.1:\(arguments.port)"]
    if let db = arguments.db { flags += ["--db", db] }
    process.arguments = flags
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

func request(_ method: HTTPMethod, _ path: String, token: String, key: String? = nil, body: ByteBuffer? = nil)
    async throws -> (Int, Data)
{
    var request = HTTPClientRequest(url: base + path)
    request.method = method
    request.headers.add(name: "Authorization", value: "Bearer \(token)")
    if let key { request.headers.add(name: "Idempotency-Key", value: key) }
    if let body { request.body = .bytes(body) }
    let response = try await http.execute(request, timeout: .seconds(5))
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

let ledger = Ledger()
var restartTimes: [Duration] = []
var attempted = 0
var generator = SystemRandomNumberGenerator()
for round in 1...arguments.kills {
    let coordinator = try startCoordinator()
    restartTimes.append(try await waitUntilServing())
    let token = try String(contentsOf: home.appendingPathComponent("admin.token"), encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
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
    try await Task.sleep(for: .milliseconds(Int.random(in: 200...1_200, using: &generator)))
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
try await http.shutdown()

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
exit(lost == 0 && mismatched == 0 ? 0 : 1)
