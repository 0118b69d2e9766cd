/// The sign-in form: a token in a password field, sent in a POST body, never in a URL.
enum SignInPage {
    static func render(next: String, error: String?) -> HTML {
        let message: HTML = error.map { "<p class=\"error\" id=\"signin-error\">\($0)</p>" } ?? .empty
        return DashboardLayout.page(
            title: "Sign in", active: nil, viewer: nil,
            content: """
                <div class="signin"><h1>Spotwise</h1>
                <p class="muted">Sign in with the admin token or a read-only token
                (<code>spotwise coordinator</code> wrote them to its state directory: admin.token, readonly.token).</p>
                \(message)
                <form id="signin" method="post" action="/ui/signin">
                <input type="hidden" name="next" value="\(next)">
                <label for="token">Token</label>
                <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
                <button id="signin-button" type="submit">Sign in</button>
                </form></div>
                """)
    }
}
