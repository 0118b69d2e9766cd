import CloudAuth
import Foundation
import Testing

@Suite struct AWSCredentialChainTests {
    static func noFetch(_ method: String, _ url: String, _ headers: [(String, String)]) async throws -> Data {
        throw AWSCredentialsError("no network here: \(method) \(url)")
    }

    @Test func theEnvironmentComesFirst() async throws {
        let chain = AWSCredentialChain(
            environment: ["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"],
            home: "/nonexistent", fetch: Self.noFetch)
        let found = try await chain.resolve()
        #expect(found.accessKeyID == "AKIAENV" && found.sessionToken == "t" && found.source == "environment")
        #expect(!found.description.contains("s\""), "the secret is never printed")
    }

    @Test func aNamedProfileFromTheSharedFile() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("aws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: home.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        try """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = d
        # a comment
        [training]
        aws_access_key_id=AKIATRAIN
        aws_secret_access_key=  t  
        """.write(to: home.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        let chain = AWSCredentialChain(environment: ["AWS_PROFILE": "training"], home: home.path, fetch: Self.noFetch)
        let found = try await chain.resolve()
        #expect(found.accessKeyID == "AKIATRAIN" && found.secretAccessKey == "t")
        let missing = AWSCredentialChain(environment: ["AWS_PROFILE": "nope"], home: home.path, fetch: Self.noFetch)
        await #expect(throws: AWSCredentialsError.self) { _ = try await missing.resolve() }
        try? FileManager.default.removeItem(at: home)
    }

    @Test func theContainerEndpointThenInstanceMetadata() async throws {
        let json =
            #"{"AccessKeyId": "ASIATEMP", "SecretAccessKey": "x", "Token": "tok", "Expiration": "2026-11-30T12:00:00Z"}"#
        let container = AWSCredentialChain(
            environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"], home: "/nonexistent",
            fetch: { method, url, _ in
                #expect(method == "GET" && url == "http://169.254.170.2/v2/credentials/abc")
                return Data(json.utf8)
            })
        let fromContainer = try await container.resolve()
        #expect(fromContainer.accessKeyID == "ASIATEMP" && fromContainer.sessionToken == "tok")
        #expect(fromContainer.expires(within: 300, of: Date(timeIntervalSince1970: 1_796_039_900)))
        #expect(!fromContainer.expires(within: 300, of: Date(timeIntervalSince1970: 1_796_036_000)))

        let seen = Calls()
        let imds = AWSCredentialChain(
            environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"], home: "/nonexistent",
            fetch: { method, url, headers in
                seen.append("\(method) \(url) \(headers.map { "\($0.0)=\($0.1)" }.joined(separator: ","))")
                if url.hasSuffix("/api/token") { return Data("T0K".utf8) }
                if url.hasSuffix("/security-credentials/") { return Data("trainer-role\n".utf8) }
                return Data(json.utf8)
            })
        #expect(try await imds.resolve().source == "instance role trainer-role")
        #expect(seen.all.first == "PUT http://127.0.0.1:9/latest/api/token X-aws-ec2-metadata-token-ttl-seconds=21600")
        #expect(seen.all.dropFirst().allSatisfy { $0.hasSuffix("X-aws-ec2-metadata-token=T0K") })

        let nothing = AWSCredentialChain(environment: [:], home: "/nonexistent", fetch: Self.noFetch)
        do {
            _ = try await nothing.resolve()
            Issue.record("credentials from nowhere")
        } catch {
            #expect("\(error)".contains("no AWS credentials found") && "\(error)".contains("instance metadata"))
        }
    }
}

final class Calls: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [String] = []

    func append(_ call: String) { lock.withLock { calls.append(call) } }
    var all: [String] { lock.withLock { calls } }
}
