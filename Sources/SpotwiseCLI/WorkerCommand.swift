import ArgumentParser
import Foundation
import Logging
import SpotwiseCore
import WorkerAgent

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker agent: register, take attempts, run trainers, watch for interruption notices.")

    @Option(help: "Coordinator URL; several replicas as URL,URL,... (the agent fails over between them).")
    var coordinator: String = "http://127.0.0.1:7070"
    @Option(
        help:
            "File holding the bootstrap token, readable by its owner only (mode 0600). Default: $SPOTWISE_BOOTSTRAP_TOKEN, else the state directory's bootstrap.token."
    )
    var bootstrapTokenFile: String?
    /// Refused: a token on the command line shows in `ps` to every user of the machine.
    @Option(help: .hidden) var bootstrapToken: String?
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
    @Option(
        help: ArgumentHelp(
            "A variable of this agent's environment to pass to every trainer (repeatable). Trainers otherwise get only the documented allow-list.",
            valueName: "NAME"))
    var trainerEnv: [String] = []

    func validate() throws {
        if bootstrapToken != nil {
            throw ValidationError(
                "--bootstrap-token is no longer accepted: a token on the command line shows in ps to every user of the machine. Set \(BootstrapTokenSource.variable) or pass --bootstrap-token-file PATH (mode 0600)"
            )
        }
        for name in trainerEnv where name.isEmpty || name.hasPrefix("SPOTWISE_") || name.contains("=") {
            throw ValidationError(
                "--trainer-env takes a variable name (not NAME=VALUE, not SPOTWISE_*, which the agent sets), not '\(name)'"
            )
        }
    }

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
        let environment = ProcessInfo.processInfo.environment
        let token = try BootstrapTokenSource(
            file: bootstrapTokenFile, environment: environment,
            stateDirectory: stateDir ?? environment["SPOTWISE_HOME"] ?? ".spotwise"
        ).token()
        var trainerEnvironment: [String: String] = [:]
        for name in trainerEnv {
            guard let value = environment[name] else {
                throw ValidationError("--trainer-env \(name): this agent's environment has no \(name)")
            }
            trainerEnvironment[name] = value
        }
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
                noticeWindowSeconds: noticeSeconds, environment: trainerEnvironment, exitAfterAttempt: exitAfterAttempt,
                idleExitSeconds: idleExitSeconds,
                address: address),
            logger: logger)
        try await agent.run()
    }
}
