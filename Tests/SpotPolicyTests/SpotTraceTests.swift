import Foundation
import SpotPolicy
import SpotwiseTesting
import Testing

@Suite struct SpotTraceTests {
    func write(_ json: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID().uuidString).json")
        try json.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func preemptedConventionReadsOneAsUnavailable() throws {
        let url = try write(
            #"{"metadata": {"gap_seconds": 600, "zone": "z1", "price_info": {"price": 2.5, "on_demand_price": 9}}, "data": [0, 1, 0]}"#
        )
        let trace = try SpotTrace.read(contentsOf: url, convention: .preempted)
        #expect(trace.name == "z1" && trace.tickSeconds == 600)
        #expect(trace.availability(nodes: 16) == [true, false, true])
        #expect(trace.spotPricePerHour == 2.5 && trace.onDemandPricePerHour == 9)
    }

    @Test func availableConventionCountsInstancesForAGang() throws {
        let url = try write(#"{"metadata": {"gap_seconds": 60}, "data": [0, 2, 4, 3], "prices": [1, 1.5, 2, 2.5]}"#)
        let trace = try SpotTrace.read(contentsOf: url, convention: .available)
        #expect(trace.availability(nodes: 1) == [false, true, true, true])
        #expect(trace.availability(nodes: 3) == [false, false, true, true])
        let series = try PoolSeries(trace: trace, nodes: 3, spotPrice: nil, onDemandPrice: 5)
        #expect(series.spotPrices == [1, 1.5, 2, 2.5])
    }

    @Test func badTracesSayWhatIsWrong() throws {
        let noGap = try write(#"{"metadata": {}, "data": [0]}"#)
        #expect(throws: TraceReadError.self) { try SpotTrace.read(contentsOf: noGap, convention: .preempted) }
        let badValue = try write(#"{"metadata": {"gap_seconds": 60}, "data": [0, "x"]}"#)
        do {
            _ = try SpotTrace.read(contentsOf: badValue, convention: .preempted)
            Issue.record("a trace with text in data was read")
        } catch let error as TraceReadError {
            #expect(error.message == "data[1] is not a number of at least 0")
        }
        let trace = try SpotTrace.read(
            contentsOf: try write(#"{"metadata": {"gap_seconds": 60}, "data": [0]}"#), convention: .preempted)
        #expect(throws: TraceReadError.self) {
            try PoolSeries(trace: trace, nodes: 1, spotPrice: nil, onDemandPrice: nil)
        }
    }

    @Test func theBenchmarkTracesLoad() throws {
        let files = try RepositoryPaths.files(in: "Benchmarks/traces/skynomad-h100-gcp-16node", extensions: ["json"])
        let traces = try files.map { try SpotTrace.read(contentsOf: $0, convention: .preempted) }
        #expect(traces.count == 13)
        #expect(traces.allSatisfy { $0.tickSeconds == 600 && $0.capacity.count == 2114 && $0.spotPricePerHour != nil })
        // asia-south2-b was preempted in one tick of 2114; us-west1-b was available a quarter of the time.
        let south = try #require(traces.first { $0.name == "asia-south2-b" })
        #expect(south.availability(nodes: 1).filter { !$0 }.count == 1)
        let west = try #require(traces.first { $0.name == "us-west1-b" })
        let share = Double(west.availability(nodes: 1).filter { $0 }.count) / Double(west.capacity.count)
        #expect(share > 0.2 && share < 0.3)
    }
}

@Suite struct AvailabilityHistoryTests {
    @Test func runsAndAgesAreCounted() {
        let history = AvailabilityHistory(observations: [true, true, true, true, false, false, true].map { $0 })
        #expect(history.observedTicks == 7)
        #expect(history.currentlyAvailable && history.currentRunTicks == 1)
        // After each tick a run is exposed at its age so far: the 4-tick run was exposed at ages
        // 1, 2 (young) and 3, 4 (old), and ended old; the 2-tick outage at ages 1 and 2.
        #expect(history.upExposure == [2, 2] && history.upEnds == [0, 1])
        #expect(history.downExposure == [1, 1] && history.downEnds == [0, 1])
    }

    @Test func chainStateFollowsTheRunAge() {
        let old = AvailabilityHistory(observations: Array(repeating: true, count: 5))
        #expect(AvailabilityChain.state(of: old, availableNow: true) == AvailabilityChain.upOld)
        #expect(AvailabilityChain.state(of: old, availableNow: false) == AvailabilityChain.downFresh)
        let chain = AvailabilityChain(history: old)
        for state in 0..<AvailabilityChain.states {
            #expect(abs(chain.transitions(from: state).reduce(0, +) - 1) < 1e-12)
        }
    }
}

@Suite struct DistributionTests {
    @Test func percentilesAreNearestRank() {
        let distribution = Distribution((1...20).map(Double.init))
        #expect(distribution.mean == 10.5 && distribution.p50 == 10 && distribution.p95 == 19 && distribution.max == 20)
    }
}
