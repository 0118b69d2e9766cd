import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// How dashboard pages leave the coordinator: HTML with a Content-Security-Policy that allows
/// only the coordinator's own script and stylesheet (no inline script, no other origin), never
/// cached, never framed.
enum DashboardResponse {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func headers(contentType: String) -> HTTPFields {
        [
            .contentType: contentType,
            .contentSecurityPolicy: contentSecurityPolicy,
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "same-origin",
            .cacheControl: "no-store",
        ]
    }

    static func page(_ html: HTML, status: HTTPResponse.Status = .ok) -> Response {
        body(html.description, contentType: "text/html; charset=utf-8", status: status)
    }

    static func body(
        _ text: String, contentType: String, status: HTTPResponse.Status = .ok, download: String? = nil
    ) -> Response {
        var headers = headers(contentType: contentType)
        if let download { headers[.contentDisposition] = "attachment; filename=\"\(download)\"" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 See Other: after a form's POST, the browser GETs `location`.
    static func redirect(_ location: String, setCookie: String? = nil) -> Response {
        var headers = headers(contentType: "text/html; charset=utf-8")
        headers[.location] = location
        if let setCookie { headers[.setCookie] = setCookie }
        return Response(status: .seeOther, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "")))
    }

    /// A form POST that the browser says came from another site: by `Sec-Fetch-Site`, or by an
    /// `Origin` whose host is not the one the request was sent to. Nil when neither says so.
    static func crossSiteRefusal(_ request: Request) -> APIError? {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
            return APIError.forbidden(
                "a dashboard form must be sent from the dashboard itself (Sec-Fetch-Site: \(site))")
        }
        if let origin = request.headers[.origin] {
            let host = URLComponents(string: origin).map { parts in
                (parts.host ?? "") + (parts.port.map { ":\($0)" } ?? "")
            }
            guard let host, !host.isEmpty, host.lowercased() == (request.head.authority ?? "").lowercased() else {
                return APIError.forbidden(
                    "a dashboard form must be sent from the dashboard itself (Origin: \(origin) is not this coordinator)"
                )
            }
        }
        return nil
    }

    /// Whether the browser reached the coordinator over TLS (directly, or through a proxy that
    /// says so): then the session cookie is `Secure`.
    static func overTLS(_ request: Request, secureCookies: Bool) -> Bool {
        secureCookies || request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }
}

/// An `application/x-www-form-urlencoded` body, as the dashboard's forms send it.
enum FormBody {
    /// At most this many bytes: a token, a CSRF value and a few short fields.
    static let maxBytes = 8_192

    static func read(_ request: Request, context: CoordinatorContext) async throws -> [String: String] {
        let body = try await request.body(upTo: maxBytes, context: context, what: "a dashboard form")
        return parse(String(buffer: body))
    }

    /// Fields by name; the first of a repeated name wins; `+` is a space; bad escapes are dropped.
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), !name.isEmpty, fields[name] == nil else { continue }
            fields[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return fields
    }

    static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// A value for a URL's query string or path: everything but ASCII letters, digits and `-._~/`
    /// percent-encoded (so no header or URL carries raw non-ASCII).
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet()
        allowed.insert(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

extension CoordinatorContext {
    /// A dashboard POST: the session's CSRF token must come with the form, and a browser that says
    /// where the request came from must say this site. Then the form's fields.
    func dashboardForm(_ request: Request, key: SymmetricKey) async throws -> [String: String] {
        if let refusal = DashboardResponse.crossSiteRefusal(request) { throw refusal }
        let form = try await FormBody.read(request, context: self)
        guard let session, session.acceptsCSRF(form["csrf"], key: key) else {
            throw APIError.forbidden(
                "this form's CSRF token is missing or not this session's; reload the page and try again")
        }
        return form
    }
}
