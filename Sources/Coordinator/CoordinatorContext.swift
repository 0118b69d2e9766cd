import Hummingbird
import SpotwiseCore
import StateStore
import Synchronization

/// The request context of the coordinator: who is calling, once the token was checked.
public struct CoordinatorContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var role: CallerRole?
    /// The dashboard session a browser's cookie carries, once checked (`/ui/` pages only).
    var session: DashboardSession?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.role = nil
        self.session = nil
    }
}

/// Every route but `/health` needs a token. Missing or wrong: 401; a token whose kind may not
/// reach the route (`TokenScope`): 403. Either way the handler never runs.
struct TokenAuthMiddleware: RouterMiddleware {
    typealias Context = CoordinatorContext
    let tokens: AccessTokens
    let store: any StateStore
    /// Worker secrets never change once registered, so their digests are read from the store once.
    let workerDigests: WorkerDigestCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        // The dashboard's pages answer to a session cookie instead (`DashboardSessionMiddleware`).
        if request.uri.path == "/health" || Dashboard.serves(request.uri.path) {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let role = try await role(of: String(header.dropFirst("Bearer ".count)))
        else { throw APIError.unauthorized() }
        if let refusal = TokenScope.refusal(role, method: request.method, path: request.uri.path) { throw refusal }
        var context = context
        context.role = role
        return try await next(request, context)
    }
}

extension TokenAuthMiddleware {
    /// User and bootstrap tokens from `AccessTokens`; worker tokens (`WORKER_ID.SECRET`) against
    /// the stored digest of that worker's secret.
    func role(of token: String) async throws -> CallerRole? {
        if token.hasPrefix(WorkersAPI.workerIDPrefix), let dot = token.firstIndex(of: ".") {
            let id = WorkerID(String(token[..<dot]))
            guard let digest = try await workerDigests.digest(of: id, store: store) else { return nil }
            let presented = Array(AccessTokens.hexDigest(token).utf8)
            return AccessTokens.constantTimeEqual(presented, Array(digest.utf8)) ? .worker(id) : nil
        }
        return tokens.role(of: token)
    }
}

extension CoordinatorContext {
    /// Changes need the admin token; any other gets 403 that says which kind it was.
    func requireAdmin(_ action: String) throws {
        guard role == .admin else {
            let kind = role?.kind ?? "no token"
            let reach = role == .readOnly ? " (it may only read)" : ""
            throw APIError.forbidden("\(kind) cannot \(action)\(reach); that needs the admin token")
        }
    }

    /// Reads need a user token: admin or read-only.
    func requireReader(_ what: String) throws {
        guard role == .admin || role == .readOnly else {
            throw APIError.forbidden(
                "\(role?.kind ?? "no token") cannot read \(what); that needs a user token (admin or read-only)")
        }
    }
}

/// Registered workers' secret digests, read from the store on first use.
final class WorkerDigestCache: Sendable {
    private let digests = Mutex<[WorkerID: String]>([:])

    func digest(of worker: WorkerID, store: any StateStore) async throws -> String? {
        if let known = digests.withLock({ $0[worker] }) { return known }
        guard let record = try await store.worker(worker), record.deregisteredAt == nil else { return nil }
        digests.withLock { $0[worker] = record.secretDigest }
        return record.secretDigest
    }

    /// A deregistered worker's token stops working at once.
    func forget(_ worker: WorkerID) { _ = digests.withLock { $0.removeValue(forKey: worker) } }
}
