import CoordinatorClient
import Foundation
import Provisioners
import SpotwiseCore

/// Watches the demo job, prints its live line, and has the simulated market interrupt the node
/// running it at seeded points of the run (the last interruption without notice).
struct DemoRun {
    let client: CoordinatorClient
    let provisioner: LocalProvisioner
    let jobID: String
    let interruptions: Int
    let seed: UInt64

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
        return (0..<interruptions).map { index in
            let base = (Double(index) + 1) / Double(interruptions + 1) * 0.85
            return base + Double.random(in: -0.04...0.04, using: &generator)
        }
    }

    func watch() async throws -> Result {
        let started = Date()
        let points = plan()
        var done: [Interruption] = []
        var lastLine = ""
        var interruptedAttempt: Int?
        while true {
            let job = try await client.job(jobID)
            let live = job.segments?.last { $0.endedAt == nil }
            let elapsed = Date().timeIntervalSince(started)
            let line = Self.liveLine(job, live: live, interruptions: done.count)
            if line != lastLine {
                print(String(format: "[%5.1fs] ", elapsed) + line)
                lastLine = line
            }
            if job.isTerminal {
                return Result(job: job, interruptions: done, elapsed: elapsed)
            }
            if done.count < points.count, job.state == "running", let live, let progress = job.progress,
                let step = progress.step, let total = progress.totalSteps, total > 0,
                Double(step) >= points[done.count] * Double(total), interruptedAttempt != live.attempt,
                let node = provisioner.node(runningWorker: live.worker), node.pool.market == .spot
            {
                let withNotice = done.count < points.count - 1
                interruptedAttempt = live.attempt
                done.append(
                    Interruption(at: Date(), attempt: live.attempt, node: node.name, withNotice: withNotice, step: step)
                )
                print(
                    "  >> market: \(withNotice ? "spot interruption notice to" : "killing without notice") \(node.name) at step \(step)"
                )
                Task { try await provisioner.interrupt(node, withNotice: withNotice) }
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    static func liveLine(_ job: JobSummary, live: JobSummary.Segment?, interruptions: Int) -> String {
        var parts = [job.state.padding(toLength: 12, withPad: " ", startingAt: 0)]
        if let progress = job.progress, let step = progress.step {
            parts.append("step \(step)/\(progress.totalSteps.map(String.init) ?? "?")")
        }
        if let live { parts.append("attempt \(live.attempt) on \(live.placement)") }
        parts.append("interruptions \(interruptions)")
        if let cost = job.costUSD, let money = Money(decimalDollars: cost) { parts.append("cost \(money)") }
        if let waiting = job.waiting { parts.append("(\(waiting))") }
        return parts.joined(separator: "  ")
    }
}

enum DemoSummary {
    static func render(_ result: DemoRun.Result) -> String {
        let job = result.job
        let segments = job.segments ?? []
        let withNotice = result.interruptions.filter(\.withNotice).count
        var lines = [
            "",
            "job \(job.id) \(job.state) in \(String(format: "%.1f", result.elapsed)) s: \(job.attempts) attempts, \(result.interruptions.count) interruptions (\(withNotice) with notice, \(result.interruptions.count - withNotice) without)",
        ]
        var rows = [
            ["ATTEMPT", "PLACEMENT", "RESUMED FROM", "ENDED", "LAST STEP", "COMMITTED", "STEPS LOST", "COST $"]
        ]
        for segment in segments {
            let lost: String
            if let last = segment.lastStep,
                segment.endReason?.hasPrefix("preempted") == true
                    || segment.endReason?.hasPrefix("lost") == true
            {
                lost = String(max(0, last - (segment.committedStep ?? segment.resumedFromStep ?? 0)))
            } else {
                lost = "-"
            }
            rows.append([
                String(segment.attempt), segment.placement, segment.resumedFromStep.map { "step \($0)" } ?? "scratch",
                segment.endReason ?? "running", segment.lastStep.map(String.init) ?? "-",
                segment.committedStep.map(String.init) ?? "-", lost, segment.costUSD,
            ])
        }
        lines.append(TextTable.render(rows))
        var recoveries: [String] = []
        for interruption in result.interruptions {
            guard let next = segments.first(where: { $0.attempt > interruption.attempt }) else { continue }
            let seconds = next.startedAt.timeIntervalSince(interruption.at)
            recoveries.append(
                String(format: "%.1f s", seconds)
                    + (interruption.withNotice ? " (notice)" : " (no notice: lease expiry)"))
        }
        if !recoveries.isEmpty {
            lines.append("recovery, interruption to the next attempt placed: " + recoveries.joined(separator: ", "))
        }
        if let actual = job.costUSD, let onDemand = job.onDemandCostUSD,
            let a = Money(decimalDollars: actual), let o = Money(decimalDollars: onDemand), o.micros > 0
        {
            let saved = Double(o.micros - a.micros) / Double(o.micros) * 100
            lines.append(
                "cost: $\(actual) on spot and on-demand as placed, against $\(onDemand) all on-demand: \(String(format: "%.1f", saved))% saved"
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
