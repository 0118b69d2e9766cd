import ArgumentParser
import Foundation
import Testing

@testable import SpotwiseCLI

#if canImport(Glibc)
    import Glibc
#endif

/// The bootstrap token reaches `spotwise worker` from its environment or a file only its owner may
/// read; on the command line every user of the machine sees it in `ps` (issue 14, item 3).
@Suite struct WorkerCredentialTests {
    static func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cred-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func write(_ text: String, to url: URL, mode: mode_t) throws {
        try Data(text.utf8).write(to: url)
        #expect(chmod(url.path, mode) == 0)
    }

    static func message(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func theCommandLineTokenIsRefusedAndSaysWhereToPutIt() {
        let message = Self.message { try WorkerCommand.parse(["--bootstrap-token", "abc"]) }
        #expect(message?.contains("no longer accepted") == true, "\(message ?? "accepted")")
        #expect(message?.contains("SPOTWISE_BOOTSTRAP_TOKEN") == true)
        #expect(message?.contains("--bootstrap-token-file") == true)
        #expect(message?.contains("abc") == false, "the refusal does not echo the token")
    }

    @Test func theTokenFileMustBeTheOwnersAlone() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("token")
        for mode: mode_t in [0o600, 0o400] {
            try Self.write("tok-1\n", to: file, mode: mode)
            let source = BootstrapTokenSource(file: file.path, environment: [:], stateDirectory: directory.path)
            #expect(try source.token() == "tok-1")
        }
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660, 0o606, 0o777] {
            try Self.write("tok-1\n", to: file, mode: mode)
            let source = BootstrapTokenSource(file: file.path, environment: [:], stateDirectory: directory.path)
            let message = Self.message { try source.token() }
            #expect(
                message?.contains("chmod 600 \(file.path)") == true,
                "mode \(String(mode, radix: 8)): \(message ?? "read")")
            #expect(message?.contains(String(mode, radix: 8)) == true)
            #expect(message?.contains("tok-1") == false)
        }
    }

    @Test func aTokenFileThatIsNotOneIsRefusedClearly() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let empty = directory.appendingPathComponent("empty")
        try Self.write(" \n", to: empty, mode: 0o600)
        let cases: [(String, String)] = [
            (empty.path, "is empty"), (directory.appendingPathComponent("missing").path, "cannot read"),
            (directory.path, "not a regular file"),
        ]
        for (path, expected) in cases {
            let source = BootstrapTokenSource(file: path, environment: [:], stateDirectory: directory.path)
            let message = Self.message { try source.token() }
            #expect(message?.contains(expected) == true, "\(path): \(message ?? "read")")
        }
    }

    @Test func theFileOptionThenTheEnvironmentThenTheStateDirectory() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("token")
        try Self.write("from-file", to: file, mode: 0o600)
        let saved = directory.appendingPathComponent("bootstrap.token")
        try Self.write("from-state\n", to: saved, mode: 0o600)
        let environment = ["SPOTWISE_BOOTSTRAP_TOKEN": "from-env"]
        #expect(
            try BootstrapTokenSource(file: file.path, environment: environment, stateDirectory: directory.path).token()
                == "from-file")
        #expect(
            try BootstrapTokenSource(file: nil, environment: environment, stateDirectory: directory.path).token()
                == "from-env")
        #expect(
            try BootstrapTokenSource(file: nil, environment: [:], stateDirectory: directory.path).token()
                == "from-state")
        // The state directory's file is held to the same rule.
        #expect(chmod(saved.path, 0o644) == 0)
        let message = Self.message {
            try BootstrapTokenSource(file: nil, environment: [:], stateDirectory: directory.path).token()
        }
        #expect(message?.contains("chmod 600") == true)
        let none = Self.message {
            try BootstrapTokenSource(
                file: nil, environment: [:], stateDirectory: directory.appendingPathComponent("x").path
            )
            .token()
        }
        #expect(none?.contains("no bootstrap token: set SPOTWISE_BOOTSTRAP_TOKEN") == true)
        #expect(
            Self.message {
                try BootstrapTokenSource(
                    file: nil, environment: ["SPOTWISE_BOOTSTRAP_TOKEN": " "], stateDirectory: directory.path
                ).token()
            }?.contains("set but empty") == true)
    }

    @Test(arguments: ["SPOTWISE_BOOTSTRAP_TOKEN", "SPOTWISE_TOKEN", "NAME=value", ""])
    func trainerEnvTakesANameThatIsNotTheAgents(_ name: String) {
        let message = Self.message { try WorkerCommand.parse(["--trainer-env", name]) }
        #expect(message?.contains("--trainer-env takes a variable name") == true, "\(message ?? "accepted")")
    }

    @Test func trainerEnvTakesOrdinaryNames() throws {
        let command = try WorkerCommand.parse(["--trainer-env", "DIGITS_STEP_DELAY_MS", "--trainer-env", "HF_HOME"])
        #expect(command.trainerEnv == ["DIGITS_STEP_DELAY_MS", "HF_HOME"])
    }
}
