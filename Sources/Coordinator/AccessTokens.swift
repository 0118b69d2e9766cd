import Crypto
import Foundation
import SpotwiseCore

/// Who is calling: an operator with the admin token, or a cost owner with a read-only token.
public enum CallerRole: Sendable, Hashable {
    case admin
    case readOnly
    /// Holds the bootstrap token: may register workers, nothing else.
    case bootstrap
    /// A registered worker, by id.
    case worker(WorkerID)
}

/// User tokens, kept only as SHA-256 digests and compared in constant time, so neither a memory
/// dump nor response timing gives a token away.
public struct AccessTokens: Sendable {
    private var digests: [(digest: [UInt8], role: CallerRole)] = []
    /// The key that signs dashboard sessions: derived from the admin token, so every coordinator
    /// started with the same tokens accepts the same sessions, and a new admin token ends them all.
    let sessionKey: SymmetricKey

    public init(admin: String, readOnly: [String] = [], bootstrap: String? = nil) {
        sessionKey = SymmetricKey(
            data: HMAC<SHA256>.authenticationCode(
                for: Data("spotwise dashboard sessions v1".utf8), using: SymmetricKey(data: Self.digest(admin))))
        digests.append((Self.digest(admin), .admin))
        for token in readOnly { digests.append((Self.digest(token), .readOnly)) }
        if let bootstrap { digests.append((Self.digest(bootstrap), .bootstrap)) }
    }

    static func digest(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }

    /// Hex SHA-256, the form worker secrets are stored in.
    public static func hexDigest(_ token: String) -> String {
        hex(digest(token))
    }

    /// The role of a presented token, or nil. Every stored digest is compared, in constant time.
    public func role(of token: String) -> CallerRole? {
        let presented = Self.digest(token)
        var found: CallerRole?
        for entry in digests where Self.constantTimeEqual(entry.digest, presented) && found == nil {
            found = entry.role
        }
        return found
    }

    /// The tag a dashboard session keeps of the token it was opened with: the first 16 bytes of its
    /// digest, hex. Not the token, and not enough of its digest to stand in for it anywhere.
    static func tag(of token: String) -> String { hex(Array(digest(token).prefix(16))) }

    /// The user role (admin or read-only) of the token a session's tag names, if it is still one
    /// of this coordinator's tokens; compared in constant time against every stored digest.
    func userRole(ofTag tag: String) -> CallerRole? {
        let presented = Array(tag.utf8)
        var found: CallerRole?
        for entry in digests where entry.role == .admin || entry.role == .readOnly {
            if Self.constantTimeEqual(Array(Self.hex(Array(entry.digest.prefix(16))).utf8), presented), found == nil {
                found = entry.role
            }
        }
        return found
    }

    /// Lowercase hex, two digits a byte. (Every worker request hashes its token and compares the
    /// hex: `String(format:)` per byte cost more than the rest of the check.)
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// A new random token: 32 bytes, URL-safe base64.
    /// 32 random bytes, base64url without padding; never beginning with '-' or '_' (a token that
    /// begins with '-' reads as an option on a command line: one in 64 did).
    public static func generate() -> String {
        while true {
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
            let token = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            if let first = token.first, first.isLetter || first.isNumber { return token }
        }
    }
}
