import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Testing

@Suite struct MetricsTests {
    @Test func metricsCountJobsHeartbeatsAndLeaseExpiriesAndNeedAToken() async throws {
        let store = InMemoryStateStore()
        let clock = ManualLeaseClock(0)
        let metrics = CoordinatorMetrics()
        let app = Application(
            router: CoordinatorApplication.router(
                store: store, tokens: AccessTokens(admin: "admin", bootstrap: "boot"), settings: .init(),
                clock: SystemClock(lease: clock), metrics: metrics))
        try await app.test(.router) { client in
            let admin: HTTPFields = [.authorization: "Bearer admin"]
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            _ = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: admin, body: ByteBuffer(string: "name: m\nrun: x\n"))
            _ = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: admin, body: ByteBuffer(string: "name: n\nrun: x\n"))
            let response = try await client.execute(uri: "/metrics", method: .get, headers: admin)
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            #expect(text.contains(#"spotwise_jobs{state="queued"} 2"#))
            #expect(text.contains(#"spotwise_jobs{state="running"} 0"#))
            #expect(text.contains("spotwise_heartbeats_total 0"))
            #expect(text.contains("spotwise_http_request_duration_seconds_count"))
        }
        // A lease that runs out is counted.
        let job = try await store.jobs(state: .queued, limit: 1)[0]
        let placed = try JobStateMachine.apply(
            .placed(Placement(provider: .local, region: "l", market: .spot)), to: job.record)
        _ = try await store.update(job.id, expectedVersion: job.version, record: placed.record, events: [], at: Date())
        try await store.grantLease(
            Lease(job: job.id, attempt: 1, epoch: LeaseEpoch(1), workerID: "w", expiresAtMilliseconds: 10))
        clock.advance(milliseconds: 10)
        _ = try await LeaseReconciler(store: store, clock: SystemClock(lease: clock), metrics: metrics).reconcileOnce()
        #expect(metrics.registry.emitToString().contains("spotwise_lease_expiries_total 1"))
    }
}
