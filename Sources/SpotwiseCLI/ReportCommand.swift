import ArgumentParser
import Foundation
import Reports
import SpotwiseCore

/// `spotwise report savings`: what spot saved, for cost owners.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Reports for cost owners.", subcommands: [Savings.self])

    struct Savings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Actual cost, on-demand-equivalent cost, savings, interruptions, lost work and overhead.",
            discussion: """
                Built from the cost ledger: one row per attempt segment, priced exactly (micro-dollars). \
                The on-demand equivalent is the useful compute (overhead and lost work left out) at the \
                on-demand price of the same instance. Beside it, the figure SageMaker's formula \
                (1 - billable/training time) would give on the same rows. Segments are counted in the \
                window they started in.
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv, html }

        @Option(help: "Only segments that started at or after this time (2026-11-30 or 2026-11-30T09:00:00Z).")
        var since: String?
        @Option(help: "Only segments that started before this time.") var until: String?
        @Option(help: "Group by job, team, project, provider or model.") var by: SavingsReport.Grouping = .job
        @Option(help: "table, json, csv or html.") var format: Format = .table
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?
        @OptionGroup var source: SourceOptions

        func validate() throws {
            for (name, value) in [("--since", since), ("--until", until)] {
                if let value, SavingsReport.time(value) == nil {
                    throw ValidationError("\(name) '\(value)' is not a time: use 2026-11-30 or 2026-11-30T09:00:00Z")
                }
            }
        }

        func run() async throws {
            try await reportingRegistryFailures {
                let report = try await load()
                let text: String
                switch format {
                case .json:
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    encoder.dateEncodingStrategy = .iso8601
                    text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
                case .csv: text = report.csv()
                case .html: text = report.html()
                case .table: text = Self.table(report)
                }
                if let output {
                    try Data(text.utf8).write(to: URL(fileURLWithPath: output))
                    FileHandle.standardError.write(Data("wrote \(output)\n".utf8))
                } else {
                    print(text, terminator: "")
                }
            }
        }

        func load() async throws -> SavingsReport {
            try await source.using { opened in try await load(from: opened) }
        }

        func load(from opened: SourceOptions.Source) async throws -> SavingsReport {
            switch opened {
            case .local(let store):
                let now = Date()
                return SavingsReport(
                    rows: try await SavingsReport.ledger(from: store, now: now),
                    since: since.flatMap(SavingsReport.time), until: until.flatMap(SavingsReport.time), by: by,
                    generatedAt: now)
            case .remote(let client):
                var query = [("by", by.rawValue)]
                if let since { query.append(("since", since)) }
                if let until { query.append(("until", until)) }
                let data = try await client.savingsReport(query: query, format: "json")
                return try JobSummary.decoder.decode(SavingsReport.self, from: data)
            }
        }

        static func table(_ report: SavingsReport) -> String {
            let t = report.totals
            guard t.segments > 0 else { return "no attempt segments in this window\n" }
            // Cents, unless the whole bill is under a dollar (a demo): then every micro-dollar.
            let money: (Money) -> String =
                t.actual.micros < Money.microsPerDollar ? { "$\($0.exactDescription)" } : { $0.description }
            var rows = [
                [
                    report.groupedBy.rawValue, "jobs", "actual", "on-demand equiv.", "saved", "interruptions",
                    "lost steps", "lost $", "overhead $", "SageMaker formula",
                ]
            ]
            for group in report.groups {
                let f = group.figures
                rows.append([
                    group.key, "\(group.jobs)", money(f.actual), money(f.onDemand),
                    "\(money(f.savings)) (\(SavingsReport.percent(f.savingsPercent)))", "\(f.interruptions)",
                    f.lostPrefix + "\(f.lostSteps)",
                    f.lostPrefix + money(f.lost), money(f.overhead), SavingsReport.percent(f.sageMakerSavingsPercent),
                ])
            }
            rows.append([
                "total", "\(Set(report.segments.map(\.job)).count)", money(t.actual), money(t.onDemand),
                "\(money(t.savings)) (\(SavingsReport.percent(t.savingsPercent)))", "\(t.interruptions)",
                t.lostPrefix + "\(t.lostSteps)",
                t.lostPrefix + money(t.lost), money(t.overhead), SavingsReport.percent(t.sageMakerSavingsPercent),
            ])
            return TextTable.render(rows) + "\n\n"
                + "\(t.segments) attempt segments, \(SavingsReport.hoursText(t.billedMilliseconds)) billed; "
                + "lost work \(t.lostPrefix)\(SavingsReport.hoursText(t.lostMilliseconds)). Exact figures: --format json or csv.\n"
                + (t.lostIsLowerBound ? SavingsReport.lowerBoundNote + ".\n" : "")
        }
    }
}

extension SavingsReport.Grouping: ExpressibleByArgument {}
