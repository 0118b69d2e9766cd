import CoordinatorClient
import Foundation
import Provisioners
import SpotwiseCore

/// Watches the demo job, prints its live line, and has the simulated market interrupt it: either
/// the node running it at seeded points of the run (the last `withoutNotice` of them without
/// notice), or, with a `schedule` from a trace or a rate, whole regions as the schedule says.
struct DemoRun {
    let client: CoordinatorClient
    let provisioner: LocalProvisioner
    let jobID: String
    let interruptions: Int
    let withoutNotice: Int
    let seed: UInt64
    /// Market events (reclaim / restore a region's spot capacity); nil: interrupt at points.
    var schedule: [MarketEvent]? = nil
    /// With a schedule: the share of reclaims that come without a notice.
    var noNoticeShare = 0.25

    /// Interruptions caused by the market's schedule, shared with the watcher.
    actor Log {
        var entries: [Interruption] = []
        /// Records an interruption once per attempt (a region can be reclaimed again before the
        /// coordinator has ended the attempt the first reclaim took down).
        func append(_ entry: Interruption) {
            if !entries.contains(where: { $0.attempt == entry.attempt }) { entries.append(entry) }
        }
    }

    struct Interruption {
        var at: Date
        var attempt: Int
        var node: String
        var withNotice: Bool
        var step: Int
    }

    struct Result {
        var job: JobSummary
        var interruptions: [Interruption]
        var elapsed: Double
    }

    /// Where in the run (fraction of the steps) each interruption lands.
    func plan() -> [Double] {
        var generator = SeededGenerator(seed: seed)
        let spacing = 0.85 / Double(interruptions + 1)
        return (0..<interruptions).map { index in
            (Double(index) + 1) * spacing + Double.random(in: -spacing / 3...spacing / 3, using: &generator)
        }
    }

    /// Walks the schedule in real time: a reclaim takes the region's spot nodes down (with a notice
    /// or without), a restore brings them back. The job's attempt, if it ran there, is logged.
    func runMarket(_ schedule: [MarketEvent], started: Date, log: Log) async throws {
        var coin = SeededGenerator(seed: seed &+ 2)
        for event in schedule {
            let wait = event.atSeconds - Date().timeIntervalSince(started)
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            switch event.kind {
            case .restore:
                try provisioner.restore(region: event.region)
            case .reclaim:
                let withNotice = Double.random(in: 0..<1, using: &coin) >= noNoticeShare
                let job = try? await client.job(jobID)
                if let job, !job.isTerminal, let live = job.segments?.last(where: { $0.endedAt == nil }),
                    let node = provisioner.node(runningWorker: live.worker), node.pool.region == event.region,
                    node.pool.market == .spot
                {
                    await log.append(
                        Interruption(
                            at: Date(), attempt: live.attempt, node: node.name, withNotice: withNotice,
                            step: job.progress?.step ?? 0))
                    say(
                        "  >> market: \(event.region) reclaimed \(withNotice ? "with a notice" : "without notice") while \(node.name) ran the job"
                    )
                }
                Task { try await provisioner.reclaim(region: event.region, withNotice: withNotice) }
            }
        }
    }

    func watch() async throws -> Result {
        let started = Date()
        let log = Log()
        let market = schedule.map { events in Task { try await runMarket(events, started: started, log: log) } }
        defer { market?.cancel() }
        let points = schedule == nil ? plan() : []
        // The trigger follows heartbeats, which tick in step with the trainer; a random delay of
        // up to one heartbeat period makes the kill land anywhere in the checkpoint interval
        // (without it the benchmark measured 32 lost steps where uniform kills lose about 25).
        var jitter = SeededGenerator(seed: seed &+ 1)
        var memberPick = SeededGenerator(seed: seed &+ 4)
        var done: [Interruption] = []
        var lastLine = ""
        var lastChange = Date()
        var interruptedAttempt: Int?
        while true {
            let job = try await client.job(jobID)
            let live = job.segments?.last { $0.endedAt == nil }
            let elapsed = Date().timeIntervalSince(started)
            let line = Self.liveLine(job, live: live, interruptions: done.count + (await log.entries.count))
            if line != lastLine {
                say(String(format: "[%5.1fs] ", elapsed) + line)
                lastLine = line
                lastChange = Date()
            }
            if Date().timeIntervalSince(lastChange) > Self.stallSeconds {
                throw DemoStalled(seconds: Self.stallSeconds, line: line, workerLogs: workerLogTails())
            }
            if job.isTerminal {
                return Result(job: job, interruptions: done + (await log.entries), elapsed: elapsed)
            }
            if done.count < points.count, job.state == "running", let live, let progress = job.progress,
                let step = progress.step, let total = progress.totalSteps, total > 0,
                Double(step) >= points[done.count] * Double(total), interruptedAttempt != live.attempt,
                let lead = provisioner.node(runningWorker: live.worker), lead.pool.market == .spot
            {
                // A gang loses one member: a seeded pick among them (rank 0 or another).
                let node =
                    job.gangMembers.flatMap { members in
                        provisioner.node(runningWorker: members[Int.random(in: 0..<members.count, using: &memberPick)])
                    } ?? lead
                let withNotice = done.count < points.count - withoutNotice
                interruptedAttempt = live.attempt
                let delay = Double.random(in: 0..<1, using: &jitter)
                done.append(
                    Interruption(
                        at: Date().addingTimeInterval(delay), attempt: live.attempt, node: node.name,
                        withNotice: withNotice, step: step))
                say(
                    "  >> market: \(withNotice ? "spot interruption notice to" : "killing without notice") \(node.name) near step \(step)"
                )
                Task {
                    try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                    try await provisioner.interrupt(node, withNotice: withNotice)
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Nothing about the job changed for this long: something is wrong, and the demo says what
    /// the nodes said rather than waiting forever.
    static let stallSeconds: Double = 180

    /// The last lines of each node's worker log.
    func workerLogTails() -> [String: [String]] {
        var tails: [String: [String]] = [:]
        for node in provisioner.configuration.nodes {
            let file = provisioner.nodeDirectory(node.name).appendingPathComponent("worker.log")
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            tails[node.name] = Array(text.split(separator: "\n").suffix(3).map(String.init))
        }
        return tails
    }

    static func liveLine(_ job: JobSummary, live: JobSummary.Segment?, interruptions: Int) -> String {
        var parts = [job.state.padding(toLength: 12, withPad: " ", startingAt: 0)]
        if let progress = job.progress, let step = progress.step {
            parts.append("step \(step)/\(progress.totalSteps.map(String.init) ?? "?")")
        }
        if let live { parts.append("attempt \(live.attempt) on \(live.placement)") }
        parts.append("interruptions \(interruptions)")
        if let cost = job.costUSD, let money = Money(decimalDollars: cost) {
            // Under a dollar (the demo's whole bill is), cents would read $0.00 for most of the run.
            parts.append(
                money.micros < Money.microsPerDollar
                    ? "cost $\(String(format: "%.4f", money.dollars))" : "cost \(money)")
        }
        if let waiting = job.waiting { parts.append("(\(waiting))") }
        return parts.joined(separator: "  ")
    }
}

/// What one interruption cost, measured: steps lost (from the trainer's own progress file, not
/// from heartbeats) and recovery split into detection, placement, restore and first step.
struct InterruptionReport: Encodable {
    var attempt: Int
    var node: String
    var withNotice: Bool
    /// The newest step the trainer reached, and the committed step the next attempt resumed from.
    var reachedStep: Int?
    var resumedFrom: Int?
    var stepsLost: Int?
    /// Interruption (notice posted or node killed) to the attempt's end recorded by the coordinator.
    var detectionSeconds: Double?
    /// Attempt ended to the next attempt placed.
    var placementSeconds: Double?
    /// The next worker's checkpoint restore (hash checks included).
    var restoreSeconds: Double?
    /// Assignment to the first trained step, minus the restore: assignment poll, trainer start.
    var startSeconds: Double?
    /// A gang's next attempt: members that held the interrupted attempt too (kept, their nodes
    /// not provisioned again) and members new to it (replacing the lost one).
    var membersKept: Int?
    var membersNew: Int?

    enum CodingKeys: String, CodingKey {
        case attempt, node
        case withNotice = "with_notice"
        case reachedStep = "reached_step"
        case resumedFrom = "resumed_from"
        case stepsLost = "steps_lost"
        case detectionSeconds = "detection_s"
        case placementSeconds = "placement_s"
        case restoreSeconds = "restore_s"
        case startSeconds = "start_s"
        case membersKept = "members_kept"
        case membersNew = "members_new"
    }

    static func measure(_ result: DemoRun.Result, logs: [LogLine], provisioner: LocalProvisioner) -> [Self] {
        let segments = result.job.segments ?? []
        return result.interruptions.map { interruption in
            var report = InterruptionReport(
                attempt: interruption.attempt, node: interruption.node, withNotice: interruption.withNotice)
            let progress = provisioner.nodeDirectory(interruption.node)
                .appendingPathComponent("\(result.job.id)-\(interruption.attempt)/progress.jsonl")
            report.reachedStep = Self.newestStep(in: progress)
            let ended = segments.first { $0.attempt == interruption.attempt }
            let next = segments.first { $0.attempt == interruption.attempt + 1 }
            report.resumedFrom = next?.resumedFromStep ?? ended?.committedStep
            if let reached = report.reachedStep, let resumed = report.resumedFrom {
                report.stepsLost = max(0, reached - resumed)
            }
            if let end = ended?.endedAt {
                report.detectionSeconds = end.timeIntervalSince(interruption.at)
                if let next { report.placementSeconds = next.startedAt.timeIntervalSince(end) }
            }
            // "[spotwise] timing: restore R ms, first step F ms after the assignment"
            if let line = logs.first(where: {
                $0.attempt == interruption.attempt + 1 && $0.text.hasPrefix("[spotwise] timing:")
            }) {
                let numbers = line.text.split(whereSeparator: { !$0.isNumber }).compactMap { Double($0) }
                if numbers.count >= 2 {
                    report.restoreSeconds = numbers[0] / 1000
                    report.startSeconds = (numbers[1] - numbers[0]) / 1000
                }
            }
            (report.membersKept, report.membersNew) = Self.gangReuse(
                history: result.job.history ?? [], attempt: interruption.attempt + 1)
            return report
        }
    }

    /// From the placement line of a gang's attempt: "...; K kept from the previous attempt, M new".
    static func gangReuse(history: [JobSummary.HistoryLine], attempt: Int) -> (Int?, Int?) {
        guard let placed = history.firstIndex(where: { $0.message.hasPrefix("attempt \(attempt) placed on") }),
            let note = history[placed...].first(where: { $0.message.hasPrefix("placed gang of") })?.message,
            let range = note.range(of: #"(\d+) kept from the previous attempt, (\d+) new"#, options: .regularExpression)
        else { return (nil, nil) }
        let numbers = note[range].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return numbers.count == 2 ? (numbers[0], numbers[1]) : (nil, nil)
    }

    static func newestStep(in file: URL) -> Int? {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").compactMap { line -> Int? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object["step"] as? Int
        }.max()
    }
}

enum DemoSummary {
    static func render(_ result: DemoRun.Result, reports: [InterruptionReport]) -> String {
        let job = result.job
        let withNotice = result.interruptions.filter(\.withNotice).count
        var lines = [
            "",
            "job \(job.id) \(job.state) in \(String(format: "%.1f", result.elapsed)) s: \(job.attempts) attempts, \(result.interruptions.count) interruptions (\(withNotice) with notice, \(result.interruptions.count - withNotice) without)",
        ]
        var rows = [["ATTEMPT", "PLACEMENT", "RESUMED FROM", "ENDED", "COMMITTED", "COST $"]]
        for segment in job.segments ?? [] {
            rows.append([
                String(segment.attempt), segment.placement + (segment.nodes.map { " x\($0)" } ?? ""),
                segment.resumedFromStep.map { "step \($0)" } ?? "scratch",
                segment.endReason ?? "running", segment.committedStep.map(String.init) ?? "-", segment.costUSD,
            ])
        }
        lines.append(TextTable.render(rows))
        if !reports.isEmpty {
            func seconds(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "-" }
            var table = [
                ["INTERRUPTED", "NOTICE", "REACHED", "RESUMED", "LOST", "DETECT s", "PLACE s", "RESTORE s", "START s"]
            ]
            for report in reports {
                table.append([
                    "attempt \(report.attempt) on \(report.node)", report.withNotice ? "yes" : "no",
                    report.reachedStep.map(String.init) ?? "-", report.resumedFrom.map(String.init) ?? "-",
                    report.stepsLost.map(String.init) ?? "-", seconds(report.detectionSeconds),
                    seconds(report.placementSeconds), seconds(report.restoreSeconds), seconds(report.startSeconds),
                ])
            }
            lines.append("")
            lines.append(TextTable.render(table))
        }
        if let actual = job.costUSD, let onDemand = job.onDemandCostUSD,
            let a = Money(decimalDollars: actual), let o = Money(decimalDollars: onDemand), o.micros > 0
        {
            let saved = Double(o.micros - a.micros) / Double(o.micros) * 100
            lines.append(
                "cost: $\(actual) as placed, against $\(onDemand) for the same useful compute on demand: \(String(format: "%.1f", saved))% saved"
            )
        }
        if let metrics = job.metrics {
            lines.append(
                "final metrics: "
                    + metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }
                    .joined(separator: ", "))
        }
        if let outcome = job.outcome { lines.append("outcome: \(outcome)") }
        return lines.joined(separator: "\n")
    }
}

extension DemoSummary {
    /// What a failed job's last log lines were (its trainer's output and the worker's notes), for
    /// the demo to show under its summary.
    static func trainerTail(_ lines: [LogLine]) -> String {
        guard !lines.isEmpty else { return "\nthe job wrote no log lines (see the nodes' worker.log files)" }
        return "\nthe job's last \(lines.count) log lines:\n"
            + lines.map { "  [attempt \($0.attempt)] \($0.text)" }.joined(separator: "\n")
    }
}

/// Prints a line of the demo's output and flushes it at once: stdout to a file or a pipe is
/// buffered, and a demo that fails must still have said what happened. (`fflush(nil)` flushes
/// every stream: Swift 6 refuses to touch the `stdout` global.)
func say(_ text: String) {
    print(text)
    fflush(nil)
}

struct DemoStalled: Error, CustomStringConvertible {
    var seconds: Double
    var line: String
    var workerLogs: [String: [String]]

    var description: String {
        let logs = workerLogs.sorted { $0.key < $1.key }.map { node, lines in
            "  \(node): " + (lines.isEmpty ? "(no output)" : lines.joined(separator: "\n    "))
        }
        return "the demo's job has not changed for \(Int(seconds)) s (\(line)); the nodes' worker logs end with:\n"
            + logs.joined(separator: "\n")
    }
}
