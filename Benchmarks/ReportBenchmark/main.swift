import Foundation
import Reports
import SpotwiseCore
import StateStore

// The savings report over a large ledger, against reading that ledger from SQLite in the same run.
// Reading the rows is work any report must do; the ratios say what pricing, grouping and rendering
// add on top. Usage: swift run -c release ReportBenchmark [--jobs 2000] [--attempts 10] [--rounds 3]

func option(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1])
    else { return fallback }
    return value
}

let jobCount = option("--jobs", 2_000)
let attemptsPerJob = option("--attempts", 10)
let rounds = option("--rounds", 3)
let path = FileManager.default.temporaryDirectory.appendingPathComponent("report-bench-\(UUID().uuidString).db").path
defer { try? FileManager.default.removeItem(atPath: path) }

let store = try await SQLStateStore.openSQLite(path: path)
try await store.migrate()
var random = SeededGenerator(seed: 1)
let teams = ["vision", "speech", "ranking", "ads"]
let start = Date(timeIntervalSince1970: 1_790_000_000)
let loadStarted = ContinuousClock.now
for index in 0..<jobCount {
    var spec = JobSpec(name: "job-\(index)", run: "python3 train.py")
    spec.tags = ["team": teams[index % teams.count], "project": "p\(index % 17)"]
    spec.register = Registration(model: "model-\(index % 23)")
    let id = JobID("job-\(index)")
    _ = try await store.submit(JobSubmission(id: id, spec: spec, idempotencyKey: nil, submittedAt: start))
    var step = 0
    for attempt in 1...attemptsPerJob {
        let onDemand = Int64.random(in: 1_000_000...32_000_000, using: &random)
        let spot = Bool.random(using: &random)
        let pool = WorkerPool(
            region: ["us-east-1", "us-west-2", "europe-west4"][attempt % 3], market: spot ? .spot : .onDemand,
            instanceType: "p4d.24xlarge", pricePerHour: Money(micros: spot ? onDemand / 3 : onDemand),
            onDemandPricePerHour: Money(micros: onDemand))
        let began = start.addingTimeInterval(Double(index * 600 + attempt * 3_600))
        try await store.openSegment(
            AttemptSegment(
                job: id, attempt: attempt, epoch: LeaseEpoch(UInt64(attempt)), workerID: "w",
                provider: ["sagemaker", "vertex", "modal"][attempt % 3], pool: pool, startedAt: began,
                resumedFromStep: step == 0 ? nil : step))
        try await store.markFirstStep(job: id, attempt: attempt, at: began.addingTimeInterval(90))
        let reached = step + Int.random(in: 50...500, using: &random)
        let committed = Int.random(in: step...reached, using: &random)
        try await store.closeSegment(
            job: id, attempt: attempt,
            end: SegmentEnd(
                at: began.addingTimeInterval(Double.random(in: 600...3_500, using: &random)),
                reason: attempt == attemptsPerJob ? .completed : .preempted(withNotice: true), lastStep: reached,
                committedStep: committed))
        step = committed
    }
}
let rows = jobCount * attemptsPerJob
print("ledger: \(rows) segments of \(jobCount) jobs (loaded in \(ContinuousClock.now - loadStarted))")

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

var read: [Double] = []
var build: [Double] = []
var json: [Double] = []
var csv: [Double] = []
var html: [Double] = []
var checksum = Money.zero
for _ in 0..<rounds {
    var began = ContinuousClock.now
    let segments = try await store.segments(job: nil)
    read.append(seconds(ContinuousClock.now - began))
    precondition(segments.count == rows)

    began = ContinuousClock.now
    let ledger = try await SavingsReport.ledger(from: store, now: Date())
    let report = SavingsReport(rows: ledger, since: nil, until: nil, by: .team, generatedAt: Date())
    build.append(seconds(ContinuousClock.now - began))
    checksum = report.totals.actual

    began = ContinuousClock.now
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    _ = try encoder.encode(report)
    json.append(seconds(ContinuousClock.now - began))

    began = ContinuousClock.now
    _ = report.csv()
    csv.append(seconds(ContinuousClock.now - began))

    began = ContinuousClock.now
    _ = report.html()
    html.append(seconds(ContinuousClock.now - began))
}
try await store.close()

let baseline = read.min() ?? 1
@MainActor func line(_ name: String, _ values: [Double]) {
    let best = values.min() ?? 0
    print(
        "\(name.padding(toLength: 34, withPad: " ", startingAt: 0)) best \(String(format: "%8.3f", best)) s  \(String(format: "%7.2f", best / baseline))x of reading the segments"
    )
}
line("read segments (SQLite, baseline)", read)
line("ledger rows + report (incl. read)", build)
line("JSON (rows included)", json)
line("CSV (groups)", csv)
line("HTML (rows included)", html)
print("total actual cost \(checksum.exactDescription) USD over \(rows) segments")
