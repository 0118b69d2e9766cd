import Foundation
import Reports
import SpotwiseCore

/// The savings report as a page: totals, spend by market over time with cumulative savings, the
/// groups, a window picker, and the report to download as CSV, JSON or the self-contained HTML.
enum SavingsPage {
    /// `since`, `until` (RFC 3339 times or dates) and `by` (a grouping), checked.
    struct Query: Sendable {
        var since: Date?
        var until: Date?
        var by: SavingsReport.Grouping = .team
        var text: [String: String] = [:]

        init(_ parameters: [String: String]) throws {
            for name in ["since", "until"] {
                guard let value = parameters[name], !value.isEmpty else { continue }
                guard let time = SavingsReport.time(value) else {
                    throw APIError.badRequest(
                        "invalid_\(name)",
                        "\(name) must be an RFC 3339 time (2026-11-30T09:00:00Z) or a date (2026-11-30)")
                }
                if name == "since" { since = time } else { until = time }
                text[name] = value
            }
            if let value = parameters["by"], !value.isEmpty {
                guard let grouping = SavingsReport.Grouping(rawValue: value) else {
                    throw APIError.badRequest(
                        "invalid_by",
                        "by must be one of \(SavingsReport.Grouping.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                by = grouping
            }
            text["by"] = by.rawValue
        }

        var string: String {
            "?"
                + text.sorted { $0.key < $1.key }.map { "\($0.key)=\(FormBody.encode($0.value))" }.joined(
                    separator: "&")
        }
    }

    static func render(_ report: SavingsReport, query: Query, viewer: DashboardLayout.Viewer) -> HTML {
        let cardHTML = report.cards.map { "<div class=\"card\"><b>\($0.label)</b>\($0.value)</div>" as HTML }
        let groupings = SavingsReport.Grouping.allCases.map { grouping in
            let selected: HTML = grouping == query.by ? " selected" : ""
            return "<option value=\"\(grouping.rawValue)\"\(selected)>\(grouping.rawValue)</option>" as HTML
        }
        let groups = report.groups.map { group in
            let f = group.figures
            return """
                <tr class="group"><td>\(group.key)</td><td class="num">\(group.jobs)</td>\
                <td class="num">\(f.actual.description)</td><td class="num">\(f.onDemand.description)</td>\
                <td class="num">\(f.savings.description)</td><td class="num">\(SavingsReport.percent(f.savingsPercent))</td>\
                <td class="num">\(f.interruptions)</td><td class="num">\(f.lostPrefix)\(f.lostSteps)</td>\
                <td class="num">\(f.lostPrefix)\(f.lost.description)</td></tr>
                """ as HTML
        }
        let q = query.string
        return DashboardLayout.page(
            title: "Savings", active: "savings", viewer: viewer,
            content: """
                <h1>Savings</h1>
                <form id="window" method="get" action="/ui/savings">
                <label>Since <input name="since" value="\(query.text["since"] ?? "")" placeholder="2026-11-01"></label>
                <label>Until <input name="until" value="\(query.text["until"] ?? "")" placeholder="2026-12-01"></label>
                <label>Group by <select name="by">\(groupings)</select></label>
                <button type="submit">Show</button></form>
                <p class="muted">\(report.totals.segments) attempt segments. Download:
                <a id="download-csv" href="/ui/savings.csv\(q)">CSV</a>
                <a id="download-json" href="/ui/savings.json\(q)">JSON</a>
                <a id="download-html" href="/ui/savings.html\(q)">HTML report</a></p>
                <div id="savings-totals" class="cards">\(cardHTML)</div>
                <h2>Spend by market, savings over time</h2>
                \(HTML(trusted: report.chart(id: "savings-chart")))
                <h2>By \(query.by.rawValue)</h2>
                <table id="savings-groups"><thead><tr><th>\(query.by.rawValue)</th><th class="num">jobs</th>\
                <th class="num">actual</th><th class="num">on-demand equiv.</th><th class="num">saved</th>\
                <th class="num">saved %</th><th class="num">interruptions</th><th class="num">lost steps</th>\
                <th class="num">lost $</th></tr></thead><tbody>\(groups)</tbody></table>
                """)
    }
}
