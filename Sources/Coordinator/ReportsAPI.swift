import Foundation
import Hummingbird
import Reports
import SpotwiseCore
import StateStore

/// The savings report: `/v1/reports/savings` (JSON, or `format=csv|html`) and `/reports/savings`
/// (the HTML page). Read-only tokens may read it.
public struct ReportsAPI: Sendable {
    let store: any StateStore
    let clock: any CoordinatorClock

    public static let routes = ["GET /v1/reports/savings", "GET /reports/savings"]

    func register(on router: Router<CoordinatorContext>) {
        router.get("v1/reports/savings") { request, context in
            try await respond(request, context, defaultFormat: "json")
        }
        router.get("reports/savings") { request, context in
            try await respond(request, context, defaultFormat: "html")
        }
    }

    /// The query's filters, checked: `since`/`until` as RFC 3339 times or dates, `by` a grouping.
    struct Query {
        var since: Date?
        var until: Date?
        var by: SavingsReport.Grouping = .job
        var format: String

        static let formats = ["json", "csv", "html"]
    }

    func respond(_ request: Request, _ context: CoordinatorContext, defaultFormat: String) async throws -> Response {
        try context.requireReader("the savings report")
        var query = Query(format: defaultFormat)
        let parameters = request.uri.queryParameters
        for name in ["since", "until"] {
            guard let text = parameters[Substring(name)].map(String.init) else { continue }
            guard let time = SavingsReport.time(text) else {
                throw APIError.badRequest(
                    "invalid_\(name)",
                    "\(name) must be an RFC 3339 time (2026-11-30T09:00:00Z, at most 9 fractional digits) or a date (2026-11-30) that exists"
                )
            }
            if name == "since" { query.since = time } else { query.until = time }
        }
        if let text = parameters["by"].map(String.init) {
            guard let grouping = SavingsReport.Grouping(rawValue: text) else {
                throw APIError.badRequest(
                    "invalid_by",
                    "by must be one of \(SavingsReport.Grouping.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.by = grouping
        }
        if let text = parameters["format"].map(String.init) {
            guard Query.formats.contains(text) else {
                throw APIError.badRequest("invalid_format", "format must be one of json, csv, html")
            }
            query.format = text
        }
        let now = clock.now
        let report = SavingsReport(
            rows: try await SavingsReport.ledger(from: store, now: now), since: query.since, until: query.until,
            by: query.by, generatedAt: now)
        switch query.format {
        case "csv":
            return Response(
                status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: report.csv())))
        case "html":
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: report.html())))
        default:
            return try JobsAPI.json(report)
        }
    }
}
