import Foundation
import SpotwiseCore

/// A job's metrics over steps across its attempts, as SVG drawn on the server: one small chart per
/// metric, one line per attempt (class `series`, `attempt-N`), and a ring where a resumed attempt's
/// line begins, so the step it went back to shows. Long series are thinned to at most
/// `maxPointsPerSeries` points, and a chart's lines together to about `maxPointsPerChart` (first
/// and last of each kept); `data-points` says how many were stored.
public enum MetricChart {
    public static let maxPointsPerSeries = 400
    public static let maxPointsPerChart = 600
    /// Charts for at most this many metric names (the rest are listed, not drawn).
    public static let maxCharts = 4
    static let width = 440.0
    static let height = 200.0
    static let left = 56.0
    static let bottom = 24.0

    public static func svg(_ points: [MetricPoint]) -> String {
        let byName = Dictionary(grouping: points.filter { $0.value.isFinite }, by: \.name)
        // The longest series first; a metric reported once (a final score) is a number, not a chart.
        let names = byName.keys.sorted { (byName[$0]!.count, $1) > (byName[$1]!.count, $0) }
        let series = names.filter { byName[$0]!.count > 1 }
        var html = ""
        for name in series.prefix(maxCharts) { html += chart(name: name, points: byName[name]!) }
        let single = names.filter { byName[$0]!.count == 1 }.map { name in
            let point = byName[name]![0]
            return "\(name) \(label(point.value)) at step \(point.step)"
        }
        if !single.isEmpty {
            html += "<p class=\"muted\">\(SavingsReport.escape(single.joined(separator: ", ")))</p>\n"
        }
        if series.count > maxCharts {
            html += "<p>Not drawn: \(SavingsReport.escape(series.dropFirst(maxCharts).joined(separator: ", ")))</p>\n"
        }
        return html
    }

    static func chart(name: String, points: [MetricPoint]) -> String {
        guard let minStep = points.map(\.step).min(), let maxStep = points.map(\.step).max(),
            let low = points.map(\.value).min(), let high = points.map(\.value).max()
        else { return "" }
        let stepSpan = Double(max(1, maxStep - minStep))
        // Halves: high - low of two finite values can overflow to infinity (1e308 and -1e308).
        let halfSpan = high > low ? high / 2 - low / 2 : 1
        let plotWidth = width - left - 10
        let plotHeight = height - bottom - 10
        func x(_ step: Int) -> Double { left + plotWidth * Double(step - minStep) / stepSpan }
        func y(_ value: Double) -> Double { 10 + plotHeight * (1 - (value / 2 - low / 2) / halfSpan) }
        var svg = """
            <svg class="metric-chart" data-metric="\(SavingsReport.escape(name))" data-points="\(points.count)" \
            xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(SavingsReport.escape(name)) over steps">
            <text x="\(n(left))" y="9" class="title">\(SavingsReport.escape(name))</text>
            <text x="2" y="\(n(y(high) + 4))">\(label(high))</text><text x="2" y="\(n(y(low)))">\(label(low))</text>
            <line class="axis" x1="\(n(left))" y1="\(n(10 + plotHeight))" x2="\(n(width - 10))" y2="\(n(10 + plotHeight))"/>
            <text x="\(n(left))" y="\(n(height - 6))">step \(minStep)</text>
            <text x="\(n(width - 10))" y="\(n(height - 6))" text-anchor="end">step \(maxStep)</text>

            """
        let byAttempt = Dictionary(grouping: points, by: \.attempt)
        let attempts = byAttempt.keys.sorted()
        let perSeries = max(2, min(maxPointsPerSeries, maxPointsPerChart / max(1, attempts.count)))
        for attempt in attempts {
            let series = (byAttempt[attempt] ?? []).sorted { $0.step < $1.step }
            let shown = thinned(series, to: perSeries)
            let coordinates = shown.map { "\(n(x($0.step))),\(n(y($0.value)))" }.joined(separator: " ")
            svg +=
                "<polyline class=\"series attempt-\(attempt % 6)\" data-attempt=\"\(attempt)\" points=\"\(coordinates)\"/>\n"
            if attempt != attempts.first, let first = series.first {
                svg += "<circle class=\"resume\" cx=\"\(n(x(first.step)))\" cy=\"\(n(y(first.value)))\" r=\"4\">"
                svg += (attempts.count <= 20 ? "<title>resumed at step \(first.step)</title>" : "") + "</circle>\n"
            }
        }
        return svg + "</svg>\n"
    }

    /// At most `limit` (2 or more) points, evenly spaced, the first and last always kept.
    static func thinned(_ series: [MetricPoint], to limit: Int) -> [MetricPoint] {
        guard series.count > limit else { return series }
        let stride = Double(series.count - 1) / Double(limit - 1)
        return (0..<limit).map { series[Int((Double($0) * stride).rounded())] }
    }

    static func label(_ value: Double) -> String {
        String(format: abs(value) >= 100 && abs(value) < 1e6 ? "%.0f" : "%.3g", value)
    }
    /// Whole pixels: 600 points a chart stay small.
    static func n(_ value: Double) -> String { pixels(value) }

    /// A coordinate in whole pixels; anything not finite or off any page is 0, never a trap.
    public static func pixels(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e9 else { return "0" }
        return String(Int(value.rounded()))
    }
}
