import Hummingbird

/// The request context of the coordinator: who is calling, once the token was checked.
public struct CoordinatorContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var role: CallerRole?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.role = nil
    }
}

/// Every route but `/health` needs a token. Missing or wrong: 401, and the handler never runs.
struct TokenAuthMiddleware: RouterMiddleware {
    typealias Context = CoordinatorContext
    let tokens: AccessTokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if request.uri.path == "/health" { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let role = tokens.role(of: String(header.dropFirst("Bearer ".count)))
        else { throw APIError.unauthorized() }
        var context = context
        context.role = role
        return try await next(request, context)
    }
}

extension CoordinatorContext {
    /// Changes need the admin token; a read-only token gets 403.
    func requireAdmin(_ action: String) throws {
        guard role == .admin else { throw APIError.forbidden("a read-only token cannot \(action)") }
    }
}
