import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import NIOCore
import NIOHTTP1

/// A Google service-account key file (`gcloud iam service-accounts keys create`): the fields the
/// OAuth2 JWT-bearer exchange needs.
public struct GoogleServiceAccountKey: Decodable, Sendable {
    public var type: String
    public var projectID: String?
    public var privateKeyID: String
    public var privateKey: String
    public var clientEmail: String
    public var tokenURI: String

    enum CodingKeys: String, CodingKey {
        case type
        case projectID = "project_id"
        case privateKeyID = "private_key_id"
        case privateKey = "private_key"
        case clientEmail = "client_email"
        case tokenURI = "token_uri"
    }

    public static func load(_ data: Data, from source: String) throws -> GoogleServiceAccountKey {
        let key: GoogleServiceAccountKey
        do {
            key = try JSONDecoder().decode(GoogleServiceAccountKey.self, from: data)
        } catch {
            throw GoogleAuthError(
                "\(source) is not a service-account key file (JSON with client_email, private_key, token_uri): \(error)"
            )
        }
        guard key.type == "service_account" else {
            throw GoogleAuthError("\(source) has type '\(key.type)', not service_account")
        }
        return key
    }
}

public struct GoogleAuthError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// An OAuth2 access token and when it expires.
public struct GoogleAccessToken: Sendable, Equatable {
    public var token: String
    public var expiresAt: Date

    public init(token: String, expiresAt: Date) {
        self.token = token
        self.expiresAt = expiresAt
    }
}

/// The signed JWT a service account trades for an access token (RFC 7523, RS256).
public enum GoogleJWT {
    public static let cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

    public static func assertion(key: GoogleServiceAccountKey, scope: String, now: Date) throws -> String {
        let header = #"{"alg":"RS256","typ":"JWT","kid":"\#(key.privateKeyID)"}"#
        let issued = Int(now.timeIntervalSince1970)
        let claims: [String: Any] = [
            "iss": key.clientEmail, "scope": scope, "aud": key.tokenURI, "iat": issued, "exp": issued + 3_600,
        ]
        let payload = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
        let signingInput = base64URL(Data(header.utf8)) + "." + base64URL(payload)
        let privateKey: _RSA.Signing.PrivateKey
        do {
            privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: key.privateKey)
        } catch {
            throw GoogleAuthError("the service-account key's private_key is not an RSA key in PEM: \(error)")
        }
        let signature = try privateKey.signature(
            for: SHA256.hash(data: Data(signingInput.utf8)), padding: .insecurePKCS1v1_5)
        return signingInput + "." + base64URL(signature.rawRepresentation)
    }

    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decodeBase64URL(_ text: some StringProtocol) -> Data? {
        var base = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base.count % 4 != 0 { base += "=" }
        return Data(base64Encoded: base)
    }
}

/// Where access tokens come from: a service-account key (JWT exchange at its token URI) or the
/// GCE/Vertex metadata server (the VM's or job's service account). Cached until a minute before
/// they expire.
public actor GoogleAccessTokens {
    public enum Source: Sendable {
        case serviceAccount(GoogleServiceAccountKey)
        /// `http://metadata.google.internal` on Google's machines.
        case metadataServer(URL)
    }

    let source: Source
    let http: HTTPClient
    let now: @Sendable () -> Date
    var cached: GoogleAccessToken?

    public init(source: Source, http: HTTPClient = .shared, now: @escaping @Sendable () -> Date = Date.init) {
        self.source = source
        self.http = http
        self.now = now
    }

    public func current() async throws -> String {
        if let cached, cached.expiresAt.timeIntervalSince(now()) > 60 { return cached.token }
        let fresh = try await fetch()
        cached = fresh
        return fresh.token
    }

    struct TokenAnswer: Decodable {
        var accessToken: String
        var expiresIn: Int

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case expiresIn = "expires_in"
        }
    }

    func fetch() async throws -> GoogleAccessToken {
        var request: HTTPClientRequest
        switch source {
        case .serviceAccount(let key):
            let assertion = try GoogleJWT.assertion(key: key, scope: GoogleJWT.cloudPlatformScope, now: now())
            request = HTTPClientRequest(url: key.tokenURI)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)"
            request.body = .bytes(ByteBuffer(string: form))
        case .metadataServer(let base):
            request = HTTPClientRequest(
                url: base.absoluteString + "/computeMetadata/v1/instance/service-accounts/default/token")
            request.headers.add(name: "Metadata-Flavor", value: "Google")
        }
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
        guard response.status == .ok else {
            throw GoogleAuthError(
                "the token exchange answered HTTP \(response.status.code): \(String(decoding: body.prefix(300), as: UTF8.self))"
            )
        }
        let answer: TokenAnswer
        do {
            answer = try JSONDecoder().decode(TokenAnswer.self, from: body)
        } catch {
            throw GoogleAuthError("the token exchange answered no access_token: \(error)")
        }
        return GoogleAccessToken(
            token: answer.accessToken, expiresAt: now().addingTimeInterval(Double(answer.expiresIn)))
    }
}
