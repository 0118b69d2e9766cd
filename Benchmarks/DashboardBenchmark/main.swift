// The dashboard's pages against the JSON API over the same store, in one process (Hummingbird's
// router test client: the request and response cross no socket, so the figures are server time).
//
//   swift run -c release DashboardBenchmark [--jobs 10000] [--attempts 10] [--points 50000] [--rounds 20]
//
// Fills a SQLite store with JOBS jobs of ATTEMPTS attempt segments each, and one job with 100
// attempts and POINTS metric points; then, in alternating order per round, times
// - the jobs page (`/ui/jobs`, 50 rows, with cost, savings and slack per row) against
//   `GET /v1/jobs?limit=50`;
// - the big job's page (`/ui/jobs/ID`: timeline, chart, checkpoints, history, logs) against its
//   JSON views (`GET /v1/jobs/ID` plus `GET /v1/jobs/ID/metrics`);
// and reports each page's weight and whether it refers to anything but the coordinator.
import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import StateStore

func option(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1])
    else { return fallback }
    return value
}

let jobCount = option("--jobs", 10_000)
let attemptsPerJob = option("--attempts", 10)
let pointCount = option("--points", 50_000)
let rounds = option("--rounds", 20)
let path = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-bench-\(UUID().uuidString).db")
    .path
defer { try? FileManager.default.removeItem(atPath: path) }

let store = try await SQLStateStore.openSQLite(path: path)
try await store.migrate()
let start = Date(timeIntervalSince1970: 1_790_000_000)
func addJob(_ index: Int, attempts: Int) async throws -> JobID {
    var random = SeededGenerator(seed: UInt64(index + 1))
    var spec = JobSpec(name: "job-\(index)", run: "python3 train.py")
    spec.tags = ["team": ["vision", "speech", "ranking"][index % 3]]
    spec.deadline = .afterSubmission(seconds: 86_400)
    let id = JobID("job-\(String(format: "%06d", index))")
    _ = try await store.submit(
        JobSubmission(
            id: id, spec: spec, idempotencyKey: nil, submittedAt: start.addingTimeInterval(Double(index))))
    var step = 0
    for attempt in 1...attempts {
        let spot = attempt % 4 != 0
        let pool = WorkerPool(
            region: ["us-east-1", "us-west-2"][attempt % 2], market: spot ? .spot : .onDemand,
            instanceType: "g5.xlarge", pricePerHour: Money(micros: spot ? 400_000 : 1_200_000),
            onDemandPricePerHour: Money(micros: 1_200_000))
        let began = start.addingTimeInterval(Double(index + attempt * 600))
        try await store.openSegment(
            AttemptSegment(
                job: id, attempt: attempt, epoch: LeaseEpoch(UInt64(attempt)), workerID: "worker-\(attempt % 50)",
                provider: "sagemaker", pool: pool, startedAt: began, resumedFromStep: step == 0 ? nil : step))
        let reached = step + Int.random(in: 50...500, using: &random)
        let committed = Int.random(in: step...reached, using: &random)
        try await store.closeSegment(
            job: id, attempt: attempt,
            end: SegmentEnd(
                at: began.addingTimeInterval(500),
                reason: attempt == attempts
                    ? .completed : attempt % 2 == 0 ? .preempted(withNotice: true) : .lost,
                lastStep: reached, committedStep: committed))
        step = committed
    }
    return id
}

let loadStarted = ContinuousClock.now
for index in 0..<jobCount { _ = try await addJob(index, attempts: attemptsPerJob) }
let big = try await addJob(jobCount, attempts: 100)
var points: [MetricPoint] = []
for index in 0..<pointCount {
    points.append(
        MetricPoint(
            name: index % 2 == 0 ? "loss" : "accuracy", step: index / 2, value: 1 / Double(index + 1),
            attempt: 1 + index * 100 / pointCount))
}
for attempt in 1...100 {
    let own = points.filter { $0.attempt == attempt }
    try await store.recordMetrics(job: big, attempt: attempt, resumedFromStep: own.first?.step ?? 0, points: own)
}
// A thousand lines of history (the page shows the newest 200), as placements and commits write them.
if let stored = try await store.job(big) {
    var version = stored.version
    for line in 0..<1_000 {
        let updated = try await store.update(
            big, expectedVersion: version, record: stored.record,
            events: [
                "attempt \(line / 10 + 1) committed checkpoint at step \(line * 50) (policy spotwise: spot in us-east-1)"
            ],
            at: start.addingTimeInterval(Double(line)))
        version = updated.version
    }
}
_ = try await store.appendLogs(
    job: big, attempt: 100, lines: (0..<1_000).map { "step \($0): loss <b>\($0)</b>" }, at: start)
print(
    "store: \(jobCount + 1) jobs, \(jobCount * attemptsPerJob + 100) segments, \(pointCount) metric points on one job "
        + "(loaded in \(ContinuousClock.now - loadStarted))")

let admin = "bench-admin"
let app = Application(
    router: CoordinatorApplication.router(store: store, tokens: AccessTokens(admin: admin), settings: .init()))

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// Every `src` and `href` of a page must be the coordinator's own (a path, a fragment or data:).
func foreignReferences(_ page: String) -> [String] {
    var found: [String] = []
    for attribute in ["src=\"", "href=\""] {
        var rest = page[...]
        while let range = rest.range(of: attribute) {
            let value = rest[range.upperBound...].prefix { $0 != "\"" }
            if !(value.hasPrefix("/") && !value.hasPrefix("//")) && !value.hasPrefix("#") && !value.hasPrefix("data:") {
                found.append(String(value))
            }
            rest = rest[range.upperBound...]
        }
    }
    return found
}

try await app.test(.router) { client in
    let signIn = try await client.execute(
        uri: "/ui/signin", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
        body: ByteBuffer(string: "token=\(admin)"))
    let cookie = String((signIn.headers[.setCookie] ?? "").split(separator: ";")[0])
    let bearer: HTTPFields = [.authorization: "Bearer \(admin)"]

    func timed(_ uri: String, _ headers: HTTPFields) async throws -> (seconds: Double, bytes: Int, body: String) {
        let began = ContinuousClock.now
        let response = try await client.execute(uri: uri, method: .get, headers: headers)
        let elapsed = seconds(ContinuousClock.now - began)
        precondition(response.status == .ok, "\(uri): \(response.status)")
        return (elapsed, response.body.readableBytes, String(buffer: response.body))
    }

    var jobsPage: [Double] = []
    var jobsJSON: [Double] = []
    var jobPage: [Double] = []
    var jobJSON: [Double] = []
    var weights: [String: Int] = [:]
    var foreign: [String] = []
    for round in 0..<rounds {
        let pageFirst = round % 2 == 0
        for turn in 0..<2 {
            if (turn == 0) == pageFirst {
                let list = try await timed("/ui/jobs", [.cookie: cookie])
                let job = try await timed("/ui/jobs/\(big.rawValue)", [.cookie: cookie])
                jobsPage.append(list.seconds)
                jobPage.append(job.seconds)
                weights["jobs page"] = list.bytes
                weights["job page"] = job.bytes
                if let dump = ProcessInfo.processInfo.environment["DASHBOARD_BENCHMARK_DUMP"] {
                    try job.body.write(toFile: dump, atomically: true, encoding: .utf8)
                }
                foreign += foreignReferences(list.body) + foreignReferences(job.body)
            } else {
                let list = try await timed("/v1/jobs?limit=50", bearer)
                let job = try await timed("/v1/jobs/\(big.rawValue)", bearer)
                let metrics = try await timed("/v1/jobs/\(big.rawValue)/metrics", bearer)
                jobsJSON.append(list.seconds)
                jobJSON.append(job.seconds + metrics.seconds)
                weights["GET /v1/jobs?limit=50"] = list.bytes
                weights["GET /v1/jobs/ID + /metrics"] = job.bytes + metrics.bytes
            }
        }
    }
    for name in ["/ui/app.css", "/ui/app.js"] { weights[name] = try await timed(name, [:]).bytes }
    print("median of \(rounds) rounds, milliseconds (ratio: page / JSON of the same data)")
    print(
        String(
            format: "jobs list, 50 rows:  page %.2f  JSON %.2f  ratio %.2f", median(jobsPage) * 1000,
            median(jobsJSON) * 1000, median(jobsPage) / median(jobsJSON)))
    print(
        String(
            format: "job, 100 attempts, %d points:  page %.2f  JSON %.2f  ratio %.2f", pointCount,
            median(jobPage) * 1000, median(jobJSON) * 1000, median(jobPage) / median(jobJSON)))
    for (name, bytes) in weights.sorted(by: { $0.key < $1.key }) {
        print(String(format: "weight %@: %.1f KB", name, Double(bytes) / 1000))
    }
    print("references to anything but the coordinator: \(Set(foreign).sorted())")
}
