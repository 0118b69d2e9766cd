import Foundation
import Provisioners
import SpotwiseCore
import Testing

@Suite struct SpotMarketScheduleTests {
    @Test func aTraceBecomesReclaimsAndRestoresInCompressedTime() {
        // 600 s ticks, one trace hour per real second: a tick is 1/6 s.
        let events = SpotMarketSchedule.fromTrace(
            [true, true, false, false, false, true, false], tickSeconds: 600, traceSecondsPerSecond: 3600,
            region: "local-a")
        #expect(events.map(\.kind) == [.reclaim, .restore, .reclaim])
        let expected: [Double] = [2.0 / 6, 5.0 / 6, 1.0]
        #expect(events.map(\.atSeconds) == expected)
        let startsDown = SpotMarketSchedule.fromTrace(
            [false, true], tickSeconds: 600, traceSecondsPerSecond: 600, region: "r")
        let downThenUp: [MarketEvent] = [
            MarketEvent(atSeconds: 0, region: "r", kind: .reclaim),
            MarketEvent(atSeconds: 1, region: "r", kind: .restore),
        ]
        #expect(startsDown == downThenUp)
    }

    @Test func aRateIsSeededAndAlternatesReclaimAndRestore() {
        var first = SeededGenerator(seed: 5)
        var second = SeededGenerator(seed: 5)
        let a = SpotMarketSchedule.fromRate(
            ratePerHour: 2, traceSecondsPerSecond: 3600, outageSeconds: 0.1, region: "r", durationSeconds: 1_000,
            generator: &first)
        let b = SpotMarketSchedule.fromRate(
            ratePerHour: 2, traceSecondsPerSecond: 3600, outageSeconds: 0.1, region: "r", durationSeconds: 1_000,
            generator: &second)
        #expect(a == b)
        let alternates = a.indices.allSatisfy { index in
            a[index].kind == (index % 2 == 0 ? MarketEvent.Kind.reclaim : .restore)
        }
        #expect(alternates)
        // Two per trace hour of up time, one trace hour per second, 0.1 s outages: 0.6 s a cycle,
        // about 1,667 reclaims in 1,000 s.
        let reclaims = a.filter { $0.kind == .reclaim }.count
        #expect((1_550...1_780).contains(reclaims), "\(reclaims)")
        let ordered = zip(a, a.dropFirst()).allSatisfy { pair in pair.0.atSeconds <= pair.1.atSeconds }
        #expect(ordered)
    }
}

/// The provisioner carries the market out on real processes (a stand-in node program that
/// sleeps): a reclaimed region's spot nodes get the notice, die at the end of the window and stay
/// down until the capacity is restored; on-demand nodes are never touched.
@Suite struct LocalProvisionerMarketTests {
    @Test func aReclaimedRegionStaysDownUntilRestored() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("prov-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let node = directory.appendingPathComponent("node.sh")
        try "#!/bin/sh\nexec sleep 60\n".write(to: node, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: node.path)
        func pool(_ region: String, _ market: Market) -> WorkerPool {
            WorkerPool(
                region: region, market: market, instanceType: "t", pricePerHour: Money(micros: 1),
                onDemandPricePerHour: Money(micros: 2))
        }
        let configuration = LocalPoolConfiguration(
            noticeSeconds: 0.2, relaunchSeconds: 0,
            nodes: [
                .init(name: "spot-a", pool: pool("a", .spot)), .init(name: "od-a", pool: pool("a", .onDemand)),
                .init(name: "spot-b", pool: pool("b", .spot)),
            ])
        let market = SimulatedSpotMarket()
        let provisioner = LocalProvisioner(
            configuration: configuration,
            launch: .init(
                spotwiseBinary: node, coordinatorURL: "http://127.0.0.1:9", bootstrapToken: "t",
                metadataURL: "http://127.0.0.1:9", directory: directory, jobRoot: directory, environment: [:]),
            market: market)
        defer { provisioner.stopAll() }
        try provisioner.startAll()
        try await provisioner.reclaim(region: "a", withNotice: true)
        #expect(!provisioner.isRunning("spot-a") && provisioner.isRunning("od-a") && provisioner.isRunning("spot-b"))
        // An interruption elsewhere relaunches (relaunch 0 s); the reclaimed region does not.
        try await provisioner.interrupt(configuration.nodes[2], withNotice: false)
        // The relaunch is a real process start: wait for it (bounded), not for a fixed time, which
        // a loaded machine overran (seen in a full test run).
        let deadline = ContinuousClock.now + .seconds(20)
        while !provisioner.isRunning("spot-b") && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(provisioner.isRunning("spot-b") && !provisioner.isRunning("spot-a"))
        try provisioner.restore(region: "a")
        #expect(provisioner.isRunning("spot-a"))
    }
}
