import Coordinator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A time with 35 fractional digits killed the coordinator (SIGFPE inside ICU's date parser):
/// a read-only token's `since=` on the savings report, or an admin's spec deadline. Both are now
/// a 400 that says what is allowed, and the coordinator serves on.
extension AttemptLifecycleTests {
    static let icuCrash = "2026-12-02T10:00:00.11111111111111111111111111111111111Z"

    @Test func aTimeWithManyFractionalDigitsIs400NotACrash() async throws {
        try await app().test(.router) { client in
            for route in ["/v1/reports/savings", "/reports/savings"] {
                let report = try await client.execute(
                    uri: "\(route)?since=\(Self.icuCrash)", method: .get, headers: Self.bearer(Self.reader))
                #expect(report.status == .badRequest, "\(route)")
                #expect(String(buffer: report.body).contains("since"))
            }
            let spec = "name: late\nrun: python3 train.py\ndeadline: \"\(Self.icuCrash)\"\n"
            let submitted = try await post(client, "/v1/jobs", token: Self.admin, spec)
            #expect(submitted.status == .badRequest)
            #expect(String(buffer: submitted.body).contains("deadline"))
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
        }
    }
}
