import Foundation
import Reports
import SpotwiseCore
import StateStore

/// The jobs list: a chip per state with its count, filters by state and tag, 50 jobs a page,
/// newest first; each row says where the job runs, what it cost, what spot saved and its slack.
enum JobsPage {
    static let pageSize = 50

    /// The list's query: `state`, `tag=KEY=VALUE`, `page` (from 0), all checked.
    struct Query: Sendable {
        var state: JobState?
        var tag: (key: String, value: String)?
        var page = 0

        init(_ parameters: [String: String]) throws {
            if let text = parameters["state"], !text.isEmpty, text != "all" {
                guard let parsed = JobState(rawValue: text) else {
                    throw APIError.badRequest(
                        "invalid_state",
                        "unknown state '\(text)'; allowed: all, \(JobState.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                state = parsed
            }
            if let text = parameters["tag"], !text.isEmpty {
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw APIError.badRequest("invalid_tag", "tag must be KEY=VALUE, e.g. team=vision")
                }
                tag = (parts[0], parts[1])
            }
            if let text = parameters["page"] {
                guard let parsed = Int(text), (0...10_000).contains(parsed) else {
                    throw APIError.badRequest("invalid_page", "page must be a whole number from 0 to 10000")
                }
                page = parsed
            }
        }

        /// The query string of this filter at `page`.
        func string(page: Int? = nil, part: String? = nil) -> String {
            var items: [String] = []
            if let state { items.append("state=\(state.rawValue)") }
            if let tag { items.append("tag=" + FormBody.encode("\(tag.key)=\(tag.value)")) }
            let page = page ?? self.page
            if page > 0 { items.append("page=\(page)") }
            if let part { items.append("part=\(part)") }
            return items.isEmpty ? "" : "?" + items.joined(separator: "&")
        }
    }

    /// One job as its row shows it.
    struct Row: Sendable {
        var id: String
        var name: String
        var tags: [String: String]
        var state: String
        var progress: String
        var attempts: Int
        var recoveries: Int
        var whereNow: String
        var cost: Money
        var savedPercent: Double?
        var slack: String
        var ageSeconds: Double

        init(_ job: StoredJob, segments: [AttemptSegment], board: LiveBoard, now: Date) {
            id = job.id.rawValue
            name = job.spec.name
            tags = job.spec.tags
            state = job.state.rawValue
            attempts = job.record.attemptCount
            recoveries = job.record.preemptions
            let reported = job.record.liveAttempt.flatMap { live in
                board.progress(job.id).flatMap { $0.epoch == live.epoch ? $0 : nil }
            }
            let committed = job.record.committedCheckpoint?.step
            if let reported, let step = reported.step {
                progress = reported.totalSteps.map { "step \(step) / \($0)" } ?? "step \(step)"
            } else if job.state == .succeeded {
                progress = "done"
            } else {
                progress = committed.map { "committed step \($0)" } ?? "-"
            }
            let open = segments.last { $0.endedAt == nil }
            whereNow = open.map { "\($0.provider)/\($0.pool.region)/\($0.pool.market.rawValue)" } ?? "-"
            var cost = Money.zero
            var onDemand = Money.zero
            for segment in segments {
                let row = LedgerRow(segment: segment, job: job, now: now)
                cost = cost + row.cost
                onDemand = onDemand + row.onDemandEquivalent
            }
            self.cost = cost
            savedPercent =
                onDemand.micros > 0 ? Double(onDemand.micros - cost.micros) * 100 / Double(onDemand.micros) : nil
            slack = Self.slack(job, reported: reported, board: board, now: now)
            ageSeconds = now.timeIntervalSince(job.submittedAt)
        }

        /// Time to the deadline less the time the rest of the run needs at its measured pace
        /// (without a pace yet: the time to the deadline).
        static func slack(_ job: StoredJob, reported: LiveBoard.Progress?, board: LiveBoard, now: Date) -> String {
            guard let deadline = job.spec.deadline, !job.state.isTerminal else { return "-" }
            var left = deadline.instant(submittedAt: job.submittedAt).timeIntervalSince(now)
            if let pace = board.pace(job.id), let step = reported?.step {
                left -= pace.secondsPerStep * Double(max(0, pace.totalSteps - step))
            }
            return DashboardLayout.duration(left)
        }
    }

    static func render(
        rows: [Row], counts: [JobState: Int], query: Query, hasNext: Bool, viewer: DashboardLayout.Viewer
    ) -> HTML {
        let total = counts.values.reduce(0, +)
        var chips: [HTML] = [chip("all", total, active: query.state == nil)]
        for state in JobState.allCases where (counts[state] ?? 0) > 0 {
            chips.append(chip(state.rawValue, counts[state] ?? 0, active: query.state == state))
        }
        let options = (["all"] + JobState.allCases.map(\.rawValue)).map { name in
            let selected: HTML = (query.state?.rawValue ?? "all") == name ? " selected" : ""
            return "<option value=\"\(name)\"\(selected)>\(name)</option>" as HTML
        }
        let tagValue = query.tag.map { "\($0.key)=\($0.value)" } ?? ""
        return DashboardLayout.page(
            title: "Jobs", active: "jobs", viewer: viewer,
            content: """
                <h1>Jobs</h1>
                <div id="chips">\(chips)</div>
                <form id="filters" method="get" action="/ui/jobs">
                <label>State <select name="state">\(options)</select></label>
                <label>Tag <input name="tag" value="\(tagValue)" placeholder="team=vision"></label>
                <button type="submit">Filter</button></form>
                <div id="jobs-live" data-refresh="/ui/jobs\(query.string(part: "live"))">
                \(table(rows: rows, query: query, hasNext: hasNext))
                </div>
                """)
    }

    static func chip(_ state: String, _ count: Int, active: Bool) -> HTML {
        let href = state == "all" ? "/ui/jobs" : "/ui/jobs?state=\(state)"
        let current: HTML = active ? " active" : ""
        return
            "<a class=\"chip state-\(state)\(current)\" data-state=\"\(state)\" href=\"\(href)\">\(state) <b>\(count)</b></a>"
    }

    /// The table and the pager: what the page refreshes every 2 s.
    static func table(rows: [Row], query: Query, hasNext: Bool) -> HTML {
        guard !rows.isEmpty else {
            return
                "<p id=\"no-jobs\" class=\"muted\">No jobs\(query.state == nil && query.tag == nil ? "" : " match this filter").</p>"
        }
        var body = HTML.empty
        for row in rows {
            body += """
                <tr class="job" data-job-id="\(row.id)" data-state="\(row.state)">\
                <td class="name"><a class="job-link" href="/ui/jobs/\(FormBody.encode(row.id))">\(row.name)</a></td>\
                <td class="id">\(row.id)</td><td class="tags">\(DashboardLayout.tags(row.tags))</td>\
                <td class="state">\(DashboardLayout.stateChip(row.state))</td><td class="progress">\(row.progress)</td>\
                <td class="attempts num">\(row.attempts) / \(row.recoveries) recoveries</td>\
                <td class="where">\(row.whereNow)</td><td class="cost num">\(DashboardLayout.money(row.cost))</td>\
                <td class="saved num">\(row.savedPercent.map { String(format: "%.0f%%", $0) } ?? "-")</td>\
                <td class="slack num">\(row.slack)</td><td class="age num">\(DashboardLayout.duration(row.ageSeconds))</td></tr>

                """
        }
        var pager = HTML.empty
        if query.page > 0 {
            pager += "<a id=\"prev-page\" href=\"/ui/jobs\(query.string(page: query.page - 1))\">Newer</a>"
        }
        if hasNext { pager += "<a id=\"next-page\" href=\"/ui/jobs\(query.string(page: query.page + 1))\">Older</a>" }
        return """
            <table id="jobs"><thead><tr><th>name</th><th>id</th><th>team / tags</th><th>state</th><th>progress</th>\
            <th class="num">attempts</th><th>runs on</th><th class="num">cost so far</th><th class="num">saved</th>\
            <th class="num">deadline slack</th><th class="num">age</th></tr></thead>
            <tbody>\(body)</tbody></table>
            <div class="pager">\(pager)</div>
            """
    }
}
