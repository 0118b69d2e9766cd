import Foundation
import Spawning
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The local provider: each node of `provisioners/local.yaml` is a `spotwise worker` process
/// (killing the node kills its trainer too), working in
/// `DIRECTORY/nodes/NODE`. Spot nodes can be interrupted through the simulated market: with a
/// notice (posted on the node's IMDS endpoint, node killed when the window ends) or without one
/// (killed at once); either way the capacity comes back after `relaunchSeconds`.
public final class LocalProvisioner: Sendable {
    public struct Launch: Sendable {
        public var spotwiseBinary: URL
        public var coordinatorURL: String
        public var bootstrapToken: String
        public var metadataURL: String
        public var directory: URL
        public var jobRoot: URL
        /// Variables for every trainer on the pool's nodes (set in each agent's environment and
        /// named with `--trainer-env`).
        public var environment: [String: String]

        public init(
            spotwiseBinary: URL, coordinatorURL: String, bootstrapToken: String, metadataURL: String,
            directory: URL, jobRoot: URL, environment: [String: String]
        ) {
            self.spotwiseBinary = spotwiseBinary
            self.coordinatorURL = coordinatorURL
            self.bootstrapToken = bootstrapToken
            self.metadataURL = metadataURL
            self.directory = directory
            self.jobRoot = jobRoot
            self.environment = environment
        }
    }

    public let configuration: LocalPoolConfiguration
    let launch: Launch
    let market: SimulatedSpotMarket
    private let processes = Mutex<[String: Int32]>([:])
    /// Regions whose spot capacity the market has taken back: their spot nodes stay down.
    private let reclaimed = Mutex<Set<String>>([])

    public init(configuration: LocalPoolConfiguration, launch: Launch, market: SimulatedSpotMarket) {
        self.configuration = configuration
        self.launch = launch
        self.market = market
    }

    public func nodeDirectory(_ node: String) -> URL {
        launch.directory.appendingPathComponent("nodes").appendingPathComponent(node)
    }

    public func startAll() throws {
        for node in configuration.nodes { try start(node) }
    }

    public func start(_ node: LocalPoolConfiguration.Node) throws {
        let directory = nodeDirectory(node.name)
        // The node's directory outlives a relaunch (its log is appended to); only the identity of
        // the previous agent goes.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: directory.appendingPathComponent("worker-id"))
        market.clear(node: node.name)
        var arguments = [
            "worker", "--coordinator", launch.coordinatorURL, "--name", node.name, "--provider", "local", "--region",
            node.pool.region,
            "--market", node.pool.market.rawValue, "--instance-type", node.pool.instanceType, "--price",
            node.pool.pricePerHour.exactDescription, "--on-demand-price",
            node.pool.onDemandPricePerHour.exactDescription, "--imds-url",
            "\(launch.metadataURL)/nodes/\(node.name)", "--work-dir", directory.path, "--job-root",
            launch.jobRoot.path, "--notice-seconds", String(configuration.noticeSeconds),
        ]
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in launch.environment { environment[key] = value }
        // The launch's variables are for the trainers, which get only an allow-list of the
        // agent's environment: name each (its value stays out of `ps`).
        for key in launch.environment.keys.sorted() { arguments += ["--trainer-env", key] }
        // In the environment, not the command line: a secret has no place in `ps`, and a token
        // that begins with '-' would read as an option there.
        environment["SPOTWISE_BOOTSTRAP_TOKEN"] = launch.bootstrapToken
        let process = try ChildProcess(
            executable: launch.spotwiseBinary.path, arguments: arguments, environment: environment,
            logFile: directory.appendingPathComponent("worker.log"))
        processes.withLock { $0[node.name] = process.pid }
    }

    /// The worker id the node's agent registered as (it writes `worker-id` in its directory).
    public func workerID(of node: String) -> String? {
        (try? String(contentsOf: nodeDirectory(node).appendingPathComponent("worker-id"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func node(runningWorker worker: String) -> LocalPoolConfiguration.Node? {
        configuration.nodes.first { workerID(of: $0.name) == worker }
    }

    /// Interrupts a spot node; returns when the node is gone (after the notice window, if any).
    /// The capacity comes back `relaunchSeconds` later, in the background, unless its region is
    /// reclaimed by then.
    public func interrupt(_ node: LocalPoolConfiguration.Node, withNotice: Bool) async throws {
        try await takeDown(node, withNotice: withNotice)
        let relaunch = configuration.relaunchSeconds
        Task {
            try await Task.sleep(for: .milliseconds(Int(relaunch * 1000)))
            if !self.reclaimed.withLock({ $0.contains(node.pool.region) }) { try self.start(node) }
        }
    }

    func takeDown(_ node: LocalPoolConfiguration.Node, withNotice: Bool) async throws {
        if withNotice {
            market.postNotice(node: node.name, terminationAt: Date().addingTimeInterval(configuration.noticeSeconds))
            try await Task.sleep(for: .milliseconds(Int(configuration.noticeSeconds * 1000)))
        }
        kill(node: node.name)
    }

    /// The market takes the region's spot capacity back: every spot node there gets a notice (or
    /// none) and is killed when the window ends; none comes back until `restore(region:)`.
    public func reclaim(region: String, withNotice: Bool) async throws {
        reclaimed.withLock { _ = $0.insert(region) }
        let nodes = configuration.nodes.filter { $0.pool.region == region && $0.pool.market == .spot }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { try await self.takeDown(node, withNotice: withNotice) } }
            try await group.waitForAll()
        }
    }

    /// Spot capacity returns to the region: its spot nodes start again.
    public func restore(region: String) throws {
        reclaimed.withLock { _ = $0.remove(region) }
        for node in configuration.nodes where node.pool.region == region && node.pool.market == .spot {
            if !isRunning(node.name) { try start(node) }
        }
    }

    public func isRunning(_ node: String) -> Bool { processes.withLock { $0[node] != nil } }

    /// SIGKILL to the node: the agent and every process under it (its trainer), as a machine
    /// taken back would lose them all at once.
    func kill(node: String) {
        guard let pid = processes.withLock({ $0.removeValue(forKey: node) }) else { return }
        for victim in [pid] + Self.descendants(of: pid) { _ = Glibc.kill(victim, SIGKILL) }
    }

    /// Every process below `pid`, from /proc (parent is field 4 of /proc/PID/stat).
    static func descendants(of pid: Int32) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { children[parent, default: []].append(child) }
        }
        var result: [Int32] = []
        var queue = children[pid] ?? []
        while let next = queue.popLast() {
            result.append(next)
            queue += children[next] ?? []
        }
        return result
    }

    public func stopAll() {
        for node in configuration.nodes { kill(node: node.name) }
    }
}
