import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Synchronization
import Testing

@testable import Coordinator

/// The dashboard in-process: sessions instead of tokens in URLs, who may change what, CSRF,
/// escaping of everything a user or trainer wrote, and no data without a session.
@Suite struct DashboardTests {
    static let admin = "admin-secret"
    static let reader = "reader-secret"
    static let bootstrap = "boot-secret"
    static let hostile = "<script>window.__pwned=1</script><img src=x onerror=\"alert(1)\">'&"
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    struct Harness {
        let store = InMemoryStateStore()
        let clock = ManualTime(date: DashboardTests.start)

        func app() -> some ApplicationProtocol {
            let clock = clock
            return Application(
                router: CoordinatorApplication.router(
                    store: store,
                    tokens: AccessTokens(
                        admin: DashboardTests.admin, readOnly: [DashboardTests.reader],
                        bootstrap: DashboardTests.bootstrap),
                    settings: .init(), clock: clock))
        }

        /// A queued job whose tag value and log line carry markup.
        func hostileJob() async throws -> JobID {
            let spec = try JobSpecParser(now: DashboardTests.start).parse(
                Array("name: digits\nrun: python3 train.py\ntags: {team: vision}\n".utf8), file: "spec"
            ).get()
            var tagged = spec
            tagged.tags["note"] = DashboardTests.hostile
            let (job, _) = try await store.submit(
                JobSubmission(id: JobID("job-1"), spec: tagged, idempotencyKey: nil, submittedAt: DashboardTests.start))
            _ = try await store.appendLogs(
                job: job.id, attempt: 1, lines: [DashboardTests.hostile], at: DashboardTests.start)
            return job.id
        }
    }

    static func form(_ fields: [String: String]) -> ByteBuffer {
        ByteBuffer(
            string: fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(FormBody.encode($0.value))" }.joined(
                separator: "&"))
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// Signs in with `token`; the session cookie (`name=value`) the answer sets.
    static func signIn(_ client: some TestClientProtocol, _ token: String) async throws -> String {
        let response = try await client.execute(
            uri: "/ui/signin", method: .post, headers: formHeaders, body: form(["token": token]))
        #expect(response.status == .seeOther)
        let cookie = try #require(response.headers[.setCookie])
        return String(cookie.split(separator: ";")[0])
    }

    static func csrf(in page: String) throws -> String {
        let marker = "name=\"csrf\" value=\""
        let start = try #require(page.range(of: marker)).upperBound
        return String(page[start...].prefix { $0 != "\"" })
    }

    @Test func pagesWithoutASessionRedirectToSignInAndShowNothing() async throws {
        let harness = Harness()
        _ = try await harness.hostileJob()
        try await harness.app().test(.router) { client in
            for path in ["/ui/jobs", "/ui/jobs/job-1", "/ui/workers", "/ui/savings", "/ui/models", "/ui/savings.csv"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location]?.hasPrefix("/ui/signin?next=") == true)
                #expect(response.body.readableBytes == 0)
            }
            for path in ["/", "/ui", "/ui/"] {
                let root = try await client.execute(uri: path, method: .get)
                #expect(root.status == .seeOther && root.headers[.location] == "/ui/jobs", "\(path)")
            }
            // A forged cookie is no session.
            let forged = try await client.execute(
                uri: "/ui/jobs", method: .get,
                headers: [
                    .cookie:
                        "spotwise_session=v1.\(String(repeating: "a", count: 32)).9999999999.\(String(repeating: "b", count: 32)).00"
                ])
            #expect(forged.status == .seeOther)
        }
    }

    @Test func onlyUserTokensSignInAndTheCookieIsLockedDown() async throws {
        let harness = Harness()
        try await harness.app().test(.router) { client in
            let signedIn = try await client.execute(
                uri: "/ui/signin", method: .post, headers: Self.formHeaders,
                body: Self.form(["token": Self.reader, "next": "/ui/workers"]))
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/ui/workers")
            let cookie = try #require(signedIn.headers[.setCookie])
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
                #expect(cookie.contains(attribute), "\(attribute) in \(cookie)")
            }
            #expect(!cookie.contains("Secure") && !cookie.contains(Self.reader))
            #expect(signedIn.headers[.location]?.contains(Self.reader) == false)

            var behindTLS = Self.formHeaders
            behindTLS[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            let secure = try await client.execute(
                uri: "/ui/signin", method: .post, headers: behindTLS, body: Self.form(["token": Self.admin]))
            #expect(secure.headers[.setCookie]?.contains("; Secure") == true)

            for (token, status) in [
                (Self.bootstrap, HTTPResponse.Status.forbidden), ("worker-1234.abc", .forbidden),
                ("nope", .unauthorized),
            ] {
                let refused = try await client.execute(
                    uri: "/ui/signin", method: .post, headers: Self.formHeaders, body: Self.form(["token": token]))
                #expect(refused.status == status, "\(token)")
                #expect(refused.headers[.setCookie] == nil)
                #expect(String(buffer: refused.body).contains("id=\"signin-error\""))
            }
            // Never back to another site after signing in.
            for next in ["//evil.example/ui/", "https://evil.example", "/v1/jobs", "/ui/..\\x"] {
                let response = try await client.execute(
                    uri: "/ui/signin", method: .post, headers: Self.formHeaders,
                    body: Self.form(["token": Self.reader, "next": next]))
                #expect(response.headers[.location] == "/ui/jobs", "\(next)")
            }
        }
    }

    @Test func theCookieOpensPagesButNeverTheAPI() async throws {
        let harness = Harness()
        _ = try await harness.hostileJob()
        try await harness.app().test(.router) { client in
            let cookie = try await Self.signIn(client, Self.reader)
            let page = try await client.execute(uri: "/ui/jobs", method: .get, headers: [.cookie: cookie])
            #expect(page.status == .ok)
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let html = String(buffer: page.body)
            #expect(html.contains("data-job-id=\"job-1\""))
            #expect(html.contains("id=\"whoami\">read-only<"))
            let api = try await client.execute(uri: "/v1/jobs", method: .get, headers: [.cookie: cookie])
            #expect(api.status == .unauthorized)
        }
    }

    @Test func userTextIsEscapedOnEveryPageThatShowsIt() async throws {
        let harness = Harness()
        let id = try await harness.hostileJob()
        try await harness.app().test(.router) { client in
            let cookie = try await Self.signIn(client, Self.reader)
            for path in ["/ui/jobs", "/ui/jobs/\(id.rawValue)", "/ui/jobs/\(id.rawValue)?part=logs"] {
                let html = String(
                    buffer: try await client.execute(uri: path, method: .get, headers: [.cookie: cookie]).body)
                #expect(!html.contains("<script>window"), "\(path)")
                #expect(!html.contains("<img src=x"), "\(path)")
                #expect(html.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"), "\(path)")
            }
        }
    }

    @Test func readOnlyCannotCancelAndAdminNeedsTheCSRFToken() async throws {
        let harness = Harness()
        let id = try await harness.hostileJob()
        try await harness.app().test(.router) { client in
            let reader = try await Self.signIn(client, Self.reader)
            let readerPage = String(
                buffer: try await client.execute(uri: "/ui/jobs/job-1", method: .get, headers: [.cookie: reader]).body)
            #expect(!readerPage.contains("id=\"cancel\""))
            var headers = Self.formHeaders
            headers[.cookie] = reader
            let forged = try await client.execute(
                uri: "/ui/jobs/job-1/cancel", method: .post, headers: headers,
                body: Self.form(["csrf": try Self.csrf(in: readerPage)]))
            #expect(forged.status == .forbidden)
            #expect(try await harness.store.job(id)?.state == .queued)

            let admin = try await Self.signIn(client, Self.admin)
            headers[.cookie] = admin
            let adminPage = String(
                buffer: try await client.execute(uri: "/ui/jobs/job-1", method: .get, headers: [.cookie: admin]).body)
            #expect(adminPage.contains("id=\"cancel-button\""))
            let withoutToken = try await client.execute(
                uri: "/ui/jobs/job-1/cancel", method: .post, headers: headers, body: Self.form([:]))
            #expect(withoutToken.status == .forbidden)
            // Another session's token is not this session's.
            let otherSession = try await client.execute(
                uri: "/ui/jobs/job-1/cancel", method: .post, headers: headers,
                body: Self.form(["csrf": try Self.csrf(in: readerPage)]))
            #expect(otherSession.status == .forbidden)
            var otherOrigin = headers
            otherOrigin[.origin] = "http://evil.example"
            let fromOtherOrigin = try await client.execute(
                uri: "/ui/jobs/job-1/cancel", method: .post, headers: otherOrigin,
                body: Self.form(["csrf": try Self.csrf(in: adminPage)]))
            #expect(fromOtherOrigin.status == .forbidden)
            var crossSite = headers
            crossSite[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
            let fromElsewhere = try await client.execute(
                uri: "/ui/jobs/job-1/cancel", method: .post, headers: crossSite,
                body: Self.form(["csrf": try Self.csrf(in: adminPage)]))
            #expect(fromElsewhere.status == .forbidden)
            #expect(try await harness.store.job(id)?.state == .queued)

            let cancelled = try await client.execute(
                uri: "/ui/jobs/job-1/cancel", method: .post, headers: headers,
                body: Self.form(["csrf": try Self.csrf(in: adminPage)]))
            #expect(cancelled.status == .seeOther && cancelled.headers[.location] == "/ui/jobs/job-1")
            #expect(try await harness.store.job(id)?.state == .cancelled)
        }
    }

    @Test func aSessionEndsAfterEightHoursAndAtSignOut() async throws {
        let harness = Harness()
        try await harness.app().test(.router) { client in
            let cookie = try await Self.signIn(client, Self.reader)
            harness.clock.advance(milliseconds: (8 * 3600 - 1) * 1000)
            let page = try await client.execute(uri: "/ui/workers", method: .get, headers: [.cookie: cookie])
            #expect(page.status == .ok)
            harness.clock.advance(milliseconds: 1000)
            #expect(
                try await client.execute(uri: "/ui/workers", method: .get, headers: [.cookie: cookie]).status
                    == .seeOther)

            let fresh = try await Self.signIn(client, Self.reader)
            let html = String(
                buffer: try await client.execute(uri: "/ui/workers", method: .get, headers: [.cookie: fresh]).body)
            var headers = Self.formHeaders
            headers[.cookie] = fresh
            let out = try await client.execute(
                uri: "/ui/signout", method: .post, headers: headers, body: Self.form(["csrf": try Self.csrf(in: html)]))
            #expect(out.status == .seeOther && out.headers[.setCookie]?.contains("Max-Age=0") == true)
            // A copy of the cookie kept elsewhere no longer opens anything.
            #expect(
                try await client.execute(uri: "/ui/workers", method: .get, headers: [.cookie: fresh]).status
                    == .seeOther)
        }
        // Nor on another coordinator on the same store (a replica, or this one restarted).
        try await harness.app().test(.router) { client in
            let other = try await Self.signIn(client, Self.reader)
            #expect(
                try await client.execute(uri: "/ui/workers", method: .get, headers: [.cookie: other]).status == .ok)
            let html = String(
                buffer: try await client.execute(uri: "/ui/workers", method: .get, headers: [.cookie: other]).body)
            var headers = Self.formHeaders
            headers[.cookie] = other
            _ = try await client.execute(
                uri: "/ui/signout", method: .post, headers: headers, body: Self.form(["csrf": try Self.csrf(in: html)]))
            try await harness.app().test(.router) { replica in
                let page = try await replica.execute(uri: "/ui/workers", method: .get, headers: [.cookie: other])
                #expect(page.status == .seeOther)
            }
        }
    }

    /// Sign-outs are kept in the database: every store records them and forgets expired ones.
    @Test func signOutsAreKeptInTheStore() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("signout-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let sqlite = try await SQLStateStore.openSQLite(path: path)
        try await sqlite.migrate()
        for store in [InMemoryStateStore(), sqlite] as [any StateStore] { try await Self.keepsSignOuts(store) }
        try await sqlite.close()
    }

    static func keepsSignOuts(_ store: any StateStore) async throws {
        do {
            #expect(try await store.isSignedOut(session: "n1") == false)
            try await store.recordSignOut(session: "n1", expiresAtSeconds: 100, nowSeconds: 10)
            try await store.recordSignOut(session: "n1", expiresAtSeconds: 100, nowSeconds: 10)  // twice: no error
            #expect(try await store.isSignedOut(session: "n1"))
            // Once it would have expired anyway, the next sign-out drops it.
            try await store.recordSignOut(session: "n2", expiresAtSeconds: 300, nowSeconds: 100)
            let (first, second) = (
                try await store.isSignedOut(session: "n1"), try await store.isSignedOut(session: "n2")
            )
            #expect(!first && second)
        }
    }

    @Test func aTamperedOrForeignCookieIsNoSession() throws {
        let tokens = AccessTokens(admin: Self.admin, readOnly: [Self.reader])
        let session = DashboardSession.open(token: Self.reader, now: Self.start)
        let value = session.cookieValue(key: tokens.sessionKey)
        #expect(DashboardSession.verify(value, key: tokens.sessionKey, now: Self.start) == session)
        #expect(tokens.userRole(ofTag: session.tokenTag) == .readOnly)
        for index in value.indices where value[index] != "." {
            var edited = value
            edited.replaceSubrange(index...index, with: value[index] == "0" ? "1" : "0")
            #expect(DashboardSession.verify(edited, key: tokens.sessionKey, now: Self.start) == nil)
        }
        let otherCoordinator = AccessTokens(admin: "another-admin", readOnly: [Self.reader])
        #expect(DashboardSession.verify(value, key: otherCoordinator.sessionKey, now: Self.start) == nil)
        // Worker and bootstrap tokens never name a session's role.
        let boot = DashboardSession.open(token: Self.bootstrap, now: Self.start)
        #expect(AccessTokens(admin: Self.admin, bootstrap: Self.bootstrap).userRole(ofTag: boot.tokenTag) == nil)
    }

    @Test func htmlInterpolationEscapesEveryMarkupCharacter() {
        let text = "<a href='x'>\"&\"</a>"
        let html: HTML = "<p title=\"\(text)\">\(text)</p>"
        #expect(
            html.description
                == "<p title=\"&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;\">&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;</p>"
        )
        // A quote followed by a combining mark is one Character, but still a quote byte.
        let combined = ("\(String("\"\u{301} autofocus x=\u{301}'"))" as HTML).description
        #expect(!combined.utf8.contains(0x22) && !combined.utf8.contains(0x27))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let random = String((0..<20).map { _ in "<>&\"'ab/=".randomElement(using: &generator)! })
            let escaped = ("\(random)" as HTML).description
            #expect(
                !escaped.contains("<") && !escaped.contains(">") && !escaped.contains("\"") && !escaped.contains("'"))
        }
    }
}

@Suite(.needsPostgres) struct DashboardSignOutsOnPostgres {
    @Test func signOutsAreKeptInPostgres() async throws {
        try await CoordinatorInvariantTests.Backend.withFreshPostgres(DashboardTests.keepsSignOuts)
    }
}
