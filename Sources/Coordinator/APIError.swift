import Foundation
import Hummingbird

/// An error the API answers with: a status and `{"error": {"code", "message"}}`. Messages say
/// what was wrong and what is allowed; they never echo a token.
public struct APIError: HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String

    public init(_ status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(ErrorBody(error: .init(code: code, message: message)))
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func unauthorized() -> APIError {
        APIError(
            .unauthorized, code: "unauthorized", message: "missing or wrong token; send 'Authorization: Bearer TOKEN'")
    }
    static func forbidden(_ what: String) -> APIError { APIError(.forbidden, code: "forbidden", message: what) }
    static func notFound(_ what: String) -> APIError { APIError(.notFound, code: "not_found", message: what) }
    static func badRequest(_ code: String, _ message: String) -> APIError {
        APIError(.badRequest, code: code, message: message)
    }
    static func conflict(_ code: String, _ message: String) -> APIError {
        APIError(.conflict, code: code, message: message)
    }
}

/// `{"error": {"code", "message"}}`
struct ErrorBody: Codable {
    struct Detail: Codable {
        var code: String
        var message: String
    }
    var error: Detail
}
