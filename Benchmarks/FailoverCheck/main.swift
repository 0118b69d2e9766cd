// Failover under load: three coordinator replicas on one PostgreSQL behind nginx (Debian's
// package), submitters with idempotency keys, simulated workers, jobs that launch SageMaker
// capacity (a local fake that keeps every training job starting, so a second launch for one
// attempt can only be a double launch), and one real digits job on a local worker that knows the
// three replicas' URLs. The current leader is SIGKILLed again and again, and restarted.
//
//   swift build --product spotwise --product FailoverCheck
//   .build/debug/FailoverCheck --spotwise .build/debug/spotwise --db postgres://... [--kills 20]
//
// Reports acknowledged submissions lost (must be 0), retried submissions that got another id
// (0), jobs two workers held live leases of at once (0), SageMaker capacity launched twice for
// one attempt (0), failover time from the kill to the new leader's first scheduling pass (p50 and
// max, against the leadership time plus one scheduler period), and the digits job: succeeded and
// its model registered. Exits 1 when any of these fails.
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import SpotwiseTesting

struct Arguments {
    var spotwise = ".build/debug/spotwise"
    var db = ""
    var kills = 20
    var port = 18_080
    var submitters = 8
    var workers = 6
    let leaderSeconds = 3
    let heartbeatSeconds = 1

    init() {
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--spotwise": spotwise = value
            case "--db": db = value
            case "--kills": kills = Int(value) ?? kills
            case "--port": port = Int(value) ?? port
            case "--submitters": submitters = Int(value) ?? submitters
            case "--workers": workers = Int(value) ?? workers
            default: fatalError("unknown flag \(flag); known: --spotwise --db --kills --port --submitters --workers")
            }
        }
        guard db.hasPrefix("postgres") else { fatalError("--db postgres://... is required: replicas need PostgreSQL") }
    }
}

let arguments = Arguments()
let home = FileManager.default.temporaryDirectory.appendingPathComponent("spotwise-failover-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
let balancer = "http://127.0.0.1:\(arguments.port)"
let replicaPorts = (1...3).map { arguments.port + $0 }
let http = HTTPClient(eventLoopGroupProvider: .singleton)

func log(_ line: String) { FileHandle.standardError.write(Data("failover: \(line)\n".utf8)) }

func request(_ method: HTTPMethod, _ url: String, token: String = "", key: String? = nil, body: String? = nil)
    async throws -> (Int, Data)
{
    var request = HTTPClientRequest(url: url)
    request.method = method
    request.headers.add(name: "Authorization", value: "Bearer \(token)")
    if let key { request.headers.add(name: "Idempotency-Key", value: key) }
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    let response = try await http.execute(request, timeout: .seconds(5))
    let bytes = try await response.body.collect(upTo: 4 << 20)
    return (Int(response.status.code), Data(bytes.readableBytesView))
}

func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

// MARK: The SageMaker fake: every training job stays starting, so nothing is launched again legitimately.

let sageMaker = SageMakerFake(statuses: [("InProgress", "Starting")])
let fakePorts = AsyncStream.makeStream(of: Int.self)
let fakeApp = Application(
    router: sageMaker.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
    onServerRunning: { fakePorts.continuation.yield($0.localAddress?.port ?? 0) })
let fakeTask = Task { try await fakeApp.runService(gracefulShutdownSignals: []) }
func firstPort(_ stream: AsyncStream<Int>) async -> Int? {
    var iterator = stream.makeAsyncIterator()
    return await iterator.next()
}
guard let fakePort = await firstPort(fakePorts.stream) else { fatalError("the SageMaker fake did not start") }
let sageMakerConfig = home.appendingPathComponent("sagemaker.yaml")
try """
region: us-east-1
role_arn: arn:aws:iam::123456789012:role/spotwise-failover
image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/spotwise-worker:latest
output_path: s3://spotwise-failover/out
instance_types:
  - {name: ml.g4dn.xlarge, on_demand_price_per_hour: "0.736", expected_spot_discount: 0.7}
endpoint: http://127.0.0.1:\(fakePort)
""".write(to: sageMakerConfig, atomically: true, encoding: .utf8)

// MARK: nginx in front of the three replicas.

let nginxConfig = home.appendingPathComponent("nginx.conf")
try FileManager.default.createDirectory(at: home.appendingPathComponent("nginx"), withIntermediateDirectories: true)
try """
worker_processes 2;
pid \(home.path)/nginx/nginx.pid;
error_log \(home.path)/nginx/error.log warn;
\(getuid() == 0 ? "user root;" : "")
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path \(home.path)/nginx/body;
    proxy_temp_path \(home.path)/nginx/proxy;
    fastcgi_temp_path \(home.path)/nginx/fastcgi;
    uwsgi_temp_path \(home.path)/nginx/uwsgi;
    scgi_temp_path \(home.path)/nginx/scgi;
    upstream coordinators {
\(replicaPorts.map { "        server 127.0.0.1:\($0) max_fails=1 fail_timeout=1s;" }.joined(separator: "\n"))
        keepalive 32;
    }
    server {
        listen 127.0.0.1:\(arguments.port);
        client_max_body_size 2m;
        location / {
            proxy_pass http://coordinators;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_next_upstream error timeout;
        }
    }
}
""".write(to: nginxConfig, atomically: true, encoding: .utf8)

func start(_ executable: String, _ flags: [String], environment: [String: String] = [:], output: String) throws
    -> Process
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = flags
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    _ = FileManager.default.createFile(atPath: output, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
    handle.seekToEndOfFile()
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
}

let nginx = try start(
    "/usr/sbin/nginx", ["-c", nginxConfig.path, "-p", home.appendingPathComponent("nginx").path, "-g", "daemon off;"],
    output: home.appendingPathComponent("nginx/out.log").path)

// MARK: The replicas.

func startReplica(_ index: Int) throws -> Process {
    try start(
        arguments.spotwise,
        [
            "coordinator", "--db", arguments.db, "--state-dir", home.appendingPathComponent("state").path, "--bind",
            "127.0.0.1:\(replicaPorts[index])", "--heartbeat-seconds", "\(arguments.heartbeatSeconds)",
            "--lease-seconds", "3", "--restart-grace-seconds", "3", "--leader-seconds", "\(arguments.leaderSeconds)",
            "--sagemaker", sageMakerConfig.path, "--public-url", balancer,
        ],
        environment: ["AWS_ACCESS_KEY_ID": "failover", "AWS_SECRET_ACCESS_KEY": "failover", "AWS_REGION": "us-east-1"],
        output: home.appendingPathComponent("replica-\(index).log").path)
}

func health(_ port: Int) async -> [String: Any]? {
    guard let (status, data) = try? await request(.GET, "http://127.0.0.1:\(port)/health"), status == 200 else {
        return nil
    }
    return json(data)
}

func waitUntilServing(_ port: Int) async throws {
    let start = ContinuousClock.now
    while ContinuousClock.now - start < .seconds(60) {
        if await health(port) != nil { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw CancellationError()
}

var replicas: [Process] = []
for index in 0..<3 {
    replicas.append(try startReplica(index))
    try await waitUntilServing(replicaPorts[index])  // the first creates the tokens the others read
}
func token(_ name: String) throws -> String {
    try String(contentsOf: home.appendingPathComponent("state/\(name)"), encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
}
let admin = try token("admin.token")
let bootstrap = try token("bootstrap.token")

func schedulingPasses(_ port: Int) async -> Int? {
    guard let (status, data) = try? await request(.GET, "http://127.0.0.1:\(port)/metrics", token: admin),
        status == 200
    else { return nil }
    let line = String(decoding: data, as: UTF8.self).split(separator: "\n")
        .first { $0.hasPrefix("spotwise_scheduling_passes_total ") }
    return line.flatMap { Double($0.split(separator: " ").last ?? "").map { Int($0) } }
}

func leaderIndex() async -> Int? {
    for index in 0..<3 where await health(replicaPorts[index])?["role"] as? String == "leader" { return index }
    return nil
}

// MARK: Simulated workers (through nginx): take attempts, heartbeat, finish.

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

    func confirm(job: String, worker: Int, epoch: Int, from: ContinuousClock.Instant, valid: Int) {
        accepted += 1
        byJob[job, default: []].append(
            Hold(worker: worker, epoch: epoch, from: from, until: from + .milliseconds(valid)))
    }

    /// Jobs where two epochs were held live at one moment.
    func doubleHeld() -> [String] {
        byJob.compactMap { job, holds in
            let sorted = holds.sorted { $0.from < $1.from }
            for (index, hold) in sorted.enumerated() {
                if let overlap = sorted[(index + 1)...].prefix(while: { $0.from < hold.until }).first(where: {
                    $0.epoch != hold.epoch
                }) {
                    return
                        "\(job): epochs \(hold.epoch) (worker \(hold.worker)) and \(overlap.epoch) (worker \(overlap.worker))"
                }
            }
            return nil
        }
    }
}
let holds = Holds()

func simulateWorker(_ index: Int, id: String, token: String) async {
    var attempt: (job: String, attempt: Int, epoch: Int)?
    var beats = 0
    while !Task.isCancelled {
        if let current = attempt, beats >= 8 {
            let body = #"{"epoch": \#(current.epoch), "outcome": "completed"}"#
            if let (status, _) = try? await request(
                .POST, "\(balancer)/v1/jobs/\(current.job)/attempts/\(current.attempt)/finish", token: token, body: body
            ),
                status != 503 && status != 502
            {
                attempt = nil
            }
        } else if let current = attempt {
            beats += 1
            let sent = ContinuousClock.now
            let body = #"{"job": "\#(current.job)", "attempt": \#(current.attempt), "epoch": \#(current.epoch)}"#
            if let (status, data) = try? await request(
                .POST, "\(balancer)/v1/workers/\(id)/heartbeat", token: token, body: body)
            {
                if status == 200, let valid = json(data)["lease_expires_in_ms"] as? Int {
                    await holds.confirm(job: current.job, worker: index, epoch: current.epoch, from: sent, valid: valid)
                } else if [403, 404, 409].contains(status) {
                    attempt = nil
                }
            }
            try? await Task.sleep(for: .milliseconds(300))
        } else {
            if let (status, data) = try? await request(
                .POST, "\(balancer)/v1/workers/\(id)/assignment", token: token),
                status == 200, let assignment = json(data)["assignment"] as? [String: Any],
                let job = assignment["job"] as? String, let number = assignment["attempt"] as? Int,
                let epoch = assignment["epoch"] as? Int
            {
                attempt = (job, number, epoch)
                beats = 0
            } else {
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
    }
}

var simulated: [(String, String)] = []
for index in 0..<arguments.workers {
    let body =
        #"{"name": "sim-\#(index)", "provider": "local", "pool": {"region": "local-a", "market": "spot", "instance_type": "sim", "price_per_hour": "0.30", "on_demand_price_per_hour": "1.00"}}"#
    let (status, data) = try await request(.POST, "\(balancer)/v1/workers", token: bootstrap, body: body)
    guard status == 201, let id = json(data)["worker_id"] as? String, let secret = json(data)["token"] as? String else {
        fatalError("cannot register a simulated worker: HTTP \(status)")
    }
    simulated.append((id, secret))
}
let workers = Task {
    await withTaskGroup(of: Void.self) { group in
        for (index, worker) in simulated.enumerated() {
            group.addTask { await simulateWorker(index, id: worker.0, token: worker.1) }
        }
    }
}

// MARK: The real digits job on a local worker that knows the three replicas' URLs.

let digitsSpec = """
    name: failover-digits
    run: python3 jobs/digits/train.py
    workdir: .
    env: {PYTHONUNBUFFERED: "1"}
    providers: [{name: local, regions: [failover-b]}]
    market: on-demand
    checkpoint: {every_steps: 50, keep_last: 2, storage: "file://checkpoints"}
    retries: {max_preemptions: unlimited, max_failures: 2}
    hyperparameters: {learning_rate: 0.1, epochs: 400, batch_size: 64, seed: 7}
    register: {model: failover-digits, gate: {metric: auc, min: 0.85}}
    """
let (digitsStatus, digitsData) = try await request(
    .POST, "\(balancer)/v1/jobs", token: admin, key: "failover-digits-\(UUID().uuidString)", body: digitsSpec)
guard digitsStatus == 201, let digitsJob = json(digitsData)["id"] as? String else {
    fatalError("the digits job was refused: HTTP \(digitsStatus) \(String(decoding: digitsData, as: UTF8.self))")
}
let agent = try start(
    arguments.spotwise,
    [
        "worker", "--coordinator", replicaPorts.map { "http://127.0.0.1:\($0)" }.joined(separator: ","),
        "--state-dir", home.appendingPathComponent("state").path, "--name", "digits-worker", "--region", "failover-b",
        "--market", "on-demand", "--instance-type", "cpu", "--price", "0.10", "--work-dir",
        home.appendingPathComponent("agent").path, "--job-root", FileManager.default.currentDirectoryPath,
    ],
    output: home.appendingPathComponent("agent.log").path)

// MARK: Submitters (through nginx); every fifth submission asks for SageMaker capacity.

actor Ledger {
    var acknowledged: [String: (id: String, spec: String)] = [:]
    var sent = 0
    func record(key: String, id: String, spec: String) { acknowledged[key] = (id, spec) }
    func count() { sent += 1 }
}
let ledger = Ledger()
let localSpec = "name: sim\nrun: \"true\"\nproviders: [{name: local, regions: [local-a]}]\n"
let cloudSpec = "name: cloud\nrun: \"true\"\nproviders: [{name: sagemaker}]\nmarket: spot\n"
let submitters = Task {
    await withTaskGroup(of: Void.self) { group in
        for submitter in 0..<arguments.submitters {
            group.addTask {
                var sent = 0
                while !Task.isCancelled {
                    let key = "s\(submitter)-\(sent)"
                    let spec = sent % 5 == 4 ? cloudSpec : localSpec
                    sent += 1
                    await ledger.count()
                    if let (status, data) = try? await request(
                        .POST, "\(balancer)/v1/jobs", token: admin, key: key, body: spec),
                        status == 201 || status == 200, let id = json(data)["id"] as? String
                    {
                        await ledger.record(key: key, id: id, spec: spec)
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }
}

// MARK: Kill the leader, again and again.

var failovers: [Double] = []
var takeovers: [Double] = []
var killsWhileDigitsRan = 0
var generator = SystemRandomNumberGenerator()
for round in 1...arguments.kills {
    try await Task.sleep(for: .milliseconds(Int.random(in: 2_000...4_000, using: &generator)))
    var leader = await leaderIndex()
    let waitStart = ContinuousClock.now
    while leader == nil, ContinuousClock.now - waitStart < .seconds(30) {
        try await Task.sleep(for: .milliseconds(50))
        leader = await leaderIndex()
    }
    guard let killed = leader else { fatalError("no replica leads") }
    if let (_, data) = try? await request(.GET, "\(balancer)/v1/jobs/\(digitsJob)", token: admin),
        ["running", "provisioning", "recovering"].contains(json(data)["state"] as? String ?? "")
    {
        killsWhileDigitsRan += 1
    }
    var before: [Int: Int] = [:]
    for index in 0..<3 where index != killed { before[index] = await schedulingPasses(replicaPorts[index]) ?? 0 }
    let killedAt = ContinuousClock.now
    kill(replicas[killed].processIdentifier, SIGKILL)
    replicas[killed].waitUntilExit()
    var took: Duration?
    var tookOver: Duration?
    while took == nil, ContinuousClock.now - killedAt < .seconds(60) {
        for index in 0..<3 where index != killed {
            guard await health(replicaPorts[index])?["role"] as? String == "leader" else { continue }
            if tookOver == nil { tookOver = ContinuousClock.now - killedAt }
            guard let passes = await schedulingPasses(replicaPorts[index]), passes > before[index] ?? 0
            else { continue }
            took = ContinuousClock.now - killedAt
        }
        if took == nil { try await Task.sleep(for: .milliseconds(25)) }
    }
    guard let took else { fatalError("no replica took over within 60 s of kill \(round)") }
    failovers.append(milliseconds(took))
    takeovers.append(milliseconds(tookOver ?? took))
    log(
        String(
            format: "kill %d: replica %d; a new leader after %.0f ms, its first pass done after %.0f ms", round, killed,
            milliseconds(tookOver ?? took), milliseconds(took)))
    replicas[killed] = try startReplica(killed)
    try await waitUntilServing(replicaPorts[killed])
}
submitters.cancel()
await submitters.value

// MARK: The digits job finishes; then every check.

var digitsState = ""
let digitsStart = ContinuousClock.now
while ContinuousClock.now - digitsStart < .seconds(600) {
    if let (_, data) = try? await request(.GET, "\(balancer)/v1/jobs/\(digitsJob)", token: admin) {
        digitsState = json(data)["state"] as? String ?? ""
        if ["succeeded", "failed", "cancelled"].contains(digitsState) { break }
    }
    try await Task.sleep(for: .seconds(1))
}
var registered = false
let modelStart = ContinuousClock.now
while digitsState == "succeeded", !registered, ContinuousClock.now - modelStart < .seconds(30) {
    if let (status, data) = try? await request(.GET, "\(balancer)/v1/models/failover-digits", token: admin),
        status == 200, let versions = json(data)["versions"] as? [[String: Any]], !versions.isEmpty
    {
        registered = true
    } else {
        try await Task.sleep(for: .milliseconds(500))
    }
}
workers.cancel()
await workers.value
agent.terminate()
agent.waitUntilExit()

let acknowledged = await ledger.acknowledged
var lost = 0
var mismatched = 0
for (key, entry) in acknowledged {
    let (status, _) = try await request(.GET, "\(balancer)/v1/jobs/\(entry.id)", token: admin)
    if status != 200 { lost += 1 }
    let (_, data) = try await request(.POST, "\(balancer)/v1/jobs", token: admin, key: key, body: entry.spec)
    if json(data)["id"] as? String != entry.id { mismatched += 1 }
}
let doubles = await holds.doubleHeld()
let launches = sageMaker.created
var launchesPerAttempt: [String: Int] = [:]
for name in launches {
    let attempt = name.replacingOccurrences(of: #"-l[0-9]+$"#, with: "", options: .regularExpression)
    launchesPerAttempt[attempt, default: 0] += 1
}
let doubleLaunches = launchesPerAttempt.filter { $0.value > 1 }

for process in replicas { process.terminate() }
for process in replicas { process.waitUntilExit() }
nginx.terminate()
nginx.waitUntilExit()
fakeTask.cancel()
try await http.shutdown().get()

let sorted = failovers.sorted()
let takeoversSorted = takeovers.sorted()
let goal = Double((arguments.leaderSeconds + arguments.heartbeatSeconds) * 1000)
print("replicas: 3 on PostgreSQL behind nginx; leader SIGKILLs: \(arguments.kills)")
print(
    "submissions sent: \(await ledger.sent), acknowledged: \(acknowledged.count), lost: \(lost), retried with a different id: \(mismatched)"
)
print(
    String(
        format:
            "failover (kill to the new leader's first scheduling pass): p50 %.0f ms, max %.0f ms (goal: max <= %.0f ms, the leadership time plus one scheduler period)",
        sorted[sorted.count / 2], sorted.last!, goal))
print(
    String(
        format: "takeover (kill to a replica answering /health as leader): p50 %.0f ms, max %.0f ms",
        takeoversSorted[takeoversSorted.count / 2], takeoversSorted.last!))
for line in doubles { print("two live leases: \(line)") }
print("worker heartbeats accepted: \(await holds.accepted), jobs with two live leases at once: \(doubles.count)")
for (attempt, count) in doubleLaunches { print("launched \(count) times: \(attempt)") }
print("SageMaker training jobs created: \(launches.count), attempts launched twice: \(doubleLaunches.count)")
print(
    "digits job \(digitsJob): \(digitsState) (\(killsWhileDigitsRan) leader kills while it ran), model registered: \(registered ? "yes" : "no")"
)
let passed =
    lost == 0 && mismatched == 0 && doubles.isEmpty && doubleLaunches.isEmpty && digitsState == "succeeded"
    && registered && !launches.isEmpty
if passed { try? FileManager.default.removeItem(at: home) } else { print("logs kept in \(home.path)") }
exit(passed ? 0 : 1)
