import Foundation
import SpotwiseCore

extension SavingsReport {
    static let csvHeader = [
        "group", "jobs", "segments", "actual_usd", "on_demand_usd", "savings_usd", "savings_pct", "interruptions",
        "lost_steps", "lost_hours", "lost_usd", "overhead_usd", "sagemaker_savings_pct", "lost_is_lower_bound",
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
            f.sageMakerSavingsPercent.map { String(format: "%.2f", $0) } ?? "", String(f.lostIsLowerBound),
        ].joined(separator: ",")
    }

    /// A text cell (a group's name: a job, team tag, provider...), never a number. One that begins
    /// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet shows
    /// it as text instead of running it as a formula (tags are anyone's to write: `=HYPERLINK(...)`).
    /// Then RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
    public static func csvField(_ text: String) -> String {
        // By scalars: "\r\n" is one Character, equal to neither "\r" nor "\n".
        let cell = text.unicodeScalars.first.map { formulaStarts.contains($0) } == true ? "'" + text : text
        guard cell.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return cell
        }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]
}
