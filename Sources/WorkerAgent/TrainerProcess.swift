import Foundation
import Spawning
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The trainer as a child process (`ChildProcess`: clean signal mask, its own process group):
/// `/bin/sh -c 'cd -- WORKDIR && exec RUN'` with the trainer contract's environment; its stdout
/// and stderr are collected as lines for the coordinator.
///
/// A command may reach the real trainer through wrappers that do not `exec` (pyenv's and
/// conda's shims run Python as a child of a shell). Signalling the wrapper would kill it and
/// leave the trainer running unseen, so a trainer may announce its pid on the progress file
/// (`{"pid": N}`); the contract's signals then go to it, if it is in the group. The trainer is
/// done only when the whole group is gone.
final class TrainerProcess: Sendable {
    private let child: ChildProcess
    private let announced = Mutex<Int32?>(nil)

    init(command: String, workdir: URL, environment: [String: String]) throws {
        child = try ChildProcess(shellCommand: command, directory: workdir, environment: environment)
    }

    var pid: Int32 { child.pid }

    /// Takes the pid a trainer announced as the target of the contract's signals, if it belongs
    /// to the trainer's process group (a trainer cannot point the agent at other processes).
    func adopt(announcedPID candidate: Int32) {
        guard candidate > 0, getpgid(candidate) == child.pid else { return }
        announced.withLock { $0 = candidate }
    }

    /// Whether any process of the trainer's group is still running.
    var groupAlive: Bool { child.groupAlive }

    /// SIGKILL to every process of the trainer's group.
    func killGroup() { child.signalGroup(SIGKILL) }

    /// Lines written since the last call.
    func takeLines() -> [String] { child.takeLines() }

    /// The exit status once the trainer ended (128 + N when killed by signal N).
    var exitStatus: Int32? { child.exitStatus }

    /// Sends a contract signal (SIGUSR1, SIGTERM) to the announced trainer, else to the child.
    func signal(_ number: Int32) {
        if let target = announced.withLock({ $0 }) {
            kill(target, number)
        } else if exitStatus == nil {
            child.signal(number)
        }
    }
}

/// Tails the trainer's progress file (`SPOTWISE_PROGRESS`): JSON lines such as
/// `{"step": 120, "total_steps": 920, "metrics": {"loss": 0.31}}` and, once a checkpoint
/// directory is complete, `{"step": 100, "checkpoint": "step-100"}`. A malformed line is skipped.
struct ProgressReader {
    let url: URL
    private var offset: UInt64 = 0
    private var partial = ""

    init(url: URL) { self.url = url }

    struct Line: Decodable, Equatable, Sendable {
        var step: Int?
        var totalSteps: Int?
        var checkpoint: String?
        var metrics: [String: Double]?
        /// The trainer's own pid, for the contract's signals (see `TrainerProcess`).
        var pid: Int32?

        enum CodingKeys: String, CodingKey {
            case step, checkpoint, metrics, pid
            case totalSteps = "total_steps"
        }

        /// The line without values no step can have: a negative step (and the checkpoint it
        /// names) or total is dropped, as the coordinator refuses a heartbeat carrying one (and a
        /// trainer must not be able to lose its own lease by a typo).
        var withinContract: Line {
            var line = self
            if let step, step < 0 {
                line.step = nil
                line.checkpoint = nil
            }
            if let totalSteps, totalSteps < 0 { line.totalSteps = nil }
            return line
        }
    }

    mutating func read() -> [Line] {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return [] }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        guard let data = try? handle.readToEnd(), !data.isEmpty else { return [] }
        offset += UInt64(data.count)
        partial += String(decoding: data, as: UTF8.self)
        var pieces = partial.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        partial = pieces.removeLast()
        return pieces.compactMap { try? JSONDecoder().decode(Line.self, from: Data($0.utf8)) }.map(\.withinContract)
    }
}
