import Foundation
import HTTPTypes
import Hummingbird

/// Every error leaves the coordinator as `{"error": {"code", "message"}}`, whatever threw it:
/// an `APIError` as it is; a body over its route's limit as 413 `body_too_large` naming the route
/// and the limit; Hummingbird's own errors (404 for an unknown route) with their status; anything
/// else as 500 `internal_error`, logged with its detail. Under `/api/2.0/mlflow/` the same errors
/// take MLflow's shape (`MLflowErrorShape`); under `/ui/` they are pages for the browser. Without
/// this, the last two left as an empty body the CLI could only print as
/// `error:  (http_error, HTTP 500)`.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = CoordinatorContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.rendered(for: request, context: context)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge && !(error is HTTPError) {
            // A route that collected its body without `Request.body(upTo:context:)`; NIO's error
            // does not carry the route's limit.
            return try APIError(
                .contentTooLarge, code: "body_too_large",
                message: "the body of \(Self.route(of: request, context: context)) is over its size limit"
            ).rendered(for: request, context: context)
        } catch let error as HTTPError {
            var response = try APIError(
                error.status, code: Self.code(for: error.status),
                message: error.body ?? "\(error.status.reasonPhrase): \(request.method) \(request.uri.path)"
            ).rendered(for: request, context: context)
            response.headers.append(contentsOf: error.headers.filter { $0.name != .contentType })
            return response
        } catch let error as any HTTPResponseError {
            return try APIError(
                error.status, code: Self.code(for: error.status),
                message: "\(error.status.reasonPhrase): \(request.method) \(request.uri.path)"
            ).rendered(for: request, context: context)
        } catch {
            // The detail goes to the log, not the caller: it may name tables, paths or hosts.
            let route = Self.route(of: request, context: context)
            context.logger.error("\(route) failed: \(String(reflecting: error))")
            return try APIError(
                .internalServerError, code: "internal_error",
                message:
                    "the coordinator failed to serve \(route) (\(type(of: error))); its log has the detail. Retry, or report it if it persists"
            ).rendered(for: request, context: context)
        }
    }

    /// The error's body in the shape of its route's API: MLflow's under `/api/2.0/mlflow/`,
    /// Spotwise's everywhere else.
    static func render(_ error: APIError, for request: Request, context: Context) throws -> Response {
        if Dashboard.serves(request.uri.path) {
            // A browser's page: the error as a page, with the dashboard's headers.
            return DashboardResponse.page(
                DashboardLayout.errorPage(status: Int(error.status.code), message: error.message), status: error.status)
        }
        guard MLflowErrorShape.applies(to: request.uri.path) else {
            return try error.response(from: request, context: context)
        }
        let served = !MethodNotAllowedMiddleware.allowedMethods(path: request.uri.path).isEmpty
        return try MLflowErrorShape.response(for: error, routeMatched: served)
    }

    /// The route as the API document names it (`POST /v1/workers/{id}/heartbeat`), or the path
    /// when no route matched.
    static func route(of request: Request, context: Context) -> String {
        guard let template = context.endpointPath else { return "\(request.method) \(request.uri.path)" }
        let path = template.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
        return "\(request.method) \(path)"
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .badRequest: "bad_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .contentTooLarge: "body_too_large"
        case .unsupportedMediaType: "unsupported_media_type"
        default: status.code >= 500 ? "internal_error" : "http_\(status.code)"
        }
    }
}

extension APIError {
    fileprivate func rendered(for request: Request, context: CoordinatorContext) throws -> Response {
        try JSONErrorMiddleware.render(self, for: request, context: context)
    }
}
