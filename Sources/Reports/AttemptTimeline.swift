import Foundation
import SpotwiseCore

/// A job's attempts on a time axis, as SVG drawn on the server: one bar per attempt (one per node
/// for a gang), coloured by market through its class (`market-spot`, `market-on-demand`), and at
/// each interruption a mark that says whether a notice came and how many steps were lost.
public enum AttemptTimeline {
    public static let width = 900.0
    static let left = 90.0
    /// Room for the last interruption's label.
    static let right = 170.0
    static let rowHeight = 18.0
    static let rowGap = 6.0

    /// `rows` are the job's ledger rows, one per attempt; open ones run to `now`.
    public static func svg(_ rows: [LedgerRow], now: Date) -> String {
        guard let start = rows.map(\.startedAt).min() else { return "" }
        let end = max(rows.map { $0.endedAt ?? now }.max() ?? now, start.addingTimeInterval(1))
        let span = end.timeIntervalSince(start)
        let plot = width - left - right
        func x(_ date: Date) -> Double { left + plot * date.timeIntervalSince(start) / span }
        let lanes = rows.reduce(0) { $0 + max(1, $1.nodes) }
        let height = Double(lanes) * (rowHeight + rowGap) + 40
        var svg = """
            <svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="attempts over time">

            """
        // A tooltip per bar while there are few; a hundred attempts' page stays light without them.
        let tooltips = rows.count <= 20
        var lane = 0
        for row in rows.sorted(by: { $0.attempt < $1.attempt }) {
            let kind = SegmentEndKind(row.endKind)
            let from = x(row.startedAt)
            let to = max(from + 2, x(row.endedAt ?? now))
            let top = 10 + Double(lane) * (rowHeight + rowGap)
            svg += "<text x=\"4\" y=\"\(n(top + 13))\" class=\"lane\">attempt \(row.attempt)</text>\n"
            for node in 0..<max(1, row.nodes) {
                let y = top + Double(node) * (rowHeight + rowGap)
                let title =
                    "attempt \(row.attempt)\(row.nodes > 1 ? " rank \(node)" : ""): \(row.endReason ?? "running")"
                svg += "<rect class=\"attempt market-\(row.market.rawValue)\" data-attempt=\"\(row.attempt)\" "
                svg += "x=\"\(n(from))\" y=\"\(n(y))\" width=\"\(n(to - from))\" height=\"\(n(rowHeight))\">"
                svg += (tooltips ? "<title>\(SavingsReport.escape(title))</title>" : "") + "</rect>\n"
            }
            if kind.isInterruption {
                let y = top - 2
                let lost = "\(row.lostIsLowerBound ? ">=" : "")\(row.lostSteps)"
                svg += "<g class=\"interruption \(kind.rawValue)\" data-steps-lost=\"\(row.lostSteps)\">"
                svg += "<path d=\"M\(n(to - 5)) \(n(y)) L\(n(to + 5)) \(n(y)) L\(n(to)) \(n(y + 8)) Z\"/>"
                svg += "<text x=\"\(n(to + 7))\" y=\"\(n(top + 13))\">"
                svg += "\(kind == .interruptedWithNotice ? "notice" : "no notice"), lost \(lost) steps</text></g>\n"
            }
            lane += max(1, row.nodes)
        }
        let axis = height - 18
        svg += "<line class=\"axis\" x1=\"\(n(left))\" y1=\"\(n(axis))\" x2=\"\(n(width - right))\" y2=\"\(n(axis))\"/>"
        svg += "<text x=\"\(n(left))\" y=\"\(n(height - 4))\">\(SavingsReport.timestamp(start))</text>"
        svg += "<text x=\"\(n(width - right))\" y=\"\(n(height - 4))\" text-anchor=\"end\">"
        svg += "\(SavingsReport.secondsText(Int64(span * 1000))) later</text>\n</svg>\n"
        return svg
    }

    /// Whole pixels: a page with a hundred attempts stays small.
    static func n(_ value: Double) -> String { MetricChart.pixels(value) }
}
