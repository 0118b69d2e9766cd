import Crypto
import Foundation

/// AWS Signature Version 4 (header form), written once for every AWS call Spotwise makes (S3,
/// SageMaker). Pure: given a request, credentials and a time, the headers to add. Checked against
/// the published vectors of AWS's SigV4 test suite and the S3 developer guide.
public struct AWSSigner: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// What gets signed. `path` is the decoded path (`/bucket/a b.txt`); the signer encodes it.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [(String, String)]
        public var headers: [(String, String)]
        /// Hex SHA-256 of the body (`UNSIGNED-PAYLOAD` is allowed by S3 only).
        public var payloadHash: String

        public init(
            method: String, path: String, query: [(String, String)] = [], headers: [(String, String)],
            payloadHash: String
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// `20150830T123600Z`.
    public static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    // MARK: The four stages

    /// The canonical URI: every path segment URI-encoded (S3: once, unnormalized; every other
    /// service: twice, as the SigV4 rules say).
    public func canonicalURI(_ path: String) -> String {
        let once = Self.encode(path, keepSlash: true)
        return service == "s3" ? once : Self.encode(once, keepSlash: true)
    }

    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(key: String, value: String)] = query.map { pair in
            (encode(pair.0, keepSlash: false), encode(pair.1, keepSlash: false))
        }
        let sorted = encoded.sorted { a, b in a.key == b.key ? a.value < b.value : a.key < b.key }
        return sorted.map { pair in pair.key + "=" + pair.value }.joined(separator: "&")
    }

    /// Lowercased names, sorted; values trimmed with inner runs of spaces collapsed; repeated
    /// names joined by commas.
    public static func canonicalHeaders(_ headers: [(String, String)]) -> (text: String, signed: String) {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            let collapsed = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            merged[name.lowercased(), default: []].append(collapsed)
        }
        let names = merged.keys.sorted()
        let text = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        return (text, names.joined(separator: ";"))
    }

    public func canonicalRequest(_ request: Request) -> (text: String, signedHeaders: String) {
        let headers = Self.canonicalHeaders(request.headers)
        let text = [
            request.method, canonicalURI(request.path), Self.canonicalQuery(request.query), headers.text,
            headers.signed, request.payloadHash,
        ].joined(separator: "\n")
        return (text, headers.signed)
    }

    public func scope(amzDate: String) -> String { "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request" }

    public func stringToSign(canonicalRequest: String, amzDate: String) -> String {
        let hash = Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))
        return "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope(amzDate: amzDate))\n\(hash)"
    }

    public func signingKey(dateStamp: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [dateStamp, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    public func signature(stringToSign: String, amzDate: String) -> String {
        let key = signingKey(dateStamp: String(amzDate.prefix(8)))
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// The `Authorization` header value for `request`, whose headers must already hold `host` and
    /// `x-amz-date` (and `x-amz-security-token` with temporary credentials).
    public func authorization(_ request: Request, amzDate: String) -> String {
        let (canonical, signed) = canonicalRequest(request)
        let signature = signature(
            stringToSign: stringToSign(canonicalRequest: canonical, amzDate: amzDate), amzDate: amzDate)
        return
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(amzDate: amzDate)), SignedHeaders=\(signed), Signature=\(signature)"
    }

    /// Adds `x-amz-date`, `x-amz-security-token` (temporary credentials), `x-amz-content-sha256`
    /// (S3) and `Authorization` to `request`'s headers, signing them all.
    public func signedHeaders(_ request: Request, at date: Date) -> [(String, String)] {
        var request = request
        let amzDate = Self.amzDate(date)
        request.headers.append(("x-amz-date", amzDate))
        if let token = credentials.sessionToken { request.headers.append(("x-amz-security-token", token)) }
        if service == "s3" { request.headers.append(("x-amz-content-sha256", request.payloadHash)) }
        return request.headers + [("Authorization", authorization(request, amzDate: amzDate))]
    }

    // MARK: Encoding

    static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8)

    /// RFC 3986 percent-encoding of everything outside the unreserved set (uppercase hex), `/`
    /// kept in paths.
    public static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    public static func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }
}
