import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SpotwiseCore
import Testing

/// Issue 14, items 1 and 2 through the API: specs that were accepted (201) and then took the
/// coordinator down are refused with a JSON error naming the problem, and nothing is stored.
@Suite struct HostileSubmissionTests {
    static func bomb(levels: Int) -> String {
        var lines = ["name: bomb", "run: python3 train.py", "hyperparameters:", "  l0: &l0 [\"lol\"]"]
        for level in 1...levels {
            let items = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",")
            lines.append("  l\(level): &l\(level) [\(items)]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let cases: [(name: String, spec: String, message: String)] = [
        (
            "deadline 10^15 days", "name: far\nrun: python3 train.py\ndeadline: 999999999999999d\n",
            "deadline too far away"
        ),
        (
            "deadline in year 9999", "name: far\nrun: python3 train.py\ndeadline: 9999-12-31T00:00:00Z\n",
            "deadline too far away"
        ),
        ("deadline 365 days", "name: far\nrun: python3 train.py\ndeadline: 365d\n", "deadline too far away"),
        ("alias bomb, 9 levels", bomb(levels: 9), "expands to too many nodes"),
        ("alias bomb, 6 levels", bomb(levels: 6), "expands to too many nodes"),
    ]

    @Test(arguments: cases.indices)
    func aHostileSpecIsRefusedAndNothingIsStored(index: Int) async throws {
        let hostile = Self.cases[index]
        let harness = JobsAPITests.Harness()
        try await harness.app().test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: JobsAPITests.headers(JobsAPITests.admin),
                body: ByteBuffer(string: hostile.spec))
            #expect(response.status == .badRequest, "\(hostile.name)")
            let body = String(buffer: response.body)
            #expect(body.contains(hostile.message), "\(hostile.name): \(body)")
            #expect(try JobsAPITests.errorCode(response) != "(none)")
        }
        #expect(try await harness.store.jobs(state: nil, limit: 10).isEmpty)
    }
}
