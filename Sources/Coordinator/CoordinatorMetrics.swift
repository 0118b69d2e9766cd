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
    let schedulingPasses: Counter
    let jobsByState: [JobState: Gauge]
    let requestDuration: DurationHistogram
    let leading: Gauge
    let leadershipEpoch: Gauge

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        heartbeats = registry.makeCounter(
            descriptor: Self.name("spotwise_heartbeats", "total", help: "Heartbeats accepted."))
        staleHeartbeats = registry.makeCounter(
            descriptor: Self.name("spotwise_stale_heartbeats", "total", help: "Heartbeats refused for a stale epoch."))
        interruptionNotices = registry.makeCounter(
            descriptor: Self.name(
                "spotwise_interruption_notices", "total", help: "Heartbeats that reported an interruption notice."))
        leaseExpiries = registry.makeCounter(
            descriptor: Self.name(
                "spotwise_lease_expiries", "total", help: "Attempts ended as lost because their lease ran out."))
        interruptions = registry.makeCounter(
            descriptor: Self.name(
                "spotwise_interruptions", "total", help: "Attempts that ended preempted (with or without notice)."))
        schedulingPasses = registry.makeCounter(
            descriptor: Self.name(
                "spotwise_scheduling_passes", "total",
                help: "Scheduling passes this coordinator ran (a follower replica runs none)."))
        jobsByState = Dictionary(
            uniqueKeysWithValues: JobState.allCases.map { state in
                (
                    state,
                    registry.makeGauge(
                        descriptor: Self.name("spotwise_jobs", "", help: "Jobs by state."),
                        labels: [("state", state.rawValue)])
                )
            })
        leading = registry.makeGauge(
            descriptor: Self.name(
                "spotwise_coordinator_leader", "",
                help:
                    "1 when this coordinator runs scheduling and reconciliation (the leader, or the only one), else 0."
            ))
        leadershipEpoch = registry.makeGauge(
            descriptor: Self.name(
                "spotwise_coordinator_leadership_epoch", "",
                help: "The leadership epoch this replica last saw (0 for a single coordinator)."))
        requestDuration = registry.makeDurationHistogram(
            descriptor: Self.name("spotwise_http_request_duration", "seconds", help: "Time to answer an HTTP request."),
            buckets: [
                .milliseconds(1), .milliseconds(5), .milliseconds(20), .milliseconds(100), .milliseconds(500),
                .seconds(2),
            ])
    }

    /// A metric's name as Prometheus writes it: `metric_unit` (`spotwise_heartbeats_total`).
    static func name(_ metric: String, _ unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: metric, unitName: unit, helpText: help)
    }

    /// Refreshes the job gauges from the store and renders the Prometheus text format.
    func render(store: any StateStore, role: ReplicaRole) async throws -> String {
        leading.set(to: role.acts ? 1 : 0)
        leadershipEpoch.set(to: Double(role.leader?.epoch ?? 0))
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
