import Foundation
import Spawning
import SpotwiseTesting
import StateStore
import Testing

@testable import SpotwiseCLI

/// Issue 14 item 8: a demo whose job fails, or whose trainer cannot import its modules, says so
/// and exits 1; it never traps on a store left open, and its output is not lost in a buffer.
@Suite struct DemoFailureTests {
    /// The `spotwise` binary built beside this test bundle.
    static var spotwise: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spotwise")
    }

    /// Runs `spotwise demo ARGUMENTS` from the repository root (where the demo finds its pool and
    /// runs its trainers), stdout and stderr to files as a user's redirect would (a shell opens
    /// them and execs spotwise, as a `ChildProcess`); its exit status and output.
    static func demo(_ arguments: [String], in directory: URL) async throws -> (
        status: Int32, out: String, err: String
    ) {
        let out = directory.appendingPathComponent("demo.out")
        let err = directory.appendingPathComponent("demo.err")
        let redirected = #"cd -- "$1" && out=$2 && err=$3 && shift 3 && exec "$@" >"$out" 2>"$err""#
        let process = try ChildProcess(
            executable: "/bin/sh",
            arguments: ["-c", redirected, "sh", RepositoryPaths.root.path, out.path, err.path, spotwise.path, "demo"]
                + arguments,
            environment: ProcessInfo.processInfo.environment)
        let status = await process.waitForExit()
        return (
            status, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8)
        )
    }

    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func aDemoWhoseJobFailsPrintsItsSummaryAndTheTrainersLastLinesAndExitsOne() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.spotwise.path), "build spotwise first")
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = directory.appendingPathComponent("fails.yaml")
        try Data(
            """
            name: fails-at-once
            run: sh -c 'echo trainer says boom; exit 3'
            retries: {max_failures: 0}

            """.utf8
        ).write(to: spec)
        let (status, out, err) = try await Self.demo(
            [
                "--job", spec.path, "--state-dir", directory.appendingPathComponent("state").path, "--interruptions",
                "0",
            ],
            in: directory)
        // Not 132 (SIGILL: the trap of a store left open) and not 0.
        #expect(status == 1, "stdout:\n\(out)\nstderr:\n\(err)")
        #expect(!err.contains("was not closed"), "\(err)")
        #expect(out.contains("submitted "), "\(out)")
        #expect(out.contains(" failed in "), "the summary line: \(out)")
        #expect(out.contains("failed with exit code 3"), "the attempt table: \(out)")
        #expect(out.contains("log lines:") && out.contains("trainer says boom"), "the trainer's last lines: \(out)")
    }

    @Test func aDemoWhoseTrainerCannotImportItsModulesSaysRunSetupAndStartsNothing() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.spotwise.path), "build spotwise first")
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("import json\nimport spotwise_no_such_module_q7\n".utf8)
            .write(to: directory.appendingPathComponent("train.py"))
        let spec = directory.appendingPathComponent("imports.yaml")
        let script = directory.appendingPathComponent("train.py").path
        try Data("name: needs-modules\nrun: python3 \(script)\n".utf8).write(to: spec)
        let state = directory.appendingPathComponent("state")
        let (status, out, err) = try await Self.demo(["--job", spec.path, "--state-dir", state.path], in: directory)
        #expect(status == 1, "stdout:\n\(out)\nstderr:\n\(err)")
        #expect(err.contains("spotwise_no_such_module_q7") && err.contains("./setup.sh"), "\(err)")
        #expect(!err.contains("json ("), "a module that imports is not listed: \(err)")
        #expect(!out.contains("coordinator on"), "nothing was started: \(out)")
        #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("state.db").path))
        #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("admin.token").path))
    }
}

/// The pre-flight check on its own: which modules a trainer imports, and which do not import.
@Suite struct TrainerImportsTests {
    @Test func theDigitsTrainersModulesAreReadFromTheScriptAndItsLocalModules() {
        let modules = TrainerImports.modules(run: "python3 jobs/digits/train.py", workdir: RepositoryPaths.root)
        #expect(modules.contains("numpy") && modules.contains("sklearn"), "\(modules)")
        #expect(!modules.contains("digits_model"), "a module beside the script is followed, not imported")
        // The gang trainer puts ../digits on sys.path itself: its digits_model is the job's own too.
        let gang = TrainerImports.modules(run: "python3 jobs/digits-ddp/train.py", workdir: RepositoryPaths.root)
        #expect(gang.contains("numpy") && !gang.contains("digits_model"), "\(gang)")
        // The trainer library of the checkout (python/spotwise) is the job's own: the trainers put
        // python/ on sys.path, so it needs no pip install.
        #expect(!modules.contains("spotwise") && !gang.contains("spotwise"), "\(modules) \(gang)")
        #expect(TrainerImports.modules(run: "torchrun train.py", workdir: RepositoryPaths.root).isEmpty)
        #expect(TrainerImports.modules(run: "python3 -c 'import numpy'", workdir: RepositoryPaths.root).isEmpty)
        #expect(TrainerImports.modules(run: "python3 missing.py", workdir: RepositoryPaths.root).isEmpty)
    }

    @Test func importLinesAreReadAsTopLevelNamesAndNothingElse() {
        let source = """
            \"\"\"A docstring that says what to import, and
            import, and more. from here import nothing
            \"\"\"
            import os, sys as system  # comment
            import a.b.c
                import indented_one
            from pkg.sub import thing
            from . import sibling
            from .relative import other
            from __future__ import annotations
            import 9bad, good_2; import after_semicolon
            importer = 1
            """
        #expect(
            TrainerImports.importedNames(in: source) == ["os", "sys", "a", "indented_one", "pkg", "good_2"])
    }

    @Test func aModuleThatDoesNotImportIsReportedWithWhatToRun() throws {
        #expect(TrainerImports.missing(["json", "os"]).isEmpty)
        let missing = TrainerImports.missing(["json", "spotwise_no_such_module_q7"])
        #expect(missing.count == 1 && missing[0].hasPrefix("spotwise_no_such_module_q7 (ModuleNotFoundError"))
        let interpreter = TrainerImports.missing(["json"], python: "python-that-is-not-installed-q7")
        #expect(interpreter.count == 1 && interpreter[0].hasPrefix("python-that-is-not-installed-q7 ("))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imports-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("import helper\n".utf8).write(to: directory.appendingPathComponent("train.py"))
        try Data("import json\nfrom spotwise_no_such_module_q7 import x\n".utf8)
            .write(to: directory.appendingPathComponent("helper.py"))
        let problem = try #require(TrainerImports.problem(run: "python3 train.py", workdir: directory))
        #expect(problem.contains("spotwise_no_such_module_q7") && problem.contains("run ./setup.sh"))
        try Data("import json\n".utf8).write(to: directory.appendingPathComponent("helper.py"))
        #expect(TrainerImports.problem(run: "python3 train.py", workdir: directory) == nil)
    }
}

/// A store is closed whether the work done with it returned or threw.
@Suite struct StoreLifetimeTests {
    struct Boom: Error {}

    @Test func theStoreIsClosedWhenTheBodyThrowsAndWhenItReturns() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lifetime-\(UUID().uuidString).db")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let failing = try await SQLStateStore.openSQLite(path: path)
        await #expect(throws: Boom.self) {
            try await closing(failing) { store in
                try await store.migrate()
                throw Boom()
            }
        }
        // Closed: a query on it fails instead of running (and its deinit does not trap).
        await #expect(throws: (any Error).self) { try await failing.segments(job: nil) }

        let count = try await withStore("sqlite:\(path)") { store in try await store.segments(job: nil).count }
        #expect(count == 0)
        // A location that is neither SQLite nor PostgreSQL is refused before anything opens.
        await #expect(throws: (any Error).self) { try await withStore("mysql://x") { _ in 1 } }
    }
}
