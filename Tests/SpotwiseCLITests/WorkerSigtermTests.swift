import Foundation
import Spawning
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The agent's real SIGTERM handler (`SignalWatcher()`), proved in a child process instead of by
/// signalling the test runner: a registered, idle `spotwise worker` that gets SIGTERM leaves
/// cleanly (says so, deregisters, exits 0) instead of dying of the signal (exit 143).
@Suite struct WorkerSigtermTests {
    static var spotwise: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spotwise")
    }

    /// Reads `process`'s output until a line contains `text`: that line, or nil once the process
    /// exited or 60 s passed without it. Everything read is appended to `seen`.
    static func line(containing text: String, of process: ChildProcess, seen: inout [String]) async throws
        -> String?
    {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let exited = process.exitStatus != nil
            let lines = exited ? await process.waitForEndOfOutput() : process.takeLines()
            seen += lines
            if let found = lines.first(where: { $0.contains(text) }) { return found }
            if exited { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    @Test func aSIGTERMToAnIdleWorkerMakesItLeaveCleanly() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.spotwise.path), "build spotwise first")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sigterm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let state = base.appendingPathComponent("state")
        let environment = ProcessInfo.processInfo.environment

        let coordinator = try ChildProcess(
            executable: Self.spotwise.path,
            arguments: [
                "coordinator", "--state-dir", state.path, "--bind", "127.0.0.1:0", "--heartbeat-seconds", "1",
                "--lease-seconds", "3",
            ],
            environment: environment)
        defer { coordinator.signalGroup(SIGKILL) }
        var coordinatorOutput: [String] = []
        let serving = try await Self.line(containing: "serving on http://", of: coordinator, seen: &coordinatorOutput)
        let url = try #require(
            serving?.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init),
            "the coordinator did not serve: \(coordinatorOutput)")

        let worker = try ChildProcess(
            executable: Self.spotwise.path,
            arguments: [
                "worker", "--coordinator", url, "--state-dir", state.path, "--name", "sigterm-test", "--work-dir",
                base.appendingPathComponent("work").path, "--job-root", base.path,
            ],
            environment: environment)
        defer { if worker.exitStatus == nil { worker.signalGroup(SIGKILL) } }
        var workerOutput: [String] = []
        let registered = try await Self.line(containing: "registered as", of: worker, seen: &workerOutput)
        try #require(registered != nil, "the worker did not register: \(workerOutput)")

        worker.signal(SIGTERM)
        // A bound, not a wait: a worker that ignored the notice would be killed here (and fail).
        let bound = Task {
            try await Task.sleep(for: .seconds(60))
            worker.signalGroup(SIGKILL)
        }
        let status = await worker.waitForExit()
        bound.cancel()
        workerOutput += await worker.waitForEndOfOutput()
        #expect(status == 0, "exit status \(status), not a clean leave: \(workerOutput)")
        #expect(workerOutput.contains { $0.contains("sigterm while idle: leaving") }, "\(workerOutput)")
    }
}
