import ArgumentParser
import Foundation
import SpotwiseCore
import StateStore

/// `spotwise runs`: hyperparameters and metrics of jobs, side by side.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "Compare runs' hyperparameters and metrics; show a run's metric series.",
        subcommands: [Compare.self, Show.self])

    static func load(_ ids: [String], from source: SourceOptions) async throws -> [JobMetrics] {
        try await source.using { opened in
            var runs: [JobMetrics] = []
            for id in ids {
                switch opened {
                case .local(let store):
                    guard let job = try await store.job(JobID(id)) else { throw ValidationError("no job \(id)") }
                    runs.append(JobMetrics(job: job.identity, points: try await store.metrics(job: job.id)))
                case .remote(let client): runs.append(try await client.metrics(job: id))
                }
            }
            return runs
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A table of hyperparameters and final metrics, best first by a metric.")
        @Argument(help: "Job ids.") var jobs: [String]
        @Option(help: "Order by this final metric (default: the first metric name).") var by: String?
        @Flag(help: "Lower is better for --by (e.g. loss).") var lowerIsBetter = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var source: SourceOptions

        func validate() throws {
            guard !jobs.isEmpty else { throw ValidationError("give at least one job id") }
        }

        func run() async throws {
            try await reportingRegistryFailures {
                let runs = try await RunsCommand.load(jobs, from: source)
                let metricNames = Set(runs.flatMap { ($0.finalMetrics ?? [:]).keys }).sorted()
                let key = by ?? metricNames.first
                let ordered = runs.sorted { a, b in
                    let x = key.flatMap { a.finalMetrics?[$0] }
                    let y = key.flatMap { b.finalMetrics?[$0] }
                    switch (x, y) {
                    case (let x?, let y?): return lowerIsBetter ? x < y : x > y
                    case (.some, nil): return true
                    default: return false
                    }
                }
                if json { return try printJSON(ordered) }
                let hyperNames = Set(runs.flatMap { $0.hyperparameters.keys }).sorted()
                var rows = [["job", "name", "state"] + hyperNames + metricNames.map { $0 == key ? "\($0) *" : $0 }]
                for run in ordered {
                    rows.append(
                        [run.job, run.name, run.state]
                            + hyperNames.map { run.hyperparameters[$0].map(Self.text) ?? "-" }
                            + metricNames.map { name in
                                run.finalMetrics?[name].map { String(format: "%.4f", $0) } ?? "-"
                            })
                }
                print(TextTable.render(rows))
                if let key { print("\nordered by \(key), \(lowerIsBetter ? "lowest" : "highest") first") }
            }
        }

        static func text(_ value: JSONValue) -> String {
            switch value {
            case .null: "null"
            case .bool(let flag): String(flag)
            case .int(let number): String(number)
            case .double(let number): String(number)
            case .string(let text): text
            case .array, .object:
                (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? "?"
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run's metric series across its attempts.")
        @Argument(help: "Job id.") var job: String
        @Flag(help: "Print JSON (every point).") var json = false
        @OptionGroup var source: SourceOptions

        func run() async throws {
            try await reportingRegistryFailures {
                guard let run = try await RunsCommand.load([job], from: source).first else { return }
                if json { return try printJSON(run) }
                print("\(run.job) (\(run.name)): \(run.state)")
                var rows = [["metric", "points", "first step", "last step", "attempts", "last value"]]
                for series in run.series {
                    rows.append([
                        series.name, "\(series.steps.count)", series.steps.first.map(String.init) ?? "-",
                        series.steps.last.map(String.init) ?? "-",
                        Set(series.attempts).sorted().map(String.init).joined(separator: ","),
                        series.values.last.map { String(format: "%.4f", $0) } ?? "-",
                    ])
                }
                print(TextTable.render(rows))
            }
        }
    }
}
