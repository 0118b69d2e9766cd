import ArgumentParser
import Coordinator
import Foundation
import Hummingbird
import Logging
import SpotwiseCore
import StateStore

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: the jobs API over SQLite (default) or PostgreSQL.",
        discussion: """
            On first start it creates the state directory (mode 0700) with state.db, admin.token,
            readonly.token and bootstrap.token (for workers), all mode 0600, and prints each token once.
            Stops gracefully on SIGTERM.
            """
    )

    @Option(help: "sqlite:PATH or postgres://USER@HOST:PORT/DB (default: sqlite:STATE_DIR/state.db).")
    var db: String?

    @Option(help: "Address to listen on, HOST:PORT.")
    var bind: String = "127.0.0.1:7070"

    @Option(help: "State directory (default: $SPOTWISE_HOME or .spotwise).")
    var stateDir: String?

    @Option(help: "Largest job spec a submission may carry, in bytes: 1024 to 1048576 (what validate accepts).")
    var maxBodyBytes: Int = InputLimits.maxSpecBytes

    @Option(help: "Seconds between worker heartbeats.") var heartbeatSeconds: Int64 = 5
    @Option(help: "Seconds a lease lasts past the last heartbeat.") var leaseSeconds: Int64 = 15
    @Option(help: "Seconds of grace for every live lease after a restart (or a takeover by another replica).")
    var restartGraceSeconds: Int64 = 300
    @Option(
        help:
            "PostgreSQL only: seconds a replica's claim to leadership lasts; another replica takes over this long after the leader stops renewing (at most)."
    )
    var leaderSeconds: Int64 = 10
    @Option(help: "Launch SageMaker training jobs as capacity, configured by this file (provisioners/sagemaker.yaml).")
    var sagemaker: String?
    @Option(help: "Launch Vertex AI custom jobs as capacity, configured by this file (provisioners/vertex.yaml).")
    var vertex: String?
    @Option(help: "Launch Modal calls through this deployed app endpoint (token: $SPOTWISE_MODAL_TOKEN).")
    var modalEndpoint: String?
    @Option(help: "Modal GPU prices per hour, e.g. A100=3.40,H100=4.56 (with --modal-endpoint).") var modalPrices:
        String =
            "T4=0.59,L4=0.80,A10G=1.10,A100=2.10,H100=3.95"
    @Option(
        help: "The URL launched workers reach this coordinator at (with --sagemaker, --vertex or --modal-endpoint).")
    var publicURL: String?
    @Flag(
        help:
            "Mark the dashboard's session cookie Secure: set it when browsers reach the coordinator over TLS (a proxy that sends X-Forwarded-Proto: https gets it anyway)."
    )
    var secureCookies = false

    func validate() throws {
        guard Self.hostAndPort(bind) != nil else {
            throw ValidationError("--bind must be HOST:PORT with a port from 0 to 65535, not '\(bind)'")
        }
        if let db, !(db.hasPrefix("sqlite:") || db.hasPrefix("postgres://") || db.hasPrefix("postgresql://")) {
            throw ValidationError("--db must be sqlite:PATH or postgres://..., not '\(db)'")
        }
        guard (1024...InputLimits.maxSpecBytes).contains(maxBodyBytes) else {
            throw ValidationError(
                "--max-body-bytes must be 1024 to \(InputLimits.maxSpecBytes), the largest spec validate accepts")
        }
        guard heartbeatSeconds >= 1, leaseSeconds > heartbeatSeconds, restartGraceSeconds >= leaseSeconds else {
            throw ValidationError("need 1 <= --heartbeat-seconds < --lease-seconds <= --restart-grace-seconds")
        }
        guard (3...300).contains(leaderSeconds) else {
            throw ValidationError("--leader-seconds must be 3 to 300, not \(leaderSeconds)")
        }
    }

    static func hostAndPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port), colon != text.startIndex
        else { return nil }
        return (String(text[..<colon]), port)
    }

    func run() async throws {
        let directory = URL(
            fileURLWithPath: stateDir ?? ProcessInfo.processInfo.environment["SPOTWISE_HOME"] ?? ".spotwise")
        if let warning = try StateFilePermissions.createDirectory(at: directory) {
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
        let admin = try Self.token(named: "admin.token", in: directory)
        let reader = try Self.token(named: "readonly.token", in: directory)
        let bootstrap = try Self.token(named: "bootstrap.token", in: directory)
        let location = db ?? "sqlite:\(directory.appendingPathComponent("state.db").path)"
        try await withStore(location, creating: true, asCoordinator: true) { store in
            try await serve(store, location: location, bootstrap: bootstrap, admin: admin, reader: reader)
        }
    }

    func serve(_ store: SQLStateStore, location: String, bootstrap: String, admin: String, reader: String) async throws
    {
        let (host, port) = Self.hostAndPort(bind)!
        var logger = Logger(label: "spotwise.coordinator")
        logger.logLevel = .info
        let launcher = try CloudProviderSetup(
            sagemaker: sagemaker, vertex: vertex, modalEndpoint: modalEndpoint, modalPrices: modalPrices,
            publicURL: publicURL
        ).launcher(bootstrapToken: bootstrap)
        let openFiles = OpenFileLimit.raiseToHardLimit()
        let connections = ConnectionLimits(maxConnections: OpenFileLimit.connectionCap(openFiles: openFiles))
        logger.info("open files: \(openFiles); at most \(connections.maxConnections) connections")
        // On PostgreSQL every coordinator is a replica: they share the database's lease clock,
        // elect one leader through a row, and the leader writes under its fence.
        var replication: CoordinatorApplication.Replication?
        if store.backend == .postgres {
            let shared = DatabaseLeaseClock()
            let before = shared.localMilliseconds()
            let now = try await store.databaseMilliseconds()
            shared.observe(database: now, before: before, after: shared.localMilliseconds())
            let replica = "\(ProcessInfo.processInfo.hostName):\(port)/\(UUID().uuidString.prefix(8).lowercased())"
            replication = CoordinatorApplication.Replication(
                role: ReplicaRole(replica: replica, address: publicURL ?? "http://\(host):\(port)", single: false),
                leadership: store, sharedBoard: store, election: .init(ttlMilliseconds: leaderSeconds * 1000),
                leaseClock: shared,
                fenced: { store.fenced(by: $0, holdingLocksAtMost: leaderSeconds * 1000) })
            logger.info("replica \(replica): one of the coordinators on this PostgreSQL database")
        }
        let app = try await CoordinatorApplication.application(
            store: store, tokens: AccessTokens(admin: admin, readOnly: [reader], bootstrap: bootstrap),
            settings: .init(
                host: host, port: port, maxBodyBytes: maxBodyBytes, connections: connections,
                secureCookies: secureCookies),
            leasePolicy: LeasePolicy(
                heartbeatMilliseconds: heartbeatSeconds * 1000, leaseMilliseconds: leaseSeconds * 1000,
                restartGraceMilliseconds: restartGraceSeconds * 1000),
            launcher: launcher, replication: replication, logger: logger,
            onServerRunning: { port in
                print(
                    "spotwise coordinator serving on http://\(host):\(port) (state: \(SQLStateStore.redacted(location))); dashboard: http://\(host):\(port)/ui/"
                )
                fflush(nil)  // every stream: Swift 6 refuses the `stdout` global
            })
        try await app.runService()
    }

    /// Reads a token file, or creates it (mode 0600) and prints the new token once. The line is
    /// flushed at once: stdout to a file is buffered, and a crash before the buffer filled lost it.
    static func token(named name: String, in directory: URL, announce: Bool = true) throws -> String {
        let url = directory.appendingPathComponent(name)
        if let existing = try? String(contentsOf: url, encoding: .utf8) {
            let token = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty { return token }
        }
        let token = AccessTokens.generate()
        try writeSecret(token + "\n", to: url)
        if announce {
            print("created \(url.path) (shown once): \(token)")
            fflush(nil)  // every stream: Swift 6 refuses the `stdout` global
        }
        return token
    }

    /// Writes a secret to a file that is 0600 from its creation (never briefly readable by others,
    /// as a write-then-chmod would leave it); an existing file is replaced.
    static func writeSecret(_ text: String, to url: URL) throws {
        _ = unlink(url.path)
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw ValidationError("cannot create \(url.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count, fchmod(descriptor, 0o600) == 0 else {
            throw ValidationError("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
    }
}
