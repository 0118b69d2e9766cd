import Hummingbird
import Prometheus
import SpotwiseCore
import StateStore

/// The coordinator's Prometheus metrics, served at `/metrics` (with a token, like every route but
/// `/health`). One registry per application, so tests and several coordinators in one process do
/// not share counters.
public final class CoordinatorMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let heartbeats: Counter
    let staleHeartbeats: Counter
    let interruptionNotices: Counter
    let leaseExpiries: Counter
    let interruptions: Counter
    let jobsByState: [JobState: Gauge]
    let requestDuration: DurationHistogram

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        heartbeats = registry.makeCounter(name: "spotwise_heartbeats_total", help: "Heartbeats accepted.")
        staleHeartbeats = registry.makeCounter(
            name: "spotwise_stale_heartbeats_total", help: "Heartbeats refused for a stale epoch.")
        interruptionNotices = registry.makeCounter(
            name: "spotwise_interruption_notices_total", help: "Heartbeats that reported an interruption notice.")
        leaseExpiries = registry.makeCounter(
            name: "spotwise_lease_expiries_total", help: "Attempts ended as lost because their lease ran out.")
        interruptions = registry.makeCounter(
            name: "spotwise_interruptions_total", help: "Attempts that ended preempted (with or without notice).")
        jobsByState = Dictionary(
            uniqueKeysWithValues: JobState.allCases.map { state in
                (
                    state,
                    registry.makeGauge(
                        name: "spotwise_jobs", labels: [("state", state.rawValue)], help: "Jobs by state.")
                )
            })
        requestDuration = registry.makeDurationHistogram(
            name: "spotwise_http_request_duration_seconds",
            buckets: [
                .milliseconds(1), .milliseconds(5), .milliseconds(20), .milliseconds(100), .milliseconds(500),
                .seconds(2),
            ],
            help: "Time to answer an HTTP request.")
    }

    /// Refreshes the job gauges from the store and renders the Prometheus text format.
    func render(store: any StateStore) async throws -> String {
        let counts = try await store.countJobsByState()
        for (state, gauge) in jobsByState { gauge.set(to: Double(counts[state] ?? 0)) }
        return registry.emitToString()
    }
}

/// Times every request into `spotwise_http_request_duration_seconds`.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = CoordinatorContext
    let metrics: CoordinatorMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        defer { metrics.requestDuration.record(ContinuousClock.now - start) }
        return try await next(request, context)
    }
}
