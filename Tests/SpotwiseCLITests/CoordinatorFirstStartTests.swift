import Foundation
import Spawning
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A coordinator's first start with its stdout going to a file (issue 14, item 7): the token
/// lines are in the file as soon as it serves, so a crash does not lose them, and everything it
/// created is its owner's alone; a second coordinator on the same SQLite file is refused while
/// the first runs, and the next one starts after the first crashed.
@Suite struct CoordinatorFirstStartTests {
    static var spotwise: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spotwise")
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : nil
    }

    @Test func theTokenLinesReachAFileBeforeACrashAndTheStateIsTheOwnersAlone() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.spotwise.path), "build spotwise first")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("first-start-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let state = base.appendingPathComponent("state")
        let log = base.appendingPathComponent("stdout.log")
        // Only stdout goes to the file, as a user's `>` would send it (a shell opens it and execs
        // spotwise); stderr is collected by the `ChildProcess`, for the messages below.
        let process = try ChildProcess(
            executable: "/bin/sh",
            arguments: [
                "-c", #"out=$1 && shift && exec "$@" >"$out""#, "sh", log.path, Self.spotwise.path, "coordinator",
                "--state-dir", state.path, "--bind", "127.0.0.1:0",
            ],
            environment: ProcessInfo.processInfo.environment)
        defer { if process.exitStatus == nil { process.signalGroup(SIGKILL) } }
        // Waits for what the process writes, not for time: the serving line follows the tokens.
        // A coordinator that exits ends the wait at once.
        let deadline = ContinuousClock.now + .seconds(60)
        var text = ""
        while ContinuousClock.now < deadline, process.exitStatus == nil,
            !text.contains("spotwise coordinator serving on")
        {
            try await Task.sleep(for: .milliseconds(50))
            text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        }
        #expect(
            text.contains("serving on"),
            "nothing reached the file while it ran (exit status \(String(describing: process.exitStatus))): \(text)\nstderr: \(process.takeLines())"
        )
        // The database and its WAL files while it runs, then a crash.
        let database = state.appendingPathComponent("state.db").path
        for file in [database, database + "-wal", database + "-shm"] {
            #expect(Self.mode(file) == 0o600, "\(file): \(String(Self.mode(file) ?? 0, radix: 8))")
        }
        // A second coordinator on the same SQLite file is refused, naming the first.
        let second = try ChildProcess(
            executable: Self.spotwise.path,
            arguments: ["coordinator", "--state-dir", state.path, "--bind", "127.0.0.1:0"],
            environment: ProcessInfo.processInfo.environment)
        defer { if second.exitStatus == nil { second.signalGroup(SIGKILL) } }
        // Polled against the deadline: a second coordinator that started would serve forever.
        var refusalLines: [String] = []
        while ContinuousClock.now < deadline + .seconds(60), second.exitStatus == nil {
            try await Task.sleep(for: .milliseconds(50))
            refusalLines += second.takeLines()
        }
        #expect(second.exitStatus.map { $0 != 0 } == true, "the second coordinator did not exit")
        let refusal = (refusalLines + second.takeLines()).joined(separator: "\n")
        #expect(
            refusal.contains("is in use by another coordinator (pid \(process.pid) on "),
            "the second coordinator said: \(refusal)")
        process.signal(SIGKILL)
        #expect(await process.waitForExit() == 128 + SIGKILL)
        // The crashed one's lock went with it: the next coordinator starts.
        let third = try ChildProcess(
            executable: Self.spotwise.path,
            arguments: ["coordinator", "--state-dir", state.path, "--bind", "127.0.0.1:0"],
            environment: ProcessInfo.processInfo.environment)
        defer { if third.exitStatus == nil { third.signalGroup(SIGKILL) } }
        var started: [String] = []
        while ContinuousClock.now < deadline + .seconds(60), third.exitStatus == nil,
            !started.joined().contains("spotwise coordinator serving on")
        {
            try await Task.sleep(for: .milliseconds(50))
            started += third.takeLines()
        }
        #expect(started.joined().contains("serving on"), "after the crash: \(started)")
        third.signal(SIGKILL)
        _ = await third.waitForExit()

        text = try String(contentsOf: log, encoding: .utf8)
        #expect(Self.mode(state.path) == 0o700)
        for name in ["admin.token", "readonly.token", "bootstrap.token"] {
            let file = state.appendingPathComponent(name)
            #expect(Self.mode(file.path) == 0o600, "\(name)")
            let token = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(text.contains("created \(file.path) (shown once): \(token)\n"), "\(name) is not in the output")
        }
    }
}
