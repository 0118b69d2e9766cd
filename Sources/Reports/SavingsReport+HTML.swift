import Foundation
import SpotwiseCore

extension SavingsReport {
    /// One self-contained page (inline CSS and SVG, no script, nothing fetched) that a cost owner
    /// can mail around: the totals, a chart of spend by market with savings over time, the groups
    /// and the ledger rows.
    public func html() -> String {
        let t = totals
        let window = [since.map { "from \(Self.timestamp($0))" }, until.map { "until \(Self.timestamp($0))" }]
            .compactMap { $0 }.joined(separator: " ")
        var page = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Spotwise savings report</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330}
            h1{font-size:20px;margin:0 0 4px} .sub{color:#5b6475;margin-bottom:16px}
            .cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:18px}
            .card{border:1px solid #d8dce4;border-radius:6px;padding:8px 12px;min-width:150px}
            .card b{display:block;font-size:12px;color:#5b6475;font-weight:normal}
            table{border-collapse:collapse;margin:8px 0 20px} th,td{padding:3px 8px;border-bottom:1px solid #e6e8ee;text-align:right}
            th:first-child,td:first-child{text-align:left} th{background:#f3f5f8}
            .legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
            .swatch-spot{background:#3b82c4} .swatch-on-demand{background:#e0923a} .swatch-savings{background:#2e9d57}
            </style></head><body>
            <h1>Spotwise savings report</h1>
            <div class="sub">generated \(Self.timestamp(generatedAt))\(window.isEmpty ? "" : ", segments started \(window)"); \
            \(t.segments) attempt segments</div>
            <div class="cards">
            """
        for (label, value) in cards {
            page += "<div class=\"card\"><b>\(Self.escape(label))</b>\(Self.escape(value))</div>\n"
        }
        page += "</div>\n<h2>Spend by market, savings over time</h2>\n" + chart()
        page += "<h2>By \(groupedBy.rawValue)</h2>\n<table><tr>"
        for title in [
            groupedBy.rawValue, "jobs", "actual", "on-demand equiv.", "saved", "saved %", "interruptions",
            "lost steps", "lost $", "overhead $", "SageMaker %",
        ] { page += "<th>\(Self.escape(title))</th>" }
        page += "</tr>\n"
        for group in groups {
            let f = group.figures
            page += Self.row([
                group.key, "\(group.jobs)", f.actual.description, f.onDemand.description, f.savings.description,
                Self.percent(f.savingsPercent), "\(f.interruptions)", f.lostPrefix + "\(f.lostSteps)",
                f.lostPrefix + f.lost.description,
                f.overhead.description, Self.percent(f.sageMakerSavingsPercent),
            ])
        }
        page += "</table>\n<h2>Ledger</h2>\n<table><tr>"
        for title in [
            "job", "attempt", "where", "market", "price/h", "started", "billed", "overhead", "useful steps",
            "lost steps", "ended", "actual", "on-demand equiv.",
        ] { page += "<th>\(Self.escape(title))</th>" }
        page += "</tr>\n"
        // A page to mail around: the newest rows only; the JSON and CSV forms hold them all.
        let shown = segments.suffix(Self.maxLedgerRowsInPage)
        for row in shown {
            page += Self.row([
                row.jobName.isEmpty ? row.job : "\(row.jobName) \(row.job)", "\(row.attempt)",
                "\(row.provider)/\(row.region) \(row.instanceType)", row.market.rawValue,
                "$\(row.pricePerHour.exactDescription)", Self.timestamp(row.startedAt),
                Self.secondsText(row.billedMilliseconds), Self.secondsText(row.overheadMilliseconds),
                "\(row.usefulSteps)", (row.lostIsLowerBound ? ">=" : "") + "\(row.lostSteps)",
                row.endReason ?? "running", row.cost.exactDescription,
                row.onDemandEquivalent.exactDescription,
            ])
        }
        page += "</table>\n"
        if t.lostIsLowerBound { page += "<p>\(Self.escape(Self.lowerBoundNote)).</p>\n" }
        if shown.count < segments.count {
            page += "<p>The newest \(shown.count) of \(segments.count) segments; every row is in the JSON form.</p>\n"
        }
        page += "</body></html>\n"
        return page
    }

    /// The totals as (label, value) cards: the report's page and the dashboard's show the same.
    public var cards: [(label: String, value: String)] {
        let t = totals
        return [
            ("Actual cost", t.actual.description),
            ("On-demand equivalent", t.onDemand.description),
            ("Saved", "\(t.savings.description) (\(Self.percent(t.savingsPercent)))"),
            ("Interruptions", "\(t.interruptions)"),
            (
                "Lost work",
                "\(t.lostIsLowerBound ? "at least " : "")\(t.lostSteps) steps, \(Self.hoursText(t.lostMilliseconds)), \(t.lost.description)"
            ),
            ("Overhead", t.overhead.description),
            ("SageMaker's formula would say", Self.percent(t.sageMakerSavingsPercent)),
        ]
    }

    /// Stacked bars of spend per time bucket (spot, on-demand) and a line of cumulative savings.
    /// `id` names the chart's `svg` element (the dashboard's page finds it by that).
    public func chart(id: String? = nil) -> String {
        guard let first = segments.first?.startedAt, let last = segments.map(\.startedAt).max() else {
            return "<p>No attempt segments in this window.</p>\n"
        }
        let span = max(1, last.timeIntervalSince(first))
        let bucket = [5.0, 15, 60, 300, 900, 3600, 21_600, 86_400, 604_800].first { span / $0 <= 40 } ?? 2_592_000
        let count = Int(span / bucket) + 1
        var spot = [Int64](repeating: 0, count: count)
        var onDemand = [Int64](repeating: 0, count: count)
        var saved = [Int64](repeating: 0, count: count)
        for row in segments {
            let index = min(count - 1, Int(row.startedAt.timeIntervalSince(first) / bucket))
            if row.market == .spot { spot[index] += row.cost.micros } else { onDemand[index] += row.cost.micros }
            saved[index] += row.onDemandEquivalent.micros - row.cost.micros
        }
        var cumulative: [Int64] = []
        var running: Int64 = 0
        for value in saved {
            running += value
            cumulative.append(running)
        }
        let width = 720.0
        let height = 220.0
        let left = 60.0
        let plotWidth = width - left - 20
        let plotHeight = height - 40
        let top = max(1, zip(spot, onDemand).map { $0 + $1 }.max() ?? 1, cumulative.map { abs($0) }.max() ?? 1)
        let scale = plotHeight / Double(top)
        let barWidth = plotWidth / Double(count)
        var svg = """
            <svg \(id.map { "id=\"\(Self.escape($0))\" " } ?? "")xmlns="http://www.w3.org/2000/svg" \
            width="\(Int(width))" height="\(Int(height))" role="img" \
            aria-label="spend by market and cumulative savings">
            <line x1="\(left)" y1="\(plotHeight + 10)" x2="\(width - 20)" y2="\(plotHeight + 10)" stroke="#999"/>
            <text x="4" y="16" font-size="11">\(Money(micros: top).description)</text>
            <text x="4" y="\(plotHeight + 10)" font-size="11">$0</text>

            """
        for index in 0..<count {
            let x = left + Double(index) * barWidth + 1
            let spotHeight = Double(spot[index]) * scale
            let onDemandHeight = Double(onDemand[index]) * scale
            let base = plotHeight + 10
            svg += "<rect x=\(Self.f(x)) y=\(Self.f(base - spotHeight)) width=\(Self.f(max(1, barWidth - 2))) "
            svg += "height=\(Self.f(spotHeight)) fill=\"#3b82c4\"/>"
            svg += "<rect x=\(Self.f(x)) y=\(Self.f(base - spotHeight - onDemandHeight)) "
            svg += "width=\(Self.f(max(1, barWidth - 2))) height=\(Self.f(onDemandHeight)) fill=\"#e0923a\"/>\n"
        }
        let points = cumulative.enumerated().map { index, value in
            "\(Self.number(left + (Double(index) + 0.5) * barWidth)),\(Self.number(plotHeight + 10 - Double(value) * scale))"
        }.joined(separator: " ")
        svg += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"#2e9d57\" stroke-width=\"2\"/>\n"
        svg += "<text x=\"\(left)\" y=\"\(height - 6)\" font-size=\"11\">\(Self.timestamp(first))</text>"
        svg += "<text x=\"\(width - 20)\" y=\"\(height - 6)\" font-size=\"11\" text-anchor=\"end\">"
        svg += "buckets of \(Self.secondsText(Int64(bucket * 1000)))</text>\n</svg>\n"
        svg += "<div class=\"legend\"><span class=\"swatch-spot\"></span>spot spend"
        svg += "<span class=\"swatch-on-demand\"></span>on-demand spend"
        svg += "<span class=\"swatch-savings\"></span>cumulative savings</div>\n"
        return svg
    }

    /// An SVG attribute value, quoted.
    static func f(_ value: Double) -> String { "\"\(number(value))\"" }
    public static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    static func row(_ cells: [String]) -> String {
        "<tr>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
    }

    public static let maxLedgerRowsInPage = 1_000

    /// Text for HTML or SVG, in element content or a quoted attribute value: `& < > " '` escaped.
    /// By Unicode scalar, not Character: `"` followed by a combining mark is one Character that is
    /// not `"`, yet its first scalar is the quote that would end an attribute value.
    public static func escape(_ text: String) -> String {
        // Most text has nothing to escape: one pass over the bytes says so.
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else {
            return text
        }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped.append(contentsOf: "&amp;".unicodeScalars)
            case "<": escaped.append(contentsOf: "&lt;".unicodeScalars)
            case ">": escaped.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": escaped.append(contentsOf: "&quot;".unicodeScalars)
            case "'": escaped.append(contentsOf: "&#39;".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    public static func percent(_ value: Double?) -> String {
        value.map { String(format: "%.1f%%", $0) } ?? "n/a"
    }

    public static func secondsText(_ milliseconds: Int64) -> String {
        let seconds = Double(milliseconds) / 1000
        if seconds < 120 { return String(format: "%.1f s", seconds) }
        if seconds < 7200 { return String(format: "%.1f min", seconds / 60) }
        return String(format: "%.2f h", seconds / 3600)
    }

    public static func hoursText(_ milliseconds: Int64) -> String {
        String(format: "%.3f h", Double(milliseconds) / 3_600_000)
    }

    public static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
