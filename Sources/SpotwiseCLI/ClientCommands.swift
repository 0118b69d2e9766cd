import ArgumentParser
import CoordinatorClient
import Foundation
import SpotwiseCore

/// Where the coordinator is and which token to use: flags, then SPOTWISE_URL / SPOTWISE_TOKEN,
/// then the state directory's admin.token.
struct ConnectionOptions: ParsableArguments {
    @Option(
        help:
            "Coordinator URL, or several replicas' as URL,URL,... tried in turn (default: $SPOTWISE_URL or http://127.0.0.1:7070)."
    )
    var url: String?
    @Option(help: "API token (default: $SPOTWISE_TOKEN or the state directory's admin.token).") var token: String?
    @Option(help: "State directory holding admin.token (default: $SPOTWISE_HOME or .spotwise).") var stateDir: String?

    func client() throws -> CoordinatorClient {
        let environment = ProcessInfo.processInfo.environment
        let base = url ?? environment["SPOTWISE_URL"] ?? "http://127.0.0.1:7070"
        if let token = token ?? environment["SPOTWISE_TOKEN"] {
            return CoordinatorClient(baseURL: base, token: token, timeout: .seconds(10))
        }
        let directory = stateDir ?? environment["SPOTWISE_HOME"] ?? ".spotwise"
        let file = URL(fileURLWithPath: directory).appendingPathComponent("admin.token")
        guard let saved = try? String(contentsOf: file, encoding: .utf8) else {
            throw ValidationError("no token: pass --token, set SPOTWISE_TOKEN, or run where \(file.path) exists")
        }
        return CoordinatorClient(
            baseURL: base, token: saved.trimmingCharacters(in: .whitespacesAndNewlines), timeout: .seconds(10))
    }
}

/// Prints a client failure as one line and exits 1, instead of a stack dump.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as CoordinatorClient.Failure {
        FileHandle.standardError.write(Data("error: \(failure)\n".utf8))
        throw ExitCode(1)
    }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a job spec and submit it to the coordinator.")

    @Argument(help: "The job spec file.") var file: String
    @Flag(help: "Wait until the job ends, printing its state changes.") var wait = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        // The same checks as `spotwise validate`, before anything is sent.
        let report = Validate.report(for: [file], parser: JobSpecParser())
        guard !report.failed else {
            FileHandle.standardError.write(Data(report.text.utf8))
            throw ExitCode(1)
        }
        let spec = try Data(contentsOf: URL(fileURLWithPath: file))
        let client = try connection.client()
        try await reportingFailures {
            let job = try await client.submit(spec: spec, idempotencyKey: UUID().uuidString)
            print("submitted \(job.id) (\(job.name)): \(job.state)")
            guard wait else { return }
            var last = job.state
            while true {
                try await Task.sleep(for: .seconds(2))
                let current = try await client.job(job.id)
                if current.state != last {
                    print("\(job.id): \(current.state)")
                    last = current.state
                }
                if current.isTerminal {
                    if current.state != "succeeded" { throw ExitCode(1) }
                    return
                }
            }
        }
    }
}

struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")

    @Option(help: "Only jobs in this state.") var state: String?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let client = try connection.client()
        try await reportingFailures {
            let jobs = try await client.jobs(state: state)
            if json { return try printJSON(jobs) }
            print(Self.table(jobs))
        }
    }

    static func table(_ jobs: [CoordinatorClient.Job]) -> String {
        let formatter = ISO8601DateFormatter()
        var rows = [["ID", "NAME", "STATE", "ATTEMPTS", "PREEMPTIONS", "SUBMITTED"]]
        rows += jobs.map {
            [
                $0.id, $0.name, $0.state, String($0.attempts), String($0.preemptions),
                formatter.string(from: $0.submittedAt),
            ]
        }
        return TextTable.render(rows)
    }
}

struct Job: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one job and its history.")

    @Argument(help: "Job id.") var id: String
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let client = try connection.client()
        try await reportingFailures {
            let job = try await client.job(id)
            if json { return try printJSON(job) }
            print(Self.render(job))
        }
    }

    static func render(_ job: JobSummary) -> String {
        var lines = ["\(job.id)  \(job.name)  \(job.state)"]
        lines.append("attempts \(job.attempts), preemptions \(job.preemptions), failures \(job.failures)")
        if let progress = job.progress {
            let total = progress.totalSteps.map { "/\($0)" } ?? ""
            lines.append(
                "progress: attempt \(progress.attempt), step \(progress.step.map(String.init) ?? "-")\(total), committed \(progress.committedStep.map(String.init) ?? "none")"
            )
        }
        if let waiting = job.waiting { lines.append("waiting: \(waiting)") }
        if let checkpoint = job.checkpoint {
            lines.append(
                "newest checkpoint: step \(checkpoint.step) (attempt \(checkpoint.attempt)) at \(checkpoint.location)")
        }
        if let cost = job.costUSD, let onDemand = job.onDemandCostUSD {
            lines.append("cost so far: $\(cost) (the same useful compute on demand: $\(onDemand))")
        }
        if let metrics = job.metrics, !metrics.isEmpty {
            lines.append(
                "metrics: " + metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        if let outcome = job.outcome { lines.append("outcome: \(outcome)") }
        let formatter = ISO8601DateFormatter()
        if let segments = job.segments, !segments.isEmpty {
            lines.append("attempts:")
            for segment in segments {
                let resumed = segment.resumedFromStep.map { "from step \($0)" } ?? "from scratch"
                let end = segment.endReason ?? "running"
                lines.append(
                    "  #\(segment.attempt) \(segment.placement) \(segment.instanceType)\(segment.nodes.map { " x\($0)" } ?? "") $\(segment.pricePerHour)/h on \(segment.worker)\(segment.nodes == nil ? "" : " (rank 0)"), \(resumed): \(end), $\(segment.costUSD)"
                )
            }
        }
        if let history = job.history {
            lines.append("history:")
            for line in history { lines.append("  \(formatter.string(from: line.at))  \(line.message)") }
        }
        return lines.joined(separator: "\n")
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a job's trainer output; --follow keeps printing until the job ends.")

    @Argument(help: "Job id.") var id: String
    @Flag(name: .shortAndLong, help: "Keep printing new lines until the job ends.") var follow = false
    @Option(help: "Seconds between polls with --follow.") var pollSeconds: Double = 1
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let client = try connection.client()
        try await reportingFailures {
            var after: Int64 = 0
            var attempt: Int?
            while true {
                let page = try await client.logs(job: id, after: after)
                for line in page.lines {
                    if line.attempt != attempt {
                        attempt = line.attempt
                        print("--- attempt \(line.attempt) ---")
                    }
                    print(line.text)
                }
                after = page.lastSequence
                let terminal = JobState(rawValue: page.jobState)?.isTerminal ?? true
                if !follow || (terminal && page.lines.isEmpty) { break }
                if page.lines.isEmpty { try await Task.sleep(for: .milliseconds(Int(pollSeconds * 1000))) }
            }
        }
    }
}

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a job.")

    @Argument(help: "Job id.") var id: String
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let client = try connection.client()
        try await reportingFailures {
            let job = try await client.cancel(id)
            print("\(job.id): \(job.state)")
        }
    }
}
