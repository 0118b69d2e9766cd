import Checkpoints
import Foundation
import Spawning
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `spotwise checkpoint commit` killed with SIGKILL at random points over 100 saves: a torn
/// checkpoint is never resumed from, and retention always cleans it up.
@Suite struct TornCheckpointTests {
    /// The `spotwise` binary built beside this test bundle.
    static var spotwise: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spotwise")
    }

    /// `spotwise checkpoint commit` of `source` as `step`, its output discarded.
    func commitProcess(root: URL, step: Int, source: URL) throws -> ChildProcess {
        try ChildProcess(
            executable: Self.spotwise.path,
            arguments: [
                "checkpoint", "commit", "--root", root.path, "--job", "torn", "--step", String(step), source.path,
            ],
            environment: ProcessInfo.processInfo.environment, logFile: URL(fileURLWithPath: "/dev/null"))
    }

    @Test func aWriterKilledAtRandomPointsNeverLeavesACheckpointThatIsResumedFrom() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.spotwise.path), "build spotwise first")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("torn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let root = base.appendingPathComponent("store")
        let source = base.appendingPathComponent("source")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        for index in 0..<4 {
            let bytes = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(bytes).write(to: source.appendingPathComponent("shard-\(index).bin"))
        }
        // How long one whole commit takes here (the fastest of three): kill points start across it.
        var span = Duration.seconds(3600)
        for warmUp in 0..<3 {
            let started = ContinuousClock.now
            let whole = try commitProcess(root: root, step: warmUp, source: source)
            #expect(await whole.waitForExit() == 0)
            span = min(span, ContinuousClock.now - started)
        }
        let store = LocalCheckpointStore(root: root)

        // The window where a commit is writing moves with the machine's load (other suites run
        // beside this one): kills that find nothing written yet move its start later, kills that
        // find the commit done move its end earlier, so most kills keep landing mid-write.
        var earliest = Duration.zero
        var latest = span
        var torn = 0
        var committed = 0
        for step in 3...102 {
            let writer = try commitProcess(root: root, step: step, source: source)
            let high = max(latest, earliest + .milliseconds(5))
            let delay = earliest + (high - earliest) * Double.random(in: 0...1.1, using: &generator)
            try await Task.sleep(for: delay)
            writer.signal(SIGKILL)
            _ = await writer.waitForExit()
            let directory = root.appendingPathComponent("torn/" + String(format: "step-%010d", step))
            let hasManifest = FileManager.default.fileExists(
                atPath: directory.appendingPathComponent("manifest.json").path)
            if hasManifest {
                committed += 1
                latest = latest * 0.8 + delay * 0.2
            } else if FileManager.default.fileExists(atPath: directory.path) {
                torn += 1
            } else {
                earliest = earliest * 0.8 + delay * 0.2
            }
            // What a resuming attempt would get: only a committed step, and it verifies.
            let restored = try await store.restore(
                job: "torn", atMost: nil, into: base.appendingPathComponent("restore"))
            let expected = hasManifest ? step : try await store.committedSteps(job: "torn").last
            #expect(restored.restored?.step == expected)
            #expect(restored.skipped.isEmpty, "a committed checkpoint failed to verify: \(restored.skipped)")
            _ = try await store.collectGarbage(job: "torn", keepLast: 2)
            let left = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("torn").path)
            #expect(
                left.allSatisfy {
                    FileManager.default.fileExists(atPath: root.appendingPathComponent("torn/\($0)/manifest.json").path)
                }, "an uncommitted directory survived retention: \(left)")
        }
        // The kills must really have landed mid-write for this to mean anything.
        #expect(torn >= 10, "only \(torn) of 100 kills tore a checkpoint (committed: \(committed))")
        print("torn checkpoints: \(torn) of 100 kills, committed anyway: \(committed), a commit took \(span)")
    }
}
