import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StateStore
import Testing

/// A served path asked with a method it does not serve is 405 with `Allow` (issue 14, item 10:
/// `TRACE /health` was 404), in the JSON error shape; an unknown path stays 404.
@Suite struct MethodNotAllowedTests {
    func app() -> some ApplicationProtocol {
        Application(
            router: CoordinatorApplication.router(
                store: InMemoryStateStore(), tokens: AccessTokens(admin: "admin", bootstrap: "boot"),
                settings: .init()))
    }

    /// The JSON error's code and message; fails the test if the body is not that shape.
    static func error(_ response: TestResponse) throws -> (code: String, message: String) {
        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
        let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
        let error = try #require(object?["error"] as? [String: Any])
        return (try #require(error["code"] as? String), try #require(error["message"] as? String))
    }

    static func errorCode(_ response: TestResponse) throws -> String { try error(response).code }

    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .trace, .options, .head]

    /// Every documented path with its parameters filled in, and the methods served on it.
    static let paths: [(path: String, allowed: Set<String>)] = {
        let routes =
            JobsAPI.routes + WorkersAPI.routes + AttemptsAPI.routes + ModelsAPI.routes + ReportsAPI.routes
            + ["GET /health", "GET /metrics"]
        var byPath: [String: Set<String>] = [:]
        for route in routes {
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            let path = parts[1].replacingOccurrences(of: "{attempt}", with: "1")
                .replacingOccurrences(of: "{alias}", with: "production")
                .replacingOccurrences(of: "{name}", with: "digits").replacingOccurrences(of: "{id}", with: "x1")
            byPath[path, default: []].insert(parts[0])
        }
        return byPath.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }()

    @Test func traceOnHealthIs405WithAllow() async throws {
        try await app().test(.router) { client in
            let response = try await client.execute(uri: "/health", method: .trace)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == "GET")
            let error = try Self.error(response)
            #expect(error.code == "method_not_allowed")
            #expect(error.message.contains("TRACE") && error.message.contains("/health"))
        }
    }

    @Test(arguments: paths.indices)
    func everyUnservedMethodOnAServedPathIs405ListingTheServedOnes(index: Int) async throws {
        let (path, allowed) = Self.paths[index]
        try await app().test(.router) { client in
            for method in Self.methods where !allowed.contains(method.rawValue) {
                let response = try await client.execute(
                    uri: path, method: method, headers: [.authorization: "Bearer admin"])
                #expect(response.status == .methodNotAllowed, "\(method) \(path): \(response.status)")
                let listed = Set(
                    (response.headers[.allow] ?? "").split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces)
                    })
                #expect(listed == allowed, "\(method) \(path): Allow \(response.headers[.allow] ?? "none")")
                if method != .head {
                    #expect(try Self.errorCode(response) == "method_not_allowed")
                }
            }
        }
    }

    @Test(arguments: paths.indices)
    func aServedMethodIsNeverAnswered405(index: Int) async throws {
        let (path, allowed) = Self.paths[index]
        try await app().test(.router) { client in
            for method in allowed {
                let response = try await client.execute(
                    uri: path, method: HTTPRequest.Method(method)!, headers: [.authorization: "Bearer admin"])
                #expect(response.status != .methodNotAllowed, "\(method) \(path)")
            }
        }
    }

    @Test func anUnknownPathIsStill404() async throws {
        try await app().test(.router) { client in
            for path in ["/v2/jobs", "/v1/jobs/x1/attempts", "/v1/workers/w/heartbeat/extra", "/healthz"] {
                let response = try await client.execute(
                    uri: path, method: .trace, headers: [.authorization: "Bearer admin"])
                #expect(response.status == .notFound, "\(path)")
                #expect(response.headers[.allow] == nil, "\(path)")
            }
        }
    }

    @Test func aTokenIsStillNeededFirst() async throws {
        try await app().test(.router) { client in
            let response = try await client.execute(uri: "/v1/jobs", method: .put)
            #expect(response.status == .unauthorized)
        }
    }
}
