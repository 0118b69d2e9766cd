// How a scheduling pass's cost grows: 10,000 live workers and 2,000 pending jobs against 100 and
// 20, in the same run, on the in-memory store and (with --db) on PostgreSQL. The first pass places
// every job (a lease, a ledger row and a history line each); the second finds nothing to place
// (every job running, the other workers idle), the steady state of a busy coordinator.
//
//   swift run -c release SchedulingPassBenchmark [--rounds 3] [--db postgres://USER@HOST:PORT/postgres]
//
// With --db, each size gets a database of its own, created next to the one named and dropped after.
import Coordinator
import Foundation
import Scheduler
import SpotwiseCore
import StateStore

func option(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

let rounds = Int(option("--rounds") ?? "") ?? 3
let postgres = option("--db")
let sizes = [(workers: 100, jobs: 20), (workers: 10_000, jobs: 2_000)]

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// A database of its own next to `base` (PostgreSQL), and how to drop it.
func freshPostgres(_ base: String) async throws -> (url: String, drop: @Sendable () async throws -> Void) {
    let name = "spotwise_pass_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
    let admin = try await SQLStateStore.connectPostgres(url: base)
    try await admin.execute("CREATE DATABASE \(name)")
    try await admin.close()
    guard var components = URLComponents(string: base) else { fatalError("not a URL: \(base)") }
    components.path = "/\(name)"
    return (
        components.string!,
        {
            let admin = try await SQLStateStore.connectPostgres(url: base)
            try await admin.execute("DROP DATABASE IF EXISTS \(name)")
            try await admin.close()
        }
    )
}

/// One setup and its passes: (placing pass ms, each on average; steady pass ms; placing passes).
func measure(store: any StateStore, workers: Int, jobs: Int) async throws -> (Double, Double, Int) {
    let clock = MonotonicLeaseClock()
    let board = LiveBoard()
    let pool = WorkerPool(
        region: "local-a", market: .spot, instanceType: "sim", pricePerHour: Money(micros: 300_000),
        onDemandPricePerHour: Money(micros: 1_000_000))
    let now = Date()
    for index in 0..<workers {
        let id = WorkerID("worker-\(index)")
        try await store.registerWorker(
            WorkerRecord(
                id: id, secretDigest: "x", name: "sim-\(index)", provider: "local", registeredAt: now, pool: pool))
        board.sawWorker(id, atMilliseconds: clock.nowMilliseconds())
    }
    for index in 0..<jobs {
        _ = try await store.submit(
            JobSubmission(
                id: JobID("job-\(index)"), spec: JobSpec(name: "job-\(index)", run: "python3 train.py"),
                idempotencyKey: nil, submittedAt: now.addingTimeInterval(Double(index) / 1000)))
    }
    let scheduler = JobScheduler(
        store: store, clock: SystemClock(lease: clock), leasePolicy: LeasePolicy(), board: board)
    // A pass looks at up to 1,000 queued jobs (`JobScheduler.batch`): 2,000 take two.
    var placed = 0
    var passes = 0
    let started = ContinuousClock.now
    while placed < jobs, passes < 10 {
        // Idle workers poll for work all along: every one was heard from within a lease.
        for index in 0..<workers {
            board.sawWorker(WorkerID("worker-\(index)"), atMilliseconds: clock.nowMilliseconds())
        }
        placed += try await scheduler.scheduleOnce().placements.count
        passes += 1
    }
    let placing = ContinuousClock.now - started
    for index in 0..<workers { board.sawWorker(WorkerID("worker-\(index)"), atMilliseconds: clock.nowMilliseconds()) }
    let steadyStart = ContinuousClock.now
    let again = try await scheduler.scheduleOnce().placements.count
    let steady = ContinuousClock.now - steadyStart
    guard placed == jobs, again == 0 else {
        fatalError("placed \(placed) in \(passes) passes, then \(again), of \(jobs)")
    }
    return (milliseconds(placing) / Double(passes), milliseconds(steady), passes)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// The planner alone, on the same sizes: what share of a placing pass is deciding (the rest is
/// reading and writing the store). One plan over up to 1,000 jobs, as a pass makes.
func planOnly(workers: Int, jobs: Int) -> Double {
    let pool = WorkerPool(
        region: "local-a", market: .spot, instanceType: "sim", pricePerHour: Money(micros: 300_000),
        onDemandPricePerHour: Money(micros: 1_000_000))
    let idle = (0..<workers).map { IdleWorker(id: WorkerID("worker-\($0)"), provider: .local, pool: pool) }
    let now = Date()
    let pending = (0..<min(jobs, 1_000)).map {
        PendingJob(id: JobID("job-\($0)"), spec: JobSpec(name: "job-\($0)", run: "true"), submittedAt: now)
    }
    let started = ContinuousClock.now
    let plan = PlacementPlanner().plan(jobs: pending, idle: idle, now: now, live: idle)
    let elapsed = ContinuousClock.now - started
    guard plan.placements.count == pending.count else { fatalError("planned \(plan.placements.count)") }
    return milliseconds(elapsed)
}

for size in sizes {
    let planning = median((0..<rounds).map { _ in planOnly(workers: size.workers, jobs: size.jobs) })
    print(String(format: "planner alone, %d workers / %d jobs: %.1f ms per plan", size.workers, size.jobs, planning))
}
var stores = ["memory"]
if postgres != nil { stores.append("postgres") }
print("| store | workers / pending | placing pass ms (passes) | steady pass ms | placing vs small | steady vs small |")
print("|---|---|---|---|---|---|")
for kind in stores {
    var small: (Double, Double)?
    for size in sizes {
        var firsts: [Double] = []
        var steadies: [Double] = []
        var passes = 0
        for _ in 0..<rounds {
            if kind == "memory" {
                let (first, steady, count) = try await measure(
                    store: InMemoryStateStore(), workers: size.workers, jobs: size.jobs)
                passes = count
                firsts.append(first)
                steadies.append(steady)
            } else {
                let (url, drop) = try await freshPostgres(postgres!)
                let store = try await SQLStateStore.connectPostgres(url: url)
                try await store.migrate()
                let (first, steady, count) = try await measure(store: store, workers: size.workers, jobs: size.jobs)
                passes = count
                try await store.close()
                try await drop()
                firsts.append(first)
                steadies.append(steady)
            }
        }
        let (first, steady) = (median(firsts), median(steadies))
        if small == nil { small = (first, steady) }
        print(
            String(
                format: "| %@ | %d / %d | %.1f (%d) | %.1f | %.1fx | %.1fx |", kind, size.workers, size.jobs, first,
                passes,
                steady,
                first / small!.0, steady / small!.1))
    }
}
