import Foundation
import Hummingbird
import Registry
import Reports
import SpotwiseCore
import StateStore

/// The dashboard's handlers: each reads what its page shows, then renders it (`?part=...` answers
/// with only the part the page refreshes).
extension Dashboard {
    func parameters(_ request: Request) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in request.uri.queryParameters where values[String(name)] == nil {
            values[String(name)] = String(value)
        }
        return values
    }

    func fragment(_ html: HTML) -> Response { DashboardResponse.page(html) }

    @Sendable func jobs(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("jobs")
        let parameters = parameters(request)
        let query = try JobsPage.Query(parameters)
        let size = JobsPage.pageSize
        let stored: [StoredJob]
        let hasNext: Bool
        if let tag = query.tag {
            // Tags live in the spec: filtered over the newest jobs the API lists (`JobsAPI.listLimit`).
            let matching = try await store.jobs(state: query.state, limit: JobsAPI.listLimit)
                .filter { $0.spec.tags[tag.key] == tag.value }
            stored = Array(matching.dropFirst(query.page * size).prefix(size))
            hasNext = matching.count > (query.page + 1) * size
        } else {
            let fetched = try await store.jobs(state: query.state, limit: size + 1, offset: query.page * size)
            stored = Array(fetched.prefix(size))
            hasNext = fetched.count > size
        }
        let now = clock.now
        let segments = try await store.segments(jobs: stored.map(\.id))
        let rows = stored.map { JobsPage.Row($0, segments: segments[$0.id] ?? [], board: board, now: now) }
        if parameters["part"] == "live" { return fragment(JobsPage.table(rows: rows, query: query, hasNext: hasNext)) }
        return DashboardResponse.page(
            JobsPage.render(
                rows: rows, counts: try await store.countJobsByState(), query: query, hasNext: hasNext,
                viewer: viewer(context)))
    }

    @Sendable func job(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("jobs")
        let id = try jobID(context)
        guard let job = try await store.job(id) else { throw APIError.notFound("no job \(id.rawValue)") }
        let now = clock.now
        let part = parameters(request)["part"]
        if part == "logs" { return fragment(JobPage.logs(try await logTail(id))) }
        let segments = try await store.segments(job: id).sorted { $0.attempt < $1.attempt }
        let byAttempt = Dictionary(segments.map { ($0.attempt, $0) }, uniquingKeysWith: { first, _ in first })
        let ledger = segments.map { LedgerRow(segment: $0, job: job, now: now, next: byAttempt[$0.attempt + 1]) }
        let data = JobPage.Data(
            job: job,
            summary: JobSummary(job, history: try await store.history(id), board: board, segments: segments, now: now),
            segments: segments, ledger: ledger, metrics: try await store.metrics(job: id),
            logs: part == nil ? try await logTail(id) : [], now: now)
        if part == "summary" { return fragment(JobPage.summary(data)) }
        return DashboardResponse.page(JobPage.render(data, viewer: viewer(context)))
    }

    /// The job's newest `JobPage.logTail` lines, in one read.
    func logTail(_ id: JobID) async throws -> [LogLine] {
        try await store.newestLogs(job: id, limit: JobPage.logTail)
    }

    @Sendable func cancel(_ request: Request, context: CoordinatorContext) async throws -> Response {
        _ = try await context.dashboardForm(request, key: key)
        try context.requireAdmin("cancel jobs")
        let id = try jobID(context)
        _ = try await JobsAPI.cancelJob(id, store: store, board: board, clock: clock)
        return DashboardResponse.redirect("/ui/jobs/\(FormBody.encode(id.rawValue))")
    }

    func jobID(_ context: CoordinatorContext) throws -> JobID {
        guard let id = context.parameters.get("id"), !id.isEmpty, id.count <= 100 else {
            throw APIError.badRequest("invalid_id", "a job id is 1-100 characters")
        }
        return JobID(id)
    }

    @Sendable func workers(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("workers")
        let rows = WorkersPage.rows(
            workers: try await store.workers(), leases: try await store.liveLeases(), board: board,
            nowMilliseconds: clock.nowMilliseconds())
        if parameters(request)["part"] == "live" { return fragment(WorkersPage.live(rows)) }
        return DashboardResponse.page(WorkersPage.render(rows, viewer: viewer(context)))
    }

    func savingsReport(_ query: SavingsPage.Query) async throws -> SavingsReport {
        let now = clock.now
        return SavingsReport(
            rows: try await SavingsReport.ledger(from: store, now: now), since: query.since, until: query.until,
            by: query.by, generatedAt: now)
    }

    @Sendable func savings(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("the savings report")
        let query = try SavingsPage.Query(parameters(request))
        return DashboardResponse.page(
            SavingsPage.render(try await savingsReport(query), query: query, viewer: viewer(context)))
    }

    func savingsDownload(_ request: Request, _ context: CoordinatorContext, _ format: String) async throws -> Response {
        try context.requireReader("the savings report")
        let report = try await savingsReport(try SavingsPage.Query(parameters(request)))
        switch format {
        case "csv":
            return DashboardResponse.body(report.csv(), contentType: "text/csv; charset=utf-8", download: "savings.csv")
        case "json":
            let data = try JobSummary.encoder.encode(report)
            return DashboardResponse.body(
                String(decoding: data, as: UTF8.self), contentType: "application/json; charset=utf-8",
                download: "savings.json")
        default:
            // The self-contained report carries its own inline style: it is a file to keep and mail,
            // so it is sent as a download, and the dashboard's policy would block that style.
            var response = DashboardResponse.body(
                report.html(), contentType: "text/html; charset=utf-8", download: "savings.html")
            response.headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
            return response
        }
    }

    @Sendable func models(_ request: Request, context: CoordinatorContext) async throws -> Response {
        try context.requireReader("the model registry")
        return DashboardResponse.page(try await modelsPage(context))
    }

    func modelsPage(_ context: CoordinatorContext) async throws -> HTML {
        let registry = ModelRegistry(store: store)
        var details: [ModelDetail] = []
        for summary in try await registry.list() { details.append(try await registry.detail(summary.model)) }
        return ModelsPage.render(details, viewer: viewer(context))
    }

    @Sendable func promote(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let form = try await context.dashboardForm(request, key: key)
        try context.requireAdmin("move model aliases")
        let model = context.parameters.get("name") ?? ""
        guard let version = form["version"].flatMap({ Int($0) }), version >= 1 else {
            throw APIError.badRequest("invalid_version", "version must be a version number from 1")
        }
        try await ModelsAPI.mapping {
            _ = try await ModelRegistry(store: store).promote(
                model: model, version: version, alias: form["alias"] ?? "", now: clock.now)
        }
        return DashboardResponse.redirect("/ui/models")
    }

    @Sendable func rollback(_ request: Request, context: CoordinatorContext) async throws -> Response {
        let form = try await context.dashboardForm(request, key: key)
        try context.requireAdmin("move model aliases")
        let model = context.parameters.get("name") ?? ""
        try await ModelsAPI.mapping {
            _ = try await ModelRegistry(store: store).rollback(model: model, alias: form["alias"] ?? "", now: clock.now)
        }
        return DashboardResponse.redirect("/ui/models")
    }
}
