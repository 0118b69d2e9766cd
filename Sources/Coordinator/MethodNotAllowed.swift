import HTTPTypes
import Hummingbird

/// A request whose path the coordinator serves, with a method it does not serve there, gets 405
/// `method_not_allowed` with an `Allow` header listing the methods it does (RFC 9110, 15.5.6),
/// not the 404 an unknown path gets: `TRACE /health` is 405 with `Allow: GET`.
///
/// It acts only where the router found no route, so it never changes a served route's answer.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = CoordinatorContext

    /// Every route the coordinator serves, as docs/openapi.yaml names them (`GET /v1/jobs/{id}`).
    static let servedRoutes: [String] =
        ["GET /health", "GET /metrics"] + JobsAPI.routes + WorkersAPI.routes + AttemptsAPI.routes
        + ModelsAPI.routes + ReportsAPI.routes + MLflowAPI.routes + Dashboard.routes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = Self.allowedMethods(path: request.uri.path)
            guard !allowed.isEmpty else { throw error }
            let list = allowed.joined(separator: ", ")
            throw HTTPError(
                .methodNotAllowed, headers: [.allow: list],
                message: "\(request.method) is not served on \(request.uri.path); allowed: \(list)")
        }
    }

    /// The methods served on `path`, in the order of `servedRoutes`; empty when no route has it.
    static func allowedMethods(path: String) -> [String] {
        let parts = path.split(separator: "/")
        var methods: [String] = []
        for route in servedRoutes {
            let pieces = route.split(separator: " ", maxSplits: 1)
            guard pieces.count == 2, matches(template: pieces[1], parts: parts) else { continue }
            let method = String(pieces[0])
            if !methods.contains(method) { methods.append(method) }
        }
        return methods
    }

    /// Whether path components match a template such as `/v1/jobs/{id}/logs`, where a `{name}`
    /// component stands for any one non-empty component.
    static func matches(template: Substring, parts: [Substring]) -> Bool {
        let pattern = template.split(separator: "/")
        guard pattern.count == parts.count else { return false }
        return zip(pattern, parts).allSatisfy { expected, actual in
            (expected.hasPrefix("{") && expected.hasSuffix("}")) || expected == actual
        }
    }
}
