import Foundation
import SpotwiseCore

/// AWS credentials: long-lived keys, or temporary ones with a session token and an expiry.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public var expiration: Date?
    /// Where they came from, for messages (`environment`, `profile default`, `instance role r`).
    public var source: String

    public init(
        accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil,
        source: String = "given"
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    /// Never the secret.
    public var description: String { "AWS key \(accessKeyID.prefix(4))... from \(source)" }

    /// Whether they expire within `margin` of `now` (refresh before that).
    public func expires(within margin: TimeInterval, of now: Date) -> Bool {
        expiration.map { $0.timeIntervalSince(now) < margin } ?? false
    }
}

public struct AWSCredentialsError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// The standard places, in the standard order: the environment, the shared credentials file's
/// profile, the container credentials endpoint (ECS, SageMaker), then the instance metadata
/// service (IMDSv2).
public struct AWSCredentialChain: Sendable {
    public var environment: [String: String]
    public var home: String
    /// Fetches a URL with headers (GET, or PUT for the IMDSv2 token); injected so tests answer
    /// from a local server and nothing here reaches the network by itself.
    public var fetch: @Sendable (_ method: String, _ url: String, _ headers: [(String, String)]) async throws -> Data

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        home: String = FileManager.default.homeDirectoryForCurrentUser.path,
        fetch: @escaping @Sendable (_ method: String, _ url: String, _ headers: [(String, String)]) async throws -> Data
    ) {
        self.environment = environment
        self.home = home
        self.fetch = fetch
    }

    public func resolve() async throws -> AWSCredentials {
        if let fromEnvironment = fromEnvironment() { return fromEnvironment }
        if let fromProfile = try fromProfile() { return fromProfile }
        var tried = ["environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", "profile file"]
        if let fromContainer = try await fromContainer() { return fromContainer }
        tried.append("container endpoint (AWS_CONTAINER_CREDENTIALS_*_URI unset)")
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true" {
            do {
                return try await fromInstanceMetadata()
            } catch {
                tried.append("instance metadata (\(error))")
            }
        }
        throw AWSCredentialsError("no AWS credentials found; tried: \(tried.joined(separator: "; "))")
    }

    func fromEnvironment() -> AWSCredentials? {
        guard let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"],
            !secret.isEmpty
        else { return nil }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"],
            source: "environment")
    }

    /// `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`), section `AWS_PROFILE` (default `default`).
    func fromProfile() throws -> AWSCredentials? {
        let path = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let profile = environment["AWS_PROFILE"] ?? "default"
        let values = Self.iniSection(text, named: profile)
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            if environment["AWS_PROFILE"] != nil {
                throw AWSCredentialsError(
                    "profile '\(profile)' in \(path) has no aws_access_key_id and aws_secret_access_key")
            }
            return nil
        }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: values["aws_session_token"],
            source: "profile \(profile) in \(path)")
    }

    static func iniSection(_ text: String, named name: String) -> [String: String] {
        var current: String?
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard current == name, let equals = line.firstIndex(of: "=") else { continue }
            values[line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()] =
                line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }

    /// The JSON both the container endpoint and IMDS answer with.
    struct TemporaryCredentials: Decodable {
        var accessKeyID: String
        var secretAccessKey: String
        var token: String?
        var expiration: String?

        enum CodingKeys: String, CodingKey {
            case accessKeyID = "AccessKeyId"
            case secretAccessKey = "SecretAccessKey"
            case token = "Token"
            case expiration = "Expiration"
        }
    }

    static func decodeTemporary(_ data: Data, source: String) throws -> AWSCredentials {
        let decoded: TemporaryCredentials
        do {
            decoded = try JSONDecoder().decode(TemporaryCredentials.self, from: data)
        } catch {
            throw AWSCredentialsError("\(source) answered something that is not credentials JSON: \(error)")
        }
        let expiration = decoded.expiration.flatMap { RFC3339.dateTime($0) }
        return AWSCredentials(
            accessKeyID: decoded.accessKeyID, secretAccessKey: decoded.secretAccessKey, sessionToken: decoded.token,
            expiration: expiration, source: source)
    }

    func fromContainer() async throws -> AWSCredentials? {
        let url: String
        if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] {
            url = full
        } else if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            url = "http://169.254.170.2\(relative)"
        } else {
            return nil
        }
        var headers: [(String, String)] = []
        if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] { headers.append(("Authorization", token)) }
        return try Self.decodeTemporary(try await fetch("GET", url, headers), source: "container endpoint")
    }

    /// IMDSv2: a session token by PUT, then the role's credentials.
    func fromInstanceMetadata() async throws -> AWSCredentials {
        let base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        let token = String(
            decoding: try await fetch(
                "PUT", "\(base)/latest/api/token", [("X-aws-ec2-metadata-token-ttl-seconds", "21600")]),
            as: UTF8.self)
        let auth = [("X-aws-ec2-metadata-token", token)]
        let roles = String(
            decoding: try await fetch("GET", "\(base)/latest/meta-data/iam/security-credentials/", auth), as: UTF8.self)
        guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
            throw AWSCredentialsError("the instance has no IAM role")
        }
        return try Self.decodeTemporary(
            try await fetch("GET", "\(base)/latest/meta-data/iam/security-credentials/\(role)", auth),
            source: "instance role \(role)")
    }
}
