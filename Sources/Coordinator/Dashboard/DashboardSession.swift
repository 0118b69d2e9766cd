import Crypto
import Foundation

/// A dashboard session, as its cookie carries it: which kind of user token opened it (a tag of
/// that token's digest, never the token), until when it holds, and a random nonce that the
/// session's CSRF token is derived from. The cookie is signed (HMAC-SHA256) with a key derived
/// from the admin token, so it cannot be forged or edited, and it dies with the token it names.
struct DashboardSession: Sendable, Equatable {
    var tokenTag: String
    var expiresAt: Int64
    var nonce: String

    static let cookieName = "spotwise_session"
    /// Eight hours: a working day, then sign in again.
    static let lifetimeSeconds: Int64 = 8 * 3600

    /// `v1.TAG.EXPIRES.NONCE.MAC`: only characters a cookie value may hold.
    func cookieValue(key: SymmetricKey) -> String {
        let body = "v1.\(tokenTag).\(expiresAt).\(nonce)"
        return body + "." + Self.mac(body, key: key)
    }

    /// The session a cookie value carries, if its signature is this coordinator's and it has not
    /// expired at `now`; nil for anything else (edited, truncated, expired, another key's).
    static func verify(_ value: String, key: SymmetricKey, now: Date) -> DashboardSession? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == "v1", parts[1].count == 32, parts[3].count == 32,
            let expiresAt = Int64(parts[2])
        else { return nil }
        let body = parts[0...3].joined(separator: ".")
        guard AccessTokens.constantTimeEqual(Array(mac(body, key: key).utf8), Array(parts[4].utf8)),
            Int64(now.timeIntervalSince1970) < expiresAt
        else { return nil }
        return DashboardSession(tokenTag: parts[1], expiresAt: expiresAt, nonce: parts[3])
    }

    /// The value every POST form of this session carries; a page from another site cannot know it.
    func csrfToken(key: SymmetricKey) -> String { Self.mac("csrf.\(nonce)", key: key) }

    func acceptsCSRF(_ presented: String?, key: SymmetricKey) -> Bool {
        guard let presented else { return false }
        return AccessTokens.constantTimeEqual(Array(csrfToken(key: key).utf8), Array(presented.utf8))
    }

    static func open(token: String, now: Date) -> DashboardSession {
        DashboardSession(
            tokenTag: AccessTokens.tag(of: token), expiresAt: Int64(now.timeIntervalSince1970) + lifetimeSeconds,
            nonce: AccessTokens.hex((0..<16).map { _ in UInt8.random(in: 0...255) }))
    }

    static func mac(_ text: String, key: SymmetricKey) -> String {
        AccessTokens.hex(Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
    }

    /// The `Set-Cookie` value that stores this session: HttpOnly (no script reads it),
    /// SameSite=Strict (no other site's page sends it), expiring with the session, and Secure
    /// when the coordinator is reached over TLS.
    func setCookie(key: SymmetricKey, secure: Bool) -> String {
        "\(Self.cookieName)=\(cookieValue(key: key)); Path=/; Max-Age=\(Self.lifetimeSeconds); HttpOnly; SameSite=Strict"
            + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that ends the session in the browser.
    static func clearCookie(secure: Bool) -> String {
        "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The session cookie's value among a request's `Cookie` headers.
    static func cookie(in headers: [String]) -> String? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix(cookieName + "=") { return String(trimmed.dropFirst(cookieName.count + 1)) }
            }
        }
        return nil
    }
}
