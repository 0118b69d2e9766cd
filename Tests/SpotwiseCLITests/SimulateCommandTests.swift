import Foundation
import SpotPolicy
import Testing

@testable import SpotwiseCLI

@Suite struct SimulateCommandTests {
    func trace(_ name: String, data: [Int]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).json")
        let json =
            #"{"metadata": {"gap_seconds": 600, "zone": "\#(name)", "price_info": {"price": 2, "on_demand_price": 10}}, "data": \#(data)}"#
        try json.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func jsonOutputHasEveryPolicyWithItsFigures() async throws {
        var generator = SystemRandomNumberGenerator()
        let a = try trace("zone-a", data: (0..<300).map { _ in Int.random(in: 0...4, using: &generator) == 0 ? 1 : 0 })
        let b = try trace("zone-b", data: (0..<300).map { $0 % 40 < 10 ? 1 : 0 })
        let command = try Simulate.parse([
            "--trace", a, "--trace", b, "--job-hours", "10", "--deadline-hours", "14", "--starts", "5", "--json",
        ])
        let simulation = try command.simulation()
        let summaries = await simulation.run(
            policies: PolicyCatalog.names.compactMap(PolicyCatalog.policy(named:)), includeOptimum: true)
        let json = Simulate.json(summaries, names: PolicyCatalog.names)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let policies = try #require(object?["policies"] as? [String: Any])
        #expect(Set(policies.keys) == Set(PolicyCatalog.names))
        let up = try #require(policies["uniform-progress"] as? [String: Any])
        for key in ["cost_over_on_demand", "cost_over_optimum", "spot_hours", "changeovers"] {
            let figures = try #require(up[key] as? [String: Any], "\(key)")
            #expect(Set(figures.keys) == ["mean", "p50", "p95", "max"])
        }
        #expect(up["deadline_misses"] as? Int == 0)
        for name in ["greedy", "uniform-progress", "spotwise"] {
            #expect(summaries[name]!.costOverOptimum.mean >= 1 - 1e-9, "\(name) beat the optimum")
        }
    }

    @Test func badArgumentsAreRefusedWithTheReason() {
        #expect(throws: (any Error).self) { try Simulate.parse(["--policy", "greedy"]) }
        #expect(throws: (any Error).self) { try Simulate.parse(["--trace", "x.json", "--policy", "magic"]) }
        #expect(throws: (any Error).self) {
            try Simulate.parse(["--trace", "x.json", "--job-hours", "50", "--deadline-hours", "40"])
        }
        #expect(throws: (any Error).self) { try Simulate.parse(["--trace", "x.json", "--convention", "sideways"]) }
        let message = Simulate.message(for: ValidationErrorProbe.unknownPolicy())
        #expect(message.contains("unknown policy 'magic'"))
    }
}

enum ValidationErrorProbe {
    static func unknownPolicy() -> any Error {
        do {
            _ = try Simulate.parse(["--trace", "x.json", "--policy", "magic"])
        } catch {
            return error
        }
        return CancellationError()
    }
}
