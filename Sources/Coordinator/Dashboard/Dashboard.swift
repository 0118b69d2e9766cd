import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Registry
import Reports
import SpotwiseCore
import StateStore

/// The web dashboard, served by the coordinator under `/ui/`: jobs, a job's attempts, metrics and
/// logs, workers, savings and models. A browser signs in with a user token on a form and gets a
/// session cookie (`DashboardSession`); no token ever travels in a URL, and the cookie opens only
/// these pages, never `/v1`. Read-only sessions see everything and change nothing; admin sessions
/// may cancel a job and move a model alias, each a POST with the session's CSRF token.
public struct Dashboard: Sendable {
    let store: any StateStore
    let tokens: AccessTokens
    let clock: any CoordinatorClock
    let board: LiveBoard
    let secureCookies: Bool
    let signedOut: SignedOutSessions

    init(
        store: any StateStore, tokens: AccessTokens, clock: any CoordinatorClock,
        board: LiveBoard, secureCookies: Bool
    ) {
        self.store = store
        self.tokens = tokens
        self.clock = clock
        self.board = board
        self.secureCookies = secureCookies
        self.signedOut = SignedOutSessions(store: store)
    }

    /// Every route the dashboard serves, in the form `MethodNotAllowedMiddleware` reads.
    public static let routes = [
        "GET /", "GET /ui", "GET /ui/signin", "POST /ui/signin", "POST /ui/signout", "GET /ui/jobs",
        "GET /ui/jobs/{id}",
        "POST /ui/jobs/{id}/cancel", "GET /ui/workers", "GET /ui/savings", "GET /ui/savings.csv",
        "GET /ui/savings.json", "GET /ui/savings.html", "GET /ui/models", "POST /ui/models/{name}/promote",
        "POST /ui/models/{name}/rollback", "GET /ui/app.js", "GET /ui/app.css",
    ]

    /// Paths the token middleware leaves to the dashboard (its session middleware guards them).
    static func serves(_ path: String) -> Bool { path == "/" || path == "/ui" || path.hasPrefix("/ui/") }

    func register(on router: Router<CoordinatorContext>) {
        router.get("/") { _, _ in DashboardResponse.redirect("/ui/jobs") }
        let open = router.group("ui")
        open.get { _, _ in DashboardResponse.redirect("/ui/jobs") }
        open.get("signin", use: signInPage)
        open.post("signin", use: signIn)
        open.get("app.js") { _, _ in DashboardResponse.body(DashboardAssets.script, contentType: "text/javascript") }
        open.get("app.css") { _, _ in DashboardResponse.body(DashboardAssets.stylesheet, contentType: "text/css") }
        let pages = router.group("ui").add(
            middleware: DashboardSessionMiddleware(tokens: tokens, clock: clock, signedOut: signedOut))
        pages.post("signout", use: signOut)
        pages.get("jobs", use: jobs)
        pages.get("jobs/:id", use: job)
        pages.post("jobs/:id/cancel", use: cancel)
        pages.get("workers", use: workers)
        pages.get("savings", use: savings)
        for format in ["csv", "json", "html"] {
            pages.get("savings.\(format)") { request, context in try await savingsDownload(request, context, format) }
        }
        pages.get("models", use: models)
        pages.post("models/:name/promote", use: promote)
        pages.post("models/:name/rollback", use: rollback)
    }

    var key: SymmetricKey { tokens.sessionKey }

    func viewer(_ context: CoordinatorContext) -> DashboardLayout.Viewer {
        DashboardLayout.Viewer(
            isAdmin: context.role == .admin, csrf: context.session?.csrfToken(key: key) ?? "")
    }

    // MARK: sign in and out

    @Sendable func signInPage(_ request: Request, context: CoordinatorContext) async throws -> Response {
        DashboardResponse.page(
            SignInPage.render(next: Self.safeNext(request.uri.queryParameters["next"].map(String.init)), error: nil))
    }

    @Sendable func signIn(_ request: Request, context: CoordinatorContext) async throws -> Response {
        if let refusal = DashboardResponse.crossSiteRefusal(request) { throw refusal }
        let form = try await FormBody.read(request, context: context)
        let next = Self.safeNext(form["next"])
        let token = (form["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        switch tokens.role(of: token) {
        case .admin?, .readOnly?:
            let session = DashboardSession.open(token: token, now: clock.now)
            return DashboardResponse.redirect(
                next,
                setCookie: session.setCookie(
                    key: key, secure: DashboardResponse.overTLS(request, secureCookies: secureCookies)))
        case .bootstrap?, .worker?:
            return DashboardResponse.page(
                SignInPage.render(
                    next: next,
                    error: "that is not a user token: only the admin token and read-only tokens may sign in"),
                status: .forbidden)
        case nil:
            // A worker's token is not among AccessTokens: refuse it the same way, saying why.
            let error =
                token.hasPrefix(WorkersAPI.workerIDPrefix)
                ? "that is not a user token: only the admin token and read-only tokens may sign in"
                : "wrong token: paste the admin token or a read-only token (spotwise coordinator wrote them to its state directory)"
            return DashboardResponse.page(
                SignInPage.render(next: next, error: error),
                status: token.hasPrefix(WorkersAPI.workerIDPrefix) ? .forbidden : .unauthorized)
        }
    }

    @Sendable func signOut(_ request: Request, context: CoordinatorContext) async throws -> Response {
        _ = try await context.dashboardForm(request, key: key)
        if let session = context.session {
            try await signedOut.signOut(session, nowSeconds: Int64(clock.now.timeIntervalSince1970))
        }
        return DashboardResponse.redirect(
            "/ui/signin",
            setCookie: DashboardSession.clearCookie(
                secure: DashboardResponse.overTLS(request, secureCookies: secureCookies)))
    }

    /// Where to go after signing in: a dashboard path only (never another site, never `//host`).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/ui/"), !next.contains("//"), !next.contains("\\"), next.count <= 500,
            !next.hasPrefix("/ui/signin")
        else { return "/ui/jobs" }
        return next
    }
}

/// The dashboard's pages need a session: without a valid one, a browser is sent to sign in
/// (303), and nothing of the page is rendered. A session names its token by a tag of the token's
/// digest; a token the coordinator no longer has ends every session opened with it.
struct DashboardSessionMiddleware: RouterMiddleware {
    typealias Context = CoordinatorContext
    let tokens: AccessTokens
    let clock: any CoordinatorClock
    let signedOut: SignedOutSessions

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let now = clock.now
        guard let value = DashboardSession.cookie(in: request.headers[values: .cookie]),
            let session = DashboardSession.verify(value, key: tokens.sessionKey, now: now),
            try await !signedOut.isSignedOut(session, nowSeconds: Int64(now.timeIntervalSince1970)),
            let role = tokens.userRole(ofTag: session.tokenTag)
        else {
            let target = request.method == .get ? request.uri.description : "/ui/jobs"
            return DashboardResponse.redirect("/ui/signin?next=" + FormBody.encode(Dashboard.safeNext(target)))
        }
        var context = context
        context.role = role
        context.session = session
        return try await next(request, context)
    }
}
