import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// What kind of failure a cloud call had, for retry budgets and the spot policy: capacity (no spot
/// or GPU capacity now: try elsewhere or later), throttled (retried here with backoff), credentials
/// (expired or wrong: a person must act), user (the request is wrong: do not retry) or
/// infrastructure (5xx, a dropped connection: retried).
public enum CloudErrorKind: String, Sendable, Hashable, Codable {
    case capacity, throttled, credentials, user, infrastructure
}

/// An AWS error answer: HTTP status, AWS's code and message, classified.
public struct AWSError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var kind: CloudErrorKind

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
        self.kind = Self.classify(status: status, code: code)
    }

    public var description: String { "\(code): \(message) (HTTP \(status), \(kind.rawValue))" }

    /// The service's answer that the named resource does not exist. SageMaker's Describe calls
    /// answer it as a `ValidationException` ("Requested resource not found."; moto: "Could not
    /// find training job ..."), not as `ResourceNotFound` (aws/aws-sdk#165); both are read so.
    public var meansNotFound: Bool {
        if code == "ResourceNotFound" || code == "ResourceNotFoundException" { return true }
        guard code == "ValidationException" else { return false }
        return message.localizedCaseInsensitiveContains("not found")
            || message.localizedCaseInsensitiveContains("could not find")
    }

    static let throttling: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "SlowDown",
        "TooManyRequestsException", "RequestLimitExceeded", "ProvisionedThroughputExceededException",
        "RequestThrottled", "BandwidthLimitExceeded", "PriorRequestNotComplete",
    ]
    static let capacity: Set<String> = [
        "ResourceLimitExceeded", "CapacityError", "InsufficientInstanceCapacity", "InsufficientCapacity",
        "InsufficientCapacityError", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded",
    ]
    static let credentials: Set<String> = [
        "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch",
        "UnrecognizedClientException", "InvalidAccessKeyId", "AccessDenied", "AccessDeniedException",
        "RequestExpired", "IncompleteSignature", "MissingAuthenticationToken",
    ]

    public static func classify(status: Int, code: String) -> CloudErrorKind {
        if throttling.contains(code) || status == 429 { return .throttled }
        if capacity.contains(code) { return .capacity }
        if credentials.contains(code) || status == 401 || status == 403 { return .credentials }
        if status >= 500 || code == "InternalError" || code == "InternalFailure" || code == "ServiceUnavailable" {
            return .infrastructure
        }
        return .user
    }

    /// Parses an error body: S3's XML (`<Error><Code>..</Code><Message>..</Message>`) or the JSON
    /// protocols' `{"__type": "ns#Code", "message": ".."}` (or the `x-amzn-ErrorType` header).
    public static func parse(status: Int, headers: [(String, String)], body: Data) -> AWSError {
        let text = String(decoding: body, as: UTF8.self)
        if let code = XMLTags.first("Code", in: text) {
            return AWSError(status: status, code: code, message: XMLTags.first("Message", in: text) ?? "")
        }
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            let type = (object["__type"] as? String) ?? (object["code"] as? String) ?? ""
            let message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
            if !type.isEmpty { return AWSError(status: status, code: Self.shortCode(type), message: message) }
        }
        if let header = headers.first(where: { $0.0.lowercased() == "x-amzn-errortype" })?.1 {
            return AWSError(status: status, code: shortCode(header), message: String(text.prefix(300)))
        }
        return AWSError(status: status, code: "HTTP\(status)", message: String(text.prefix(300)))
    }

    /// `com.amazonaws.sagemaker#ResourceLimitExceeded:http://...` -> `ResourceLimitExceeded`.
    static func shortCode(_ type: String) -> String {
        let afterHash = type.split(separator: "#").last.map(String.init) ?? type
        return afterHash.split(separator: ":").first.map(String.init) ?? afterHash
    }
}

/// Reads `<Tag>value</Tag>` from the few small XML answers S3 gives (list, multipart, errors),
/// without an XML library (FoundationXML would add libxml2 to the static binary).
public enum XMLTags {
    public static func all(_ tag: String, in text: String) -> [String] {
        var values: [String] = []
        var rest = text[...]
        let open = "<\(tag)>"
        let close = "</\(tag)>"
        while let start = rest.range(of: open), let end = rest.range(of: close, range: start.upperBound..<rest.endIndex)
        {
            values.append(unescape(String(rest[start.upperBound..<end.lowerBound])))
            rest = rest[end.upperBound...]
        }
        return values
    }

    public static func first(_ tag: String, in text: String) -> String? { all(tag, in: text).first }

    public static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// Signs and sends AWS requests (AsyncHTTPClient), retrying throttling and infrastructure errors
/// with capped exponential backoff and full jitter. Credentials come from a provider asked per call
/// (so temporary ones are refreshed); sleeping is injected so tests do not wait.
public struct AWSRequestSender: Sendable {
    public var endpoint: URL
    public var region: String
    public var service: String
    public var credentials: @Sendable () async throws -> AWSCredentials
    public var http: HTTPClient
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    public var sleep: @Sendable (Duration) async throws -> Void
    public var now: @Sendable () -> Date

    public init(
        endpoint: URL, region: String, service: String,
        credentials: @escaping @Sendable () async throws -> AWSCredentials, http: HTTPClient = .shared,
        maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(10),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.endpoint = endpoint
        self.region = region
        self.service = service
        self.credentials = credentials
        self.http = http
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.sleep = sleep
        self.now = now
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: Data

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    var hostHeader: String {
        let host = endpoint.host ?? "localhost"
        if let port = endpoint.port, !(endpoint.scheme == "https" && port == 443),
            !(endpoint.scheme == "http" && port == 80)
        {
            return "\(host):\(port)"
        }
        return host
    }

    /// The request as it goes on the wire, signed at `now()`.
    func prepared(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], body: Data
    ) async throws -> HTTPClientRequest {
        let credentials = try await credentials()
        let signer = AWSSigner(credentials: credentials, region: region, service: service)
        let payloadHash = AWSSigner.sha256Hex(body)
        let signed = signer.signedHeaders(
            AWSSigner.Request(
                method: method, path: path, query: query, headers: headers + [("host", hostHeader)],
                payloadHash: payloadHash), at: now())
        var url = endpoint.absoluteString
        if url.hasSuffix("/") { url.removeLast() }
        url += AWSSigner.encode(path, keepSlash: true)
        let canonicalQuery = AWSSigner.canonicalQuery(query)
        if !canonicalQuery.isEmpty { url += "?" + canonicalQuery }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in signed { request.headers.replaceOrAdd(name: name, value: value) }
        if !body.isEmpty || method == "PUT" || method == "POST" {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    /// Sends with retries; a non-2xx answer that is not retried throws `AWSError`.
    public func send(
        _ method: String, _ path: String, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: Data = Data()
    ) async throws -> Response {
        var attempt = 0
        while true {
            attempt += 1
            let outcome: Result<Response, any Error>
            do {
                let request = try await prepared(method: method, path: path, query: query, headers: headers, body: body)
                let response = try await http.execute(request, timeout: .seconds(120))
                let collected = try await response.body.collect(upTo: 256 << 20)
                let answer = Response(
                    status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                    body: Data(collected.readableBytesView))
                if (200..<300).contains(answer.status) { return answer }
                outcome = .failure(AWSError.parse(status: answer.status, headers: answer.headers, body: answer.body))
            } catch let error as AWSCredentialsError {
                throw error
            } catch {
                outcome = .failure(error)
            }
            guard case .failure(let error) = outcome else { continue }
            let retryable: Bool
            if let aws = error as? AWSError {
                retryable = aws.kind == .throttled || aws.kind == .infrastructure
            } else {
                retryable = true  // the connection failed: infrastructure
            }
            guard retryable, attempt < maxAttempts else { throw error }
            try await sleep(backoff(attempt: attempt))
        }
    }

    /// Full jitter: uniform in [0, min(maxDelay, baseDelay x 2^(attempt-1))].
    public func backoff(attempt: Int) -> Duration {
        let cap = min(maxDelay, baseDelay * (1 << min(20, attempt - 1)))
        let milliseconds = Int64(cap.components.seconds * 1000 + cap.components.attoseconds / 1_000_000_000_000_000)
        return .milliseconds(Int64.random(in: 0...max(0, milliseconds)))
    }

    /// GET streamed into `file`, hashing as it goes: returns the size and the hex SHA-256.
    public func download(_ path: String, to file: URL?) async throws -> (bytes: Int64, sha256: String) {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await downloadOnce(path, to: file)
            } catch let error as AWSError where error.kind == .throttled || error.kind == .infrastructure {
                guard attempt < maxAttempts else { throw error }
                try await sleep(backoff(attempt: attempt))
            }
        }
    }

    func downloadOnce(_ path: String, to file: URL?) async throws -> (bytes: Int64, sha256: String) {
        let request = try await prepared(method: "GET", path: path, query: [], headers: [], body: Data())
        let response = try await http.execute(request, timeout: .seconds(600))
        guard (200..<300).contains(Int(response.status.code)) else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw AWSError.parse(
                status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                body: Data(body.readableBytesView))
        }
        var handle: FileHandle?
        if let file {
            _ = FileManager.default.createFile(atPath: file.path, contents: nil)
            handle = try FileHandle(forWritingTo: file)
        }
        defer { try? handle?.close() }
        var hasher = StreamingSHA256()
        var bytes: Int64 = 0
        for try await chunk in response.body {
            let data = Data(chunk.readableBytesView)
            hasher.update(data)
            bytes += Int64(data.count)
            try handle?.write(contentsOf: data)
        }
        return (bytes, hasher.finalizeHex())
    }
}
