import ArgumentParser
import Foundation
import SpotwiseCore
import Testing

@testable import SpotwiseCLI

#if canImport(Glibc)
    import Glibc
#endif

/// What the CLI does with files that are not what it asked for (issue 14, item 9): each says
/// what the path is and exits non-zero, never hangs, never leaves a state directory behind.
@Suite final class HostileFileTests {
    let scratch: URL

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("spotwise-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    static let allowed = "allowed: a regular file holding a YAML or JSON spec"

    @Test func validateSaysDevNullIsNotARegularFile() {
        let report = Validate.report(for: ["/dev/null"], parser: JobSpecParser())
        #expect(report.failed)
        #expect(
            report.text
                == "/dev/null:1:1: error: (file): not a regular file; found a character device; \(Self.allowed)\n")
    }

    @Test func validateSaysAFIFOIsNotARegularFileWithoutOpeningIt() throws {
        let fifo = path("spec.yaml")
        #expect(mkfifo(fifo, 0o600) == 0)
        // No writer ever opens it: a reader that opened it blocking would wait forever.
        let report = Validate.report(for: [fifo], parser: JobSpecParser())
        #expect(report.failed)
        #expect(
            report.text
                == "\(fifo):1:1: error: (file): not a regular file; found a FIFO (named pipe); \(Self.allowed)\n")
    }

    @Test func validateSaysADirectoryIsADirectory() {
        let report = Validate.report(for: [scratch.path], parser: JobSpecParser())
        #expect(report.failed)
        #expect(
            report.text == "\(scratch.path):1:1: error: (file): is a directory; found a directory; \(Self.allowed)\n")
    }

    @Test func validateSaysAMissingFileIsMissing() {
        let report = Validate.report(for: [path("nope.yaml")], parser: JobSpecParser())
        #expect(report.failed)
        #expect(report.text.contains("cannot read the file; found no such file or directory"), "\(report.text)")
    }

    @Test func validateSaysAnEmptyFileIsEmpty() throws {
        try Data().write(to: URL(fileURLWithPath: path("empty.yaml")))
        let report = Validate.report(for: [path("empty.yaml")], parser: JobSpecParser())
        #expect(report.failed)
        #expect(report.text.contains("(file): empty spec"), "\(report.text)")
    }

    @Test func validateAppliesTheCoordinatorsSizeAndDepthLimits() throws {
        let big = "name: x\nrun: y\n# " + String(repeating: "x", count: InputLimits.maxSpecBytes)
        try Data(big.utf8).write(to: URL(fileURLWithPath: path("big.yaml")))
        let deep =
            #"{"name": "deep", "run": "y", "hyperparameters": "# + String(repeating: #"{"a": "#, count: 600) + "1"
            + String(repeating: "}", count: 601)
        try Data(deep.utf8).write(to: URL(fileURLWithPath: path("deep.json")))
        let report = Validate.report(for: [path("big.yaml"), path("deep.json")], parser: JobSpecParser())
        #expect(report.failed)
        #expect(
            report.text.contains(
                "big.yaml:1:1: error: (file): spec too large; found \(big.utf8.count) bytes; allowed: at most \(InputLimits.maxSpecBytes) bytes"
            ), "\(report.text)")
        #expect(
            report.text.contains("nested too deeply; found more than 64 levels; allowed: at most 64 levels"),
            "\(report.text)")
    }

    /// Parses and runs a command line as `spotwise` would.
    static func run(_ arguments: [String]) async throws {
        var command = try #require(try Spotwise.parseAsRoot(arguments) as? any AsyncParsableCommand)
        try await command.run()
    }

    @Test func checkpointListOnAMissingRootFails() async throws {
        for root in ["/nonexistent/spotwise-store", "/dev/null"] {
            await #expect(throws: ExitCode(1)) {
                try await Self.run(["checkpoint", "list", "--root", root, "--job", "j"])
            }
        }
        // An existing store with no such job is not an error: it has no checkpoints.
        try await Self.run(["checkpoint", "list", "--root", scratch.path, "--job", "j"])
    }

    @Test func demoWithABadJobLeavesNoStateDirectory() async throws {
        try Data("name: x\nrun: y\nresources: {nodes: 0}\n".utf8).write(to: URL(fileURLWithPath: path("bad.yaml")))
        for job in [path("bad.yaml"), path("missing.yaml")] {
            let state = path("state-\(UUID().uuidString)")
            await #expect(throws: (any Error).self) {
                try await Self.run(["demo", "--state-dir", state, "--job", job])
            }
            #expect(!FileManager.default.fileExists(atPath: state), "\(job)")
        }
    }
}
