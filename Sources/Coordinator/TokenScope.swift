import HTTPTypes
import SpotwiseCore

/// What each kind of token may reach, decided from the method and path before any route runs,
/// so a route added later is closed to bootstrap and worker tokens until it is listed here:
///
/// - the bootstrap token registers a worker (`POST /v1/workers`) and does nothing else;
/// - a worker's token reaches its own worker routes (`/v1/workers/ITS_ID/...`) and attempt
///   writes (`POST /v1/jobs/{id}/attempts/{n}/...`), which the route fences to the attempts
///   leased to that worker;
/// - admin and read-only tokens go on to the route, which allows reads to both and changes to admin.
enum TokenScope {
    /// The kinds of route, as far as tokens are concerned.
    enum Route: Equatable {
        case registration
        /// `DELETE /v1/workers/{id}`, `POST /v1/workers/{id}/heartbeat` and `.../assignment`.
        case worker(WorkerID)
        /// A worker's write about an attempt it holds.
        case attemptWrite
        /// Everything else: the users' API.
        case user(write: Bool)
    }

    static let workerActions: Set<String> = ["heartbeat", "assignment"]
    static let attemptWrites: Set<String> = ["checkpoints", "finish", "logs", "metrics"]

    static func route(method: HTTPRequest.Method, path: String) -> Route {
        let parts = path.split(separator: "/").map(String.init)
        if parts == ["v1", "workers"], method == .post { return .registration }
        if parts.count >= 3, parts[0] == "v1", parts[1] == "workers",
            (parts.count == 3 && method == .delete)
                || (parts.count == 4 && method == .post && workerActions.contains(parts[3]))
        {
            return .worker(WorkerID(parts[2]))
        }
        if method == .post, parts.count == 6, parts[0] == "v1", parts[1] == "jobs", parts[3] == "attempts",
            attemptWrites.contains(parts[5])
        {
            return .attemptWrite
        }
        return .user(write: !(method == .get || method == .head))
    }

    /// nil when `role` may go on to the route (which checks further); else the 403 to answer.
    static func refusal(_ role: CallerRole, method: HTTPRequest.Method, path: String) -> APIError? {
        let route = route(method: method, path: path)
        let request = "\(method.rawValue) \(path)"
        switch role {
        case .admin, .readOnly:
            return nil
        case .bootstrap:
            guard route != .registration else { return nil }
            return APIError.forbidden(
                "the bootstrap token may only register a worker (POST /v1/workers); \(request) needs \(needed(route))")
        case .worker(let id):
            switch route {
            case .worker(id), .attemptWrite: return nil
            case .worker(let other):
                return APIError.forbidden(
                    "a worker token reaches only its own worker's routes: \(id) may not act for \(other)")
            default:
                return APIError.forbidden(
                    "a worker token (\(id)) may only reach its own worker routes (/v1/workers/\(id)/...) and the attempts leased to it; \(request) needs \(needed(route))"
                )
            }
        }
    }

    /// Which token a route needs, for refusals.
    static func needed(_ route: Route) -> String {
        switch route {
        case .registration: "the bootstrap token"
        case .worker(let id): "worker \(id)'s own token"
        case .attemptWrite: "the token of the worker the attempt is leased to"
        case .user(write: true): "the admin token"
        case .user(write: false): "a user token (admin or read-only)"
        }
    }
}

extension CallerRole {
    /// The kind of token, as refusals name it.
    var kind: String {
        switch self {
        case .admin: "the admin token"
        case .readOnly: "a read-only token"
        case .bootstrap: "the bootstrap token"
        case .worker(let id): "a worker token (\(id))"
        }
    }
}
