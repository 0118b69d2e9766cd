import ArgumentParser
import Foundation
import Logging
import SpotwiseCore
import WorkerAgent

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker agent: register, take attempts, run trainers, watch for interruption notices.")

    @Option(help: "Coordinator URL.") var coordinator: String = "http://127.0.0.1:7070"
    @Option(help: "Bootstrap token (default: $SPOTWISE_BOOTSTRAP_TOKEN or the state directory's bootstrap.token).")
    var bootstrapToken: String?
    @Option(help: "State directory holding bootstrap.token (default: $SPOTWISE_HOME or .spotwise).") var stateDir:
        String?
    @Option(help: "Worker name.") var name: String = ProcessInfo.processInfo.hostName
    @Option(help: "Provider: local, sagemaker, vertex or modal.") var provider: String = "local"
    @Option(help: "Region (or zone) of the node.") var region: String = "local"
    @Option(help: "Market of the node: spot or on-demand.") var market: String = "on-demand"
    @Option(help: "Instance type of the node.") var instanceType: String = "local"
    @Option(help: "Price per hour in dollars, e.g. 0.36.") var price: String = "0"
    @Option(help: "On-demand price per hour of the same instance, in dollars.") var onDemandPrice: String?
    @Option(help: "EC2 instance metadata base URL to watch for spot notices (the local market serves one).")
    var imdsURL: String?
    @Option(help: "GCE metadata base URL to watch for preemption.") var gceMetadataURL: String?
    @Option(help: "Seconds a notice gives when its source names no time.") var noticeSeconds: Double = 120
    @Option(help: "Scratch directory for attempts.") var workDir: String = ".spotwise-worker"
    @Option(help: "Directory that job workdirs and file:// checkpoint storage are relative to.") var jobRoot: String =
        "."
    @Flag(help: "Leave after one attempt (launched cloud capacity: a training job should end, not idle and bill).")
    var exitAfterAttempt = false
    @Option(help: "Leave after this many seconds without an assignment (launched cloud capacity).")
    var idleExitSeconds: Double?
    @Option(help: "Address the node's gang peers reach it at when it holds rank 0 (default: 127.0.0.1).")
    var address: String?

    func run() async throws {
        guard let providerName = ProviderName(rawValue: provider) else {
            throw ValidationError(
                "--provider must be one of \(ProviderName.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let marketValue = Market(rawValue: market) else {
            throw ValidationError("--market must be spot or on-demand, not '\(market)'")
        }
        guard let pricePerHour = Money(decimalDollars: price),
            let onDemand = Money(decimalDollars: onDemandPrice ?? price)
        else { throw ValidationError("--price and --on-demand-price are dollars, e.g. 0.36") }
        let token =
            try bootstrapToken ?? ProcessInfo.processInfo.environment["SPOTWISE_BOOTSTRAP_TOKEN"]
            ?? {
                let directory = stateDir ?? ProcessInfo.processInfo.environment["SPOTWISE_HOME"] ?? ".spotwise"
                let file = URL(fileURLWithPath: directory).appendingPathComponent("bootstrap.token")
                guard let saved = try? String(contentsOf: file, encoding: .utf8) else {
                    throw ValidationError(
                        "no bootstrap token: pass --bootstrap-token, set SPOTWISE_BOOTSTRAP_TOKEN, or run where \(file.path) exists"
                    )
                }
                return saved.trimmingCharacters(in: .whitespacesAndNewlines)
            }()
        var watchers: [any InterruptionWatcher] = [SignalWatcher()]
        if let imdsURL { watchers.append(EC2MetadataWatcher(baseURL: imdsURL)) }
        if let gceMetadataURL { watchers.append(GCEMetadataWatcher(baseURL: gceMetadataURL)) }
        var logger = Logger(label: "spotwise.worker.\(name)")
        logger.logLevel = .info
        let agent = WorkerAgent(
            configuration: WorkerAgentConfiguration(
                coordinatorURL: coordinator, bootstrapToken: token, name: name, provider: providerName,
                pool: WorkerPool(
                    region: region, market: marketValue, instanceType: instanceType, pricePerHour: pricePerHour,
                    onDemandPricePerHour: onDemand),
                workDirectory: URL(fileURLWithPath: workDir).standardizedFileURL,
                jobRoot: URL(fileURLWithPath: jobRoot).standardizedFileURL, watchers: watchers,
                noticeWindowSeconds: noticeSeconds, exitAfterAttempt: exitAfterAttempt,
                idleExitSeconds: idleExitSeconds,
                address: address),
            logger: logger)
        try await agent.run()
    }
}
