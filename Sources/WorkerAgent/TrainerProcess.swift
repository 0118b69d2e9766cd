import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The trainer as a child process: `/bin/sh -c 'exec RUN'` in the job's workdir with the trainer
/// contract's environment; its stdout and stderr are collected as lines for the coordinator.
/// (Foundation's `Process`: it covers signals, streamed output and the exit status on Linux, and
/// needs no package beyond the toolchain.)
final class TrainerProcess: Sendable {
    private let process: Process
    private let output = Mutex<(lines: [String], partial: String)>(([], ""))
    private let exit = Mutex<Int32?>(nil)

    init(command: String, workdir: URL, environment: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec " + command]
        process.currentDirectoryURL = workdir
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        self.process = process
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            self.output.withLock { output in
                output.partial += String(decoding: data, as: UTF8.self)
                var parts = output.partial.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                output.partial = parts.removeLast()
                output.lines += parts
                if data.isEmpty, !output.partial.isEmpty {
                    output.lines.append(output.partial)
                    output.partial = ""
                }
            }
            if data.isEmpty { handle.readabilityHandler = nil }
        }
        process.terminationHandler = { [self] finished in
            let status =
                finished.terminationReason == .uncaughtSignal
                ? 128 + finished.terminationStatus : finished.terminationStatus
            self.exit.withLock { $0 = status }
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Lines written since the last call.
    func takeLines() -> [String] {
        output.withLock { output in
            defer { output.lines.removeAll() }
            return output.lines
        }
    }

    /// The exit status once the trainer ended (128 + N when killed by signal N).
    var exitStatus: Int32? { exit.withLock { $0 } }

    func signal(_ number: Int32) {
        guard exitStatus == nil else { return }
        kill(process.processIdentifier, number)
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

    struct Line: Decodable {
        var step: Int?
        var totalSteps: Int?
        var checkpoint: String?
        var metrics: [String: Double]?

        enum CodingKeys: String, CodingKey {
            case step, checkpoint, metrics
            case totalSteps = "total_steps"
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
        return pieces.compactMap { try? JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }
}
