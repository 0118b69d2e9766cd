import Foundation
import Reports
import SpotwiseCore
import StateStore

/// One job: state, progress, deadline and spend; the attempt timeline; the metric chart across
/// attempts; the history with the spot policy's reasons; committed checkpoints; the logs,
/// following live; and, for an admin while the job can still be stopped, the cancel button.
enum JobPage {
    /// The log lines the page shows: the newest this many.
    static let logTail = 300
    /// The history lines the page shows: the newest this many.
    static let historyShown = 200

    struct Data: Sendable {
        var job: StoredJob
        var summary: JobSummary
        var segments: [AttemptSegment]
        var ledger: [LedgerRow]
        var metrics: [MetricPoint]
        var logs: [LogLine]
        var now: Date
    }

    static func render(_ data: Data, viewer: DashboardLayout.Viewer) -> HTML {
        let id = data.job.id.rawValue
        let live = !data.job.state.isTerminal
        var cancel = HTML.empty
        if viewer.isAdmin, live {
            cancel = """
                <form id="cancel" class="inline" method="post" action="/ui/jobs/\(FormBody.encode(id))/cancel">\
                \(DashboardLayout.csrfField(viewer))<button id="cancel-button" type="submit">Cancel job</button></form>
                """
        }
        let summaryRefresh: HTML = live ? " data-refresh=\"/ui/jobs/\(FormBody.encode(id))?part=summary\"" : ""
        let logsRefresh: HTML = live ? " data-refresh=\"/ui/jobs/\(FormBody.encode(id))?part=logs\"" : ""
        return DashboardLayout.page(
            title: data.job.spec.name, active: "jobs", viewer: viewer,
            content: """
                <p><a href="/ui/jobs">Jobs</a> /</p>
                <h1 id="job-name">\(data.job.spec.name)</h1>
                <p><span id="job-id" class="muted">\(id)</span> \(DashboardLayout.tags(data.job.spec.tags)) \(cancel)</p>
                <div id="job-live"\(summaryRefresh)>\(summary(data))</div>
                <h2>Logs</h2>
                <div id="logs-live"\(logsRefresh)>\(logs(data.logs))</div>
                """)
    }

    /// State, progress, deadline, spend, timeline, chart, checkpoints and history: what the page
    /// refreshes every 2 s while the job lives.
    static func summary(_ data: Data) -> HTML {
        let job = data.job
        let summary = data.summary
        let total = summary.progress?.totalSteps ?? job.record.committedCheckpoint.map { _ in 0 }
        let step = summary.progress?.step ?? job.record.committedCheckpoint?.step ?? 0
        var progress: HTML = "<span class=\"muted\">no progress reported yet</span>"
        if let total, total > 0 {
            progress = """
                <progress id="job-progress" value="\(min(step, total))" max="\(total)"></progress> \
                step \(step) of \(total)\(summary.progress?.committedStep.map { ", committed \($0)" } ?? "")
                """
        } else if job.state == .succeeded {
            progress = "<progress id=\"job-progress\" value=\"1\" max=\"1\"></progress> done"
        }
        var deadline = "none"
        if let spec = job.spec.deadline {
            let instant = spec.instant(submittedAt: job.submittedAt)
            deadline = SavingsReport.timestamp(instant)
            if !job.state.isTerminal {
                deadline += " (\(DashboardLayout.duration(instant.timeIntervalSince(data.now))) left)"
            }
        }
        let cost = data.ledger.reduce(Money.zero) { $0 + $1.cost }
        let onDemand = data.ledger.reduce(Money.zero) { $0 + $1.onDemandEquivalent }
        var spend = DashboardLayout.money(cost)
        if let limit = job.spec.maxCost {
            spend += " of max_cost \(DashboardLayout.money(limit))"
            if limit.micros > 0 {
                spend += String(format: " (%.0f%%)", Double(cost.micros) * 100 / Double(limit.micros))
            }
        }
        if onDemand.micros > 0 {
            spend += String(
                format: "; on-demand would be %@, %.0f%% saved", DashboardLayout.money(onDemand),
                Double(onDemand.micros - cost.micros) * 100 / Double(onDemand.micros))
        }
        let waiting: HTML = summary.waiting.map { "<p id=\"waiting\" class=\"muted\">waiting: \($0)</p>" } ?? .empty
        let interruptions = data.ledger.filter(\.interrupted).count
        let lost = data.ledger.reduce(0) { $0 + $1.lostSteps }
        let chart = MetricChart.svg(data.metrics)
        let metricSection: HTML =
            chart.isEmpty
            ? "<p id=\"metric-chart-empty\" class=\"muted\">No metrics reported yet.</p>"
            : "<div id=\"metric-chart\" data-points=\"\(data.metrics.count)\">\(HTML(trusted: chart))</div>"
        let timeline = AttemptTimeline.svg(data.ledger, now: data.now)
        let lines = summary.history ?? []
        let history = lines.suffix(historyShown).map { line in
            "<li>\(DashboardLayout.time(line.at)) \(line.message)</li>" as HTML
        }
        return """
            <div class="cards">
            <div class="card"><b>state</b><span id="job-state">\(job.state.rawValue)</span></div>
            <div class="card"><b>progress</b>\(progress)</div>
            <div class="card"><b>deadline</b><span id="deadline">\(deadline)</span></div>
            <div class="card"><b>spend</b><span id="spend">\(spend)</span></div>
            <div class="card"><b>attempts</b>\(job.record.attemptCount), \(interruptions) interrupted, \(lost) steps lost</div>
            </div>\(waiting)
            <h2>Attempts</h2>
            \(timeline.isEmpty ? "<p class=\"muted\">No attempt has started yet.</p>" : HTML(trusted: timeline))
            <div class="legend"><span class="swatch-spot"></span>spot<span class="swatch-on-demand"></span>on-demand</div>
            \(attemptsTable(data.ledger))
            <h2>Metrics</h2>
            \(metricSection)
            <h2>Checkpoints</h2>
            \(checkpoints(data))
            <h2>History</h2>
            \(lines.count > historyShown ? "<p class=\"muted\">The newest \(historyShown) of \(lines.count) lines; `spotwise job ID` shows them all.</p>" as HTML : HTML.empty)
            <ol id="history">\(history)</ol>
            """
    }

    static func attemptsTable(_ ledger: [LedgerRow]) -> HTML {
        guard !ledger.isEmpty else { return .empty }
        let rows = ledger.map { row in
            """
            <tr class="attempt-row"><td>\(row.attempt)</td>\
            <td>\(row.provider)/\(row.region) \(row.instanceType)\(row.nodes > 1 ? " x\(row.nodes)" : "")</td>\
            <td>\(row.market.rawValue)</td><td>$\(row.pricePerHour.exactDescription)/h</td>\
            <td>\(DashboardLayout.time(row.startedAt))</td>\
            <td>\(SavingsReport.secondsText(row.billedMilliseconds))</td>\
            <td>\(row.endReason ?? "running")</td>\
            <td>\(row.lostIsLowerBound ? ">=" : "")\(row.lostSteps)</td>\
            <td>\(DashboardLayout.money(row.cost))</td></tr>
            """ as HTML
        }
        return """
            <table id="attempts"><thead><tr><th class="num">attempt</th><th>where</th><th>market</th>\
            <th class="num">price</th><th>started</th><th class="num">billed</th><th>ended</th>\
            <th class="num">steps lost</th><th class="num">cost</th></tr></thead><tbody>\(rows)</tbody></table>
            """
    }

    /// The newest committed checkpoint, and the step each attempt had committed when it ended.
    static func checkpoints(_ data: Data) -> HTML {
        var rows: [HTML] = []
        if let newest = data.job.record.committedCheckpoint {
            rows.append(
                """
                <tr class="checkpoint newest"><td>\(newest.step)</td><td>\(newest.attempt)</td>\
                <td>\(newest.location)</td><td><code>\(String(newest.manifestDigest.prefix(16)))</code></td></tr>
                """)
        }
        for segment in data.segments.reversed() {
            guard let step = segment.committedStep, step != data.job.record.committedCheckpoint?.step else { continue }
            rows.append(
                """
                <tr class="checkpoint"><td>\(step)</td><td>\(segment.attempt)</td><td colspan="2"></td></tr>
                """)
        }
        guard !rows.isEmpty else { return "<p class=\"muted\">No checkpoint committed yet.</p>" }
        return """
            <table id="checkpoints"><thead><tr><th class="num">step</th><th class="num">attempt</th>\
            <th>location</th><th>manifest</th></tr></thead><tbody>\(rows)</tbody></table>
            <p class="muted">The first row is the newest committed checkpoint; the others, the newest step each \
            attempt had committed when it ended.</p>
            """
    }

    static func logs(_ lines: [LogLine]) -> HTML {
        let spans = lines.map { line in
            "<span class=\"log-line\">\(line.text)</span>" as HTML
        }
        return "<pre id=\"logs\" data-follow>\(spans)</pre>"
    }
}
