import Foundation
import SpotwiseCore

extension SavingsReport {
    static let csvHeader = [
        "group", "jobs", "segments", "actual_usd", "on_demand_usd", "savings_usd", "savings_pct", "interruptions",
        "lost_steps", "lost_hours", "lost_usd", "overhead_usd", "sagemaker_savings_pct",
    ]

    /// One line per group and a last `TOTAL` line; money with six decimals, exact.
    public func csv() -> String {
        var lines = [Self.csvHeader.joined(separator: ",")]
        for group in groups { lines.append(Self.csvLine(group.key, jobs: group.jobs, group.figures)) }
        lines.append(Self.csvLine("TOTAL", jobs: Set(segments.map(\.job)).count, totals))
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvLine(_ key: String, jobs: Int, _ f: Figures) -> String {
        [
            csvField(key), String(jobs), String(f.segments), f.actual.exactDescription, f.onDemand.exactDescription,
            f.savings.exactDescription, f.savingsPercent.map { String(format: "%.2f", $0) } ?? "",
            String(f.interruptions), String(f.lostSteps), String(format: "%.6f", Double(f.lostMilliseconds) / 3.6e6),
            f.lost.exactDescription, f.overhead.exactDescription,
            f.sageMakerSavingsPercent.map { String(format: "%.2f", $0) } ?? "",
        ].joined(separator: ",")
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
    public static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
