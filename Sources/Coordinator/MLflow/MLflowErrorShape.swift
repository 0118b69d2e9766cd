import Foundation
import Hummingbird

/// Errors on MLflow's routes leave in MLflow's shape, `{"error_code": ..., "message": ...}`, with
/// the code MLflow's client expects for the status: it raises `RestException` with that code, and
/// falls back to an older route only on ENDPOINT_NOT_FOUND.
enum MLflowErrorShape {
    static func applies(to path: String) -> Bool {
        path == MLflowAPI.prefix || path.hasPrefix(MLflowAPI.prefix + "/")
    }

    /// MLflow's error code for a status; `routeMatched` false means no route serves this path.
    static func code(for status: HTTPResponse.Status, routeMatched: Bool) -> String {
        switch status.code {
        case 400, 413, 415, 422: "INVALID_PARAMETER_VALUE"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: routeMatched ? "RESOURCE_DOES_NOT_EXIST" : "ENDPOINT_NOT_FOUND"
        case 405: "ENDPOINT_NOT_FOUND"
        case 409: "INVALID_STATE"
        case 429, 503: "TEMPORARILY_UNAVAILABLE"
        default: status.code >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST"
        }
    }

    static func response(for error: APIError, routeMatched: Bool) throws -> Response {
        let body = MLflowWire.ErrorReply(
            errorCode: code(for: error.status, routeMatched: routeMatched), message: error.message)
        return Response(
            status: error.status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try MLflowWire.encoder.encode(body))))
    }
}
