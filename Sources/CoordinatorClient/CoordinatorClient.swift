import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SpotwiseCore
import Synchronization

/// The coordinator's HTTP API from the outside: what the CLI and the worker agent call.
/// Errors come back as one line: the server's message and code, or what could not be reached.
///
/// Several coordinators (replicas on one PostgreSQL) are given as comma-separated URLs: a request
/// goes to the one that answered last. A request safe to send twice (a read, a submission with
/// an idempotency key, a heartbeat, an assignment poll) moves on to the next URL when one cannot
/// be reached within `failoverAttemptTimeout` or answers 502, 503 or 504; the last URL tried gets
/// the whole timeout. Any other request is sent once, to the first replica that answers
/// `GET /health` (one that cannot be reached is passed over before anything is sent); if it then
/// gets no answer it fails, and the caller's retry goes to the next URL. An error a coordinator
/// answered with is the answer.
public struct CoordinatorClient: Sendable {
    /// Every coordinator URL given, in order.
    public let baseURLs: [String]
    let token: String
    let http: HTTPClient
    /// The longest one request may take, connecting included (AsyncHTTPClient keeps retrying a
    /// refused connection until then).
    let timeout: TimeAmount
    private let answered: AnsweringURL
    /// Among several URLs, the longest one try may take before the next URL is tried.
    public static let failoverAttemptTimeout = TimeAmount.seconds(2)

    public init(baseURL: String, token: String, timeout: TimeAmount = .seconds(30), http: HTTPClient = .shared) {
        let urls = baseURL.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.baseURLs = urls.isEmpty ? [baseURL] : urls
        self.token = token
        self.timeout = timeout
        self.http = http
        self.answered = AnsweringURL()
    }

    /// The URL requests go to first: the one that answered last.
    public var baseURL: String { baseURLs[answered.index % baseURLs.count] }

    /// Which URL answered last, shared by copies of a client.
    final class AnsweringURL: Sendable {
        private let value = Mutex(0)
        var index: Int { value.withLock { $0 } }
        func set(_ index: Int) { value.withLock { $0 = index } }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var status: Int?
        public var code: String
        public var message: String

        public var description: String {
            status.map { "\(message) (\(code), HTTP \($0))" } ?? message
        }
    }

    /// A job as the API returns it.
    public typealias Job = JobSummary

    static let decoder = JobSummary.decoder

    /// Sends a request; a 2xx body comes back, anything else becomes a `Failure`.
    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil, headers extra: [(String, String)] = [])
        async throws -> Data
    {
        // Safe to send twice: reads, submissions with an idempotency key, heartbeats and
        // assignment polls. Anything else is sent once: if its replica cannot be reached, the
        // next URL becomes the first for the caller's retry (the request may have arrived).
        let safe =
            method == .GET || extra.contains { $0.0 == "Idempotency-Key" } || path.hasSuffix("/heartbeat")
            || path.hasSuffix("/assignment")
        let first = answered.index
        let count = baseURLs.count
        var unreachable: [String] = []
        var answer: HTTPClientResponse?
        for offset in 0..<count {
            let index = (first + offset) % count
            let last = offset == count - 1 || !safe
            var request = HTTPClientRequest(url: baseURLs[index] + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            for (name, value) in extra { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            if !safe, count > 1 {
                // Sent once, so first asked whether this replica answers at all: one that cannot
                // be reached is passed over before anything was sent.
                var probe = HTTPClientRequest(url: baseURLs[index] + "/health")
                probe.method = .GET
                do {
                    _ = try await http.execute(probe, timeout: min(timeout, Self.failoverAttemptTimeout))
                } catch {
                    unreachable.append("\(baseURLs[index]) (\(error))")
                    continue
                }
            }
            do {
                // Every URL but the last one tried gets at most the failover time; the last the
                // whole timeout (a slow answer is still an answer).
                let response = try await http.execute(
                    request, timeout: last ? timeout : min(timeout, Self.failoverAttemptTimeout))
                // A proxy or replica that cannot serve now: a safe request moves on.
                if safe, !last, [502, 503, 504].contains(Int(response.status.code)) {
                    unreachable.append("\(baseURLs[index]) (HTTP \(response.status.code))")
                    continue
                }
                answered.set(index)
                answer = response
                break
            } catch {
                unreachable.append("\(baseURLs[index]) (\(error))")
                if !safe {
                    answered.set((index + 1) % count)
                    break
                }
            }
        }
        guard let response = answer else {
            let retry =
                !safe && count > 1 ? "; not sent again (it may have arrived), the next try goes to \(baseURL)" : ""
            throw Failure(
                status: nil, code: "unreachable",
                message:
                    "cannot reach the coordinator at \(unreachable.joined(separator: ", "))\(retry); is `spotwise coordinator` running?"
            )
        }
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let data = Data(bytes.readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            struct ErrorBody: Decodable {
                struct Detail: Decodable {
                    var code: String
                    var message: String
                }
                var error: Detail
            }
            if let error = try? JSONDecoder().decode(ErrorBody.self, from: data) {
                throw Failure(status: Int(response.status.code), code: error.error.code, message: error.error.message)
            }
            throw Failure(
                status: Int(response.status.code), code: "http_error",
                message: String(decoding: data.prefix(300), as: UTF8.self))
        }
        return data
    }

    /// Submits a spec file's bytes; the idempotency key makes a retried submission safe.
    public func submit(spec: Data, idempotencyKey: String) async throws -> Job {
        let data = try await send(
            .POST, "/v1/jobs", body: spec,
            headers: [("Content-Type", "application/yaml"), ("Idempotency-Key", idempotencyKey)])
        return try Self.decoder.decode(Job.self, from: data)
    }

    public func jobs(state: String? = nil) async throws -> [Job] {
        struct Listing: Decodable { var jobs: [Job] }
        let query =
            state.map { "?state=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
        return try Self.decoder.decode(Listing.self, from: try await send(.GET, "/v1/jobs" + query)).jobs
    }

    public func job(_ id: String) async throws -> Job {
        try Self.decoder.decode(Job.self, from: try await send(.GET, "/v1/jobs/\(escaped(id))"))
    }

    public func cancel(_ id: String) async throws -> Job {
        try Self.decoder.decode(Job.self, from: try await send(.POST, "/v1/jobs/\(escaped(id))/cancel"))
    }

    func escaped(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
            ?? id
    }
}
