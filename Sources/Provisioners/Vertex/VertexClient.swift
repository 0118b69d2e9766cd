import AsyncHTTPClient
import CloudAuth
import Foundation
import NIOCore
import NIOHTTP1

/// A Vertex AI error answer, classified like AWS's.
public struct VertexError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var kind: CloudErrorKind

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
        switch (status, code) {
        case (429, _),
            (_, "RESOURCE_EXHAUSTED") where !message.localizedCaseInsensitiveContains("stockout"):
            kind = .throttled
        case (_, _) where message.localizedCaseInsensitiveContains("stockout"): kind = .capacity
        case (401, _), (403, _), (_, "UNAUTHENTICATED"), (_, "PERMISSION_DENIED"): kind = .credentials
        case (500..., _), (_, "UNAVAILABLE"), (_, "INTERNAL"): kind = .infrastructure
        default: kind = .user
        }
    }

    public var description: String { "\(code): \(message) (HTTP \(status), \(kind.rawValue))" }
}

/// `projects.locations.customJobs` create, get and cancel over REST with an OAuth2 bearer token;
/// throttling and 5xx retried with capped exponential backoff and full jitter.
public struct VertexClient: Sendable {
    public var project: String
    public var region: String
    public var endpoint: URL
    let token: @Sendable () async throws -> String
    let http: HTTPClient
    let sleep: @Sendable (Duration) async throws -> Void
    let maxAttempts = 5

    public init(
        project: String, region: String, endpoint: URL?, token: @escaping @Sendable () async throws -> String,
        http: HTTPClient = .shared,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.project = project
        self.region = region
        self.endpoint = endpoint ?? URL(string: "https://\(region)-aiplatform.googleapis.com")!
        self.token = token
        self.http = http
        self.sleep = sleep
    }

    var parent: String { "projects/\(project)/locations/\(region)" }

    func send(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> Data {
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: endpoint.absoluteString.trimmingCharacters(in: ["/"]) + "/v1/" + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(try await token())")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let failure: any Error
            do {
                let response = try await http.execute(request, timeout: .seconds(60))
                let data = Data((try await response.body.collect(upTo: 16 << 20)).readableBytesView)
                if (200..<300).contains(Int(response.status.code)) { return data }
                if let decoded = try? JSONDecoder().decode(VertexAPI.ErrorBody.self, from: data) {
                    failure = VertexError(
                        status: Int(response.status.code), code: decoded.error.status ?? "HTTP\(decoded.error.code)",
                        message: decoded.error.message)
                } else {
                    failure = VertexError(
                        status: Int(response.status.code), code: "HTTP\(response.status.code)",
                        message: String(decoding: data.prefix(300), as: UTF8.self))
                }
            } catch let error as GoogleAuthError {
                throw error
            } catch {
                failure = error
            }
            let retryable =
                (failure as? VertexError).map { $0.kind == .throttled || $0.kind == .infrastructure } ?? true
            guard retryable, attempt < maxAttempts else { throw failure }
            let cap = min(10_000, 200 << min(attempt - 1, 10))
            try await sleep(.milliseconds(Int64.random(in: 0...Int64(cap))))
        }
    }

    public func create(_ job: VertexAPI.CustomJob) async throws -> VertexAPI.CustomJob {
        let data = try await send(.POST, "\(parent)/customJobs", body: try JSONEncoder().encode(job))
        return try JSONDecoder().decode(VertexAPI.CustomJob.self, from: data)
    }

    /// `name` is the full resource name Vertex gave at creation.
    public func get(_ name: String) async throws -> VertexAPI.CustomJob {
        try JSONDecoder().decode(VertexAPI.CustomJob.self, from: try await send(.GET, name, body: nil))
    }

    public func cancel(_ name: String) async throws {
        _ = try await send(.POST, "\(name):cancel", body: Data("{}".utf8))
    }
}
