import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SpotwiseCore
import Synchronization

/// A notice that the node is about to be taken back (or should checkpoint now).
public struct InterruptionNotice: Hashable, Sendable {
    public enum Kind: String, Sendable {
        /// EC2 `spot/instance-action`: the instance stops or terminates at `deadline`.
        case spotTermination = "spot-termination"
        /// EC2 rebalance recommendation: risk is up; checkpoint now, keep going.
        case rebalance
        /// GCE `instance/preempted` turned TRUE.
        case preempted
        /// The agent itself got SIGTERM.
        case sigterm
        /// Another member of this worker's gang got a termination notice (the coordinator said
        /// `notice`): the whole gang checkpoints and stops.
        case gangMember = "gang-member"
    }

    public var kind: Kind
    /// When the capacity goes away, if the source says.
    public var deadline: Date?

    public init(kind: Kind, deadline: Date? = nil) {
        self.kind = kind
        self.deadline = deadline
    }

    /// Whether the node is going away (as opposed to a recommendation to checkpoint).
    public var isTermination: Bool { kind != .rebalance }
}

/// One source of interruption notices, polled by the agent.
public protocol InterruptionWatcher: Sendable {
    var name: String { get }
    func check() async -> InterruptionNotice?
}

/// EC2 instance metadata, IMDSv2: a session token from `PUT /latest/api/token`, then
/// `GET /latest/meta-data/spot/instance-action` (404 until a notice; then
/// `{"action": "terminate", "time": "2026-11-29T08:22:00Z"}`) and
/// `GET /latest/meta-data/events/recommendations/rebalance` (`{"noticeTime": "..."}`).
public final class EC2MetadataWatcher: InterruptionWatcher {
    public let name = "ec2-imds"
    let baseURL: String
    let http: HTTPClient
    /// How long one metadata request may take (the server is on the host: it answers at once).
    let timeout: TimeAmount
    private let token = Mutex<String?>(nil)

    public init(
        baseURL: String = "http://169.254.169.254", http: HTTPClient = .shared, timeout: TimeAmount = .seconds(2)
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.timeout = timeout
    }

    func sessionToken() async throws -> String {
        if let known = token.withLock({ $0 }) { return known }
        var request = HTTPClientRequest(url: baseURL + "/latest/api/token")
        request.method = .PUT
        request.headers.add(name: "X-aws-ec2-metadata-token-ttl-seconds", value: "21600")
        let response = try await http.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 4096)
        guard response.status == .ok else { throw WatcherError("IMDS token request: HTTP \(response.status.code)") }
        let value = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        token.withLock { $0 = value }
        return value
    }

    func get(_ path: String) async throws -> (HTTPResponseStatus, ByteBuffer) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "X-aws-ec2-metadata-token", value: try await sessionToken())
        let response = try await http.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 * 1024)
        if response.status == .unauthorized { token.withLock { $0 = nil } }
        return (response.status, body)
    }

    public func check() async -> InterruptionNotice? {
        do {
            let (status, body) = try await get("/latest/meta-data/spot/instance-action")
            if status == .ok {
                struct Action: Decodable {
                    var action: String
                    var time: String
                }
                let action = try? JSONDecoder().decode(Action.self, from: Data(body.readableBytesView))
                return InterruptionNotice(
                    kind: .spotTermination, deadline: action.flatMap { RFC3339.dateTime($0.time) })
            }
            let (rebalanceStatus, rebalanceBody) = try await get("/latest/meta-data/events/recommendations/rebalance")
            if rebalanceStatus == .ok {
                struct Rebalance: Decodable { var noticeTime: String }
                _ = try? JSONDecoder().decode(Rebalance.self, from: Data(rebalanceBody.readableBytesView))
                return InterruptionNotice(kind: .rebalance)
            }
        } catch {
            // Metadata unreachable: no notice to act on (the lease still protects the job).
        }
        return nil
    }
}

/// GCE metadata: `GET /computeMetadata/v1/instance/preempted` with `Metadata-Flavor: Google`
/// answers `TRUE` once the VM is being preempted (30 s before it stops).
public struct GCEMetadataWatcher: InterruptionWatcher {
    public let name = "gce-metadata"
    let baseURL: String
    let http: HTTPClient
    /// How long one metadata request may take (the server is on the host: it answers at once).
    let timeout: TimeAmount

    public init(
        baseURL: String = "http://metadata.google.internal", http: HTTPClient = .shared,
        timeout: TimeAmount = .seconds(2)
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.timeout = timeout
    }

    public func check() async -> InterruptionNotice? {
        var request = HTTPClientRequest(url: baseURL + "/computeMetadata/v1/instance/preempted")
        request.headers.add(name: "Metadata-Flavor", value: "Google")
        guard let response = try? await http.execute(request, timeout: timeout), response.status == .ok,
            let body = try? await response.body.collect(upTo: 1024)
        else { return nil }
        return String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines) == "TRUE"
            ? InterruptionNotice(kind: .preempted) : nil
    }
}

/// The flag a `SignalWatcher` reads: raised once, read by polling. A plain atomic store is all a
/// signal handler may do.
public final class SignalFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    /// A flag of its own, which only `raise()` sets (no signal handler is bound to it).
    public init() {}

    /// The one flag of the process that its SIGTERM handler raises (see `SignalWatcher()`).
    static let sigterm = SignalFlag()

    public func raise() { raised.store(true, ordering: .relaxed) }

    public var isRaised: Bool { raised.load(ordering: .relaxed) }
}

/// SIGTERM to the agent (what Kubernetes, systemd, Modal and a spot reclaim on many platforms send).
///
/// A plain signal handler that sets an atomic flag: nothing to keep alive, and no Dispatch signal
/// source blocking SIGTERM in the agent's threads (children are spawned with a clean mask
/// anyway; see `ChildProcess`).
///
/// `SignalWatcher()` is the agent's: it installs the process's SIGTERM handler, bound to the
/// process's one flag. `SignalWatcher(flag:)` reads a flag of the caller's and installs nothing,
/// so a test can make as many watchers as it likes and trigger each without signalling the
/// process that runs it.
public final class SignalWatcher: InterruptionWatcher {
    public let name = "sigterm"
    /// What `check()` reads and `trigger()` raises.
    public let flag: SignalFlag

    /// The agent's watcher: installs the SIGTERM handler of the process, which raises the
    /// process's flag (every watcher made this way shares it).
    public convenience init() {
        // The flag exists before the handler can run: the handler only stores to it.
        self.init(flag: SignalFlag.sigterm)
        signal(SIGTERM) { _ in SignalFlag.sigterm.raise() }
    }

    /// A watcher of `flag`, with no signal handler installed: it sees a notice once `flag` is
    /// raised (by `trigger()` or `flag.raise()`).
    public init(flag: SignalFlag) {
        self.flag = flag
    }

    /// For tests and for the agent's own shutdown path: raises this watcher's flag.
    public func trigger() { flag.raise() }

    public func check() async -> InterruptionNotice? {
        flag.isRaised ? InterruptionNotice(kind: .sigterm) : nil
    }
}

struct WatcherError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
