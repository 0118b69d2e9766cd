import AsyncHTTPClient
import CloudAuth
import Foundation
import NIOCore
import NIOHTTP1
import SpotwiseCore

/// The JSON the Spotwise Modal app's endpoint takes and gives (provisioners/modal/spotwise_app.py).
public enum ModalAPI {
    public struct Request: Codable, Sendable, Equatable {
        public var action: String
        public var name: String?
        public var gpu: String?
        public var timeoutSeconds: Int?
        public var env: [String: String]?
        public var callID: String?

        public init(
            action: String, name: String? = nil, gpu: String? = nil, timeoutSeconds: Int? = nil,
            env: [String: String]? = nil, callID: String? = nil
        ) {
            self.action = action
            self.name = name
            self.gpu = gpu
            self.timeoutSeconds = timeoutSeconds
            self.env = env
            self.callID = callID
        }

        enum CodingKeys: String, CodingKey {
            case action, name, gpu, env
            case timeoutSeconds = "timeout_seconds"
            case callID = "call_id"
        }
    }

    public struct Answer: Codable, Sendable, Equatable {
        public var callID: String?
        public var state: String?
        public var detail: String?
        public var error: String?
        public var message: String?

        enum CodingKeys: String, CodingKey {
            case state, detail, error, message
            case callID = "call_id"
        }
    }

    /// The GPU types the app accepts, from a job's accelerator model (`A100:1` -> `A100`).
    public static let gpus: Set<String> = ["T4", "L4", "A10G", "A100", "A100-80GB", "H100"]
}

public struct ModalError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String

    public var kind: CloudErrorKind {
        switch status {
        case 401, 403: .credentials
        case 429: .throttled
        case 500...: .infrastructure
        default: .user
        }
    }

    public var description: String { "\(code): \(message) (HTTP \(status), \(kind.rawValue))" }
}

/// Calls the deployed app's endpoint with its bearer token; throttling and 5xx retried.
public struct ModalClient: Sendable {
    public var endpoint: URL
    let token: String
    let http: HTTPClient
    let sleep: @Sendable (Duration) async throws -> Void

    public init(
        endpoint: URL, token: String, http: HTTPClient = .shared,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.endpoint = endpoint
        self.token = token
        self.http = http
        self.sleep = sleep
    }

    func call(_ body: ModalAPI.Request) async throws -> ModalAPI.Answer {
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: endpoint.absoluteString)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
            let failure: any Error
            do {
                let response = try await http.execute(request, timeout: .seconds(60))
                let data = Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
                let answer = try? JSONDecoder().decode(ModalAPI.Answer.self, from: data)
                if response.status == .ok, let answer { return answer }
                failure = ModalError(
                    status: Int(response.status.code), code: answer?.error ?? "HTTP\(response.status.code)",
                    message: answer?.message ?? String(decoding: data.prefix(300), as: UTF8.self))
            } catch {
                failure = error
            }
            let retryable = (failure as? ModalError).map { $0.kind == .throttled || $0.kind == .infrastructure } ?? true
            guard retryable, attempt < 5 else { throw failure }
            try await sleep(.milliseconds(Int64.random(in: 0...Int64(min(10_000, 200 << (attempt - 1))))))
        }
    }

    /// Spawns the training function; returns Modal's call id.
    public func spawn(_ request: ModalAPI.Request) async throws -> String {
        guard let id = try await call(request).callID else {
            throw ModalError(status: 200, code: "no_call_id", message: "the app answered no call_id")
        }
        return id
    }

    public func status(callID: String) async throws -> ModalAPI.Answer {
        try await call(ModalAPI.Request(action: "status", callID: callID))
    }

    public func cancel(callID: String) async throws {
        _ = try await call(ModalAPI.Request(action: "cancel", callID: callID))
    }
}

/// Pure decisions for Modal: the spawn request for an attempt, and what a status means.
public enum ModalLaunches {
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func spawnRequest(
        job: String, attempt: Int, spec: JobSpec, coordinatorURL: String, bootstrapToken: String,
        pricePerHour: Money, deadline: Date?, now: Date
    ) throws -> ModalAPI.Request {
        let model = spec.resources.accelerator?.model.uppercased() ?? "T4"
        guard ModalAPI.gpus.contains(model) else {
            throw Invalid(
                description:
                    "resources.accelerator \(model) is not a Modal GPU (\(ModalAPI.gpus.sorted().joined(separator: ", ")))"
            )
        }
        let name = "\(job)-a\(attempt)"
        return ModalAPI.Request(
            action: "spawn", name: name, gpu: model,
            timeoutSeconds: deadline.map { max(60, min(86_400, Int($0.timeIntervalSince(now)))) } ?? 86_400,
            env: [
                "SPOTWISE_COORDINATOR_URL": coordinatorURL, "SPOTWISE_BOOTSTRAP_TOKEN": bootstrapToken,
                "SPOTWISE_WORKER_NAME": name, "SPOTWISE_REGION": "modal", "SPOTWISE_MARKET": Market.spot.rawValue,
                "SPOTWISE_INSTANCE_TYPE": "modal.\(model)", "SPOTWISE_PRICE": pricePerHour.exactDescription,
                "SPOTWISE_ON_DEMAND_PRICE": pricePerHour.exactDescription,
            ])
    }

    public enum Observation: Hashable, Sendable {
        case running
        case succeeded
        case failed(String)
        case cancelled
    }

    public static func observe(_ answer: ModalAPI.Answer) -> Observation {
        switch answer.state {
        case "running": .running
        case "succeeded": .succeeded
        case "cancelled": .cancelled
        default: .failed(answer.detail ?? answer.state ?? "unknown state")
        }
    }
}
