import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with a clean signal state, in a process group of its own, with its
/// stdout and stderr collected as lines.
///
/// Why not Foundation's `Process`: it spawns with the calling thread's signal mask, and the
/// threads of a Swift server (NIO's event loops, the cooperative pool) block nearly every signal.
/// A trainer started that way never receives the SIGTERM or SIGUSR1 of the trainer contract
/// (measured: `SigBlk: fffffffe3bfaea27` on the trainer, and 10-40 steps lost per notice in the
/// demo). Here `posix_spawn` resets the mask and every signal's disposition to the default.
public final class ChildProcess: Sendable {
    public let pid: Int32
    private let output = Mutex<(lines: [String], partial: String)>(([], ""))
    private let exit = Mutex<Int32?>(nil)
    /// Left once the process has exited (and `exit` holds its status).
    private let exited = DispatchGroup()
    /// Left once the output pipe has been read to its end (at once with a log file).
    private let drained = DispatchGroup()

    /// Runs `/bin/sh -c 'cd -- DIR && exec COMMAND'`. With `logFile`, stdout and stderr are
    /// appended to that file instead of being collected as lines.
    public convenience init(
        shellCommand command: String, directory: URL, environment: [String: String], logFile: URL? = nil
    )
        throws
    {
        try self.init(
            executable: "/bin/sh", arguments: ["-c", "cd -- \"$0\" && exec " + command, directory.path],
            environment: environment, logFile: logFile)
    }

    public init(executable: String, arguments: [String], environment: [String: String], logFile: URL? = nil) throws {
        var fds: [Int32] = [0, 0]
        let collect = logFile == nil
        if collect { guard pipe(&fds) == 0 else { throw SpawnError("pipe: \(String(cString: strerror(errno)))") } }
        let logFD: Int32 =
            logFile.map { open($0.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) } ?? -1
        if logFile != nil, logFD < 0 { throw SpawnError("cannot open \(logFile!.path)") }
        defer {
            if collect { close(fds[1]) }
            if logFD >= 0 { close(logFD) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let sink = collect ? fds[1] : logFD
        posix_spawn_file_actions_adddup2(&actions, sink, 1)
        posix_spawn_file_actions_adddup2(&actions, sink, 2)
        if collect { posix_spawn_file_actions_addclose(&actions, fds[0]) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in 1..<32 where number != SIGKILL && number != SIGSTOP { sigaddset(&defaults, Int32(number)) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            if collect { close(fds[0]) }
            throw SpawnError("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
        let spawned = child

        // Entered only once the child runs: a group deallocated while entered traps. The threads
        // below hold `self` until they leave.
        exited.enter()
        if collect {
            drained.enter()
            let readEnd = fds[0]
            Thread.detachNewThread { [self] in
                self.drain(readEnd)
                self.drained.leave()
            }
        }
        Thread.detachNewThread { [self] in
            var raw: Int32 = 0
            while waitpid(spawned, &raw, 0) < 0 && errno == EINTR {}
            // Exit code, or 128 + N when killed by signal N (what a shell reports).
            let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            self.exit.withLock { $0 = code }
            self.exited.leave()
        }
    }

    private func drain(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            let text = String(decoding: buffer[0..<count], as: UTF8.self)
            output.withLock { output in
                output.partial += text
                var parts = output.partial.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                output.partial = parts.removeLast()
                output.lines += parts
            }
        }
        close(fd)
        output.withLock { output in
            if !output.partial.isEmpty {
                output.lines.append(output.partial)
                output.partial = ""
            }
        }
    }

    /// Lines written since the last call.
    public func takeLines() -> [String] {
        output.withLock { output in
            defer { output.lines.removeAll() }
            return output.lines
        }
    }

    /// The exit status once the process ended (128 + N when killed by signal N).
    public var exitStatus: Int32? { exit.withLock { $0 } }

    /// Waits until the process has exited, without polling, and returns its exit status (what
    /// `exitStatus` then reads); at once when it already has. The wait ends with the process
    /// only: to bound it, signal the process (cancelling the waiting task does not end it).
    public func waitForExit() async -> Int32 {
        await withCheckedContinuation { continuation in
            exited.notify(queue: .global()) { continuation.resume() }
        }
        return exitStatus!
    }

    /// `waitForExit()` for synchronous code: blocks the calling thread until the process exits.
    public func waitUntilExit() -> Int32 {
        exited.wait()
        return exitStatus!
    }

    /// Waits until the output has been read to its end, that is until every process holding the
    /// pipe (the child and whatever it started without redirecting) has closed it, and returns
    /// the lines `takeLines()` has not returned yet, the last one even without a newline. `[]` at
    /// once when the output goes to a log file.
    public func waitForEndOfOutput() async -> [String] {
        await withCheckedContinuation { continuation in
            drained.notify(queue: .global()) { continuation.resume() }
        }
        return takeLines()
    }

    /// `waitForEndOfOutput()` for synchronous code: blocks the calling thread until then.
    public func waitUntilEndOfOutput() -> [String] {
        drained.wait()
        return takeLines()
    }

    /// Whether any process of the child's group is still running.
    public var groupAlive: Bool { kill(-pid, 0) == 0 }

    public func signal(_ number: Int32) { _ = kill(pid, number) }

    public func signalGroup(_ number: Int32) { _ = kill(-pid, number) }
}

public struct SpawnError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
