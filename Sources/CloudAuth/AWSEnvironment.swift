import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Credentials resolved once and kept until five minutes before they expire.
public actor AWSCredentialCache {
    let chain: AWSCredentialChain
    var cached: AWSCredentials?
    let now: @Sendable () -> Date

    public init(chain: AWSCredentialChain, now: @escaping @Sendable () -> Date = Date.init) {
        self.chain = chain
        self.now = now
    }

    public func current() async throws -> AWSCredentials {
        if let cached, !cached.expires(within: 300, of: now()) { return cached }
        let fresh = try await chain.resolve()
        cached = fresh
        return fresh
    }
}

extension AWSCredentialChain {
    /// The chain with real HTTP for the container and instance metadata endpoints (2 s each).
    public static func live(environment: [String: String] = ProcessInfo.processInfo.environment) -> AWSCredentialChain {
        AWSCredentialChain(environment: environment) { method, url, headers in
            var request = HTTPClientRequest(url: url)
            request.method = HTTPMethod(rawValue: method)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(2))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard (200..<300).contains(Int(response.status.code)) else {
                throw AWSCredentialsError("\(url) answered HTTP \(response.status.code)")
            }
            return Data(body.readableBytesView)
        }
    }
}

/// Region and endpoint overrides from the standard AWS variables.
public enum AWSEnvironment {
    public static func region(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
    }

    /// `AWS_ENDPOINT_URL_<SERVICE>` then `AWS_ENDPOINT_URL` (how the AWS SDKs and CLI take a local
    /// server such as moto or MinIO).
    public static func endpoint(service: String, _ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> URL?
    {
        let key = "AWS_ENDPOINT_URL_\(service.uppercased().replacingOccurrences(of: "-", with: "_"))"
        return (environment[key] ?? environment["AWS_ENDPOINT_URL"]).flatMap(URL.init(string:))
    }
}
