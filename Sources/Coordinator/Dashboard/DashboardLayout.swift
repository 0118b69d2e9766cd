import Foundation
import Reports
import SpotwiseCore

/// The frame every dashboard page shares: head (the project's own stylesheet and script, nothing
/// from elsewhere), navigation, who is signed in, and sign-out.
enum DashboardLayout {
    /// Who looks at the page: whether they may change things, and their session's CSRF token.
    struct Viewer: Sendable {
        var isAdmin: Bool
        var csrf: String
    }

    static let sections = [("jobs", "Jobs"), ("workers", "Workers"), ("savings", "Savings"), ("models", "Models")]

    static func page(title: String, active: String?, viewer: Viewer?, content: HTML) -> HTML {
        var nav = HTML.empty
        if let viewer {
            let links = sections.map { id, label in
                let current: HTML = id == active ? " aria-current=\"page\"" : ""
                return "<a id=\"nav-\(id)\" href=\"/ui/\(id)\"\(current)>\(label)</a>" as HTML
            }
            nav = """
                <nav id="nav"><span class="brand">Spotwise</span>\(links)
                <span class="spacer"></span><span id="whoami">\(viewer.isAdmin ? "admin" : "read-only")</span>
                <form id="signout" method="post" action="/ui/signout">\(csrfField(viewer))\
                <button id="signout-button" type="submit">Sign out</button></form></nav>
                """
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Spotwise</title>
            <link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/app.css">
            <script src="/ui/app.js" defer></script></head>
            <body>\(nav)<main>
            \(content)
            </main></body></html>

            """
    }

    static func csrfField(_ viewer: Viewer) -> HTML {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(viewer.csrf)\">"
    }

    /// An error as a page: what went wrong, and the way back.
    static func errorPage(status: Int, message: String) -> HTML {
        page(
            title: "Error \(status)", active: nil, viewer: nil,
            content: """
                <h1>\(status == 404 ? "Not found" : status >= 500 ? "The coordinator failed" : "Refused") (\(status))</h1>
                <p class="error" id="error">\(message)</p>
                <p><a href="/ui/jobs">Back to the jobs</a></p>
                """)
    }

    // MARK: small formatting shared by the pages

    static func money(_ money: Money) -> String {
        let dollars = Double(money.micros) / 1_000_000
        return dollars < 0.01 && dollars > 0 ? String(format: "$%.4f", dollars) : String(format: "$%.2f", dollars)
    }

    static func duration(_ seconds: Double) -> String {
        let value = abs(seconds)
        let text =
            value < 120
            ? "\(Int(value)) s"
            : value < 7200
                ? "\(Int(value / 60)) min"
                : value < 172_800
                    ? String(format: "%.1f h", value / 3600)
                    : String(format: "%.1f d", value / 86400)
        return seconds < 0 ? "-" + text : text
    }

    static func stateChip(_ state: String) -> HTML { "<span class=\"chip state-\(state)\">\(state)</span>" }

    static func tags(_ tags: [String: String]) -> HTML {
        tags.sorted { $0.key < $1.key }.map { "<span class=\"tag\">\($0.key)=\($0.value)</span>" as HTML }.joined()
    }

    /// A time as RFC 3339 text (UTC), as the CLI and the API show it.
    static func time(_ date: Date) -> HTML { "\(SavingsReport.timestamp(date))" }
}
