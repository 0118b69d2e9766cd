import ArgumentParser
import Foundation
import Testing

@testable import SpotwiseCLI

/// `spotwise gate` as a CI step: 0 passes, 1 fails, 2 for bad input.
@Suite struct GateCommandTests {
    static func exitCode(_ arguments: [String]) async -> Int32 {
        do {
            let command = try GateCommand.parse(arguments)
            try await command.run()
            return 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            Issue.record("unexpected \(error)")
            return -1
        }
    }

    static func metricsFile(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).json")
        try Data(text.utf8).write(to: url)
        return url.path
    }

    @Test func passFailAndBadInputHaveTheirExitCodes() async throws {
        let file = try Self.metricsFile(#"{"auc": 0.9984, "accuracy": 0.9583, "loss": 0.12, "note": "text"}"#)
        #expect(await Self.exitCode(["--metric", "auc", "--min", "0.85", file]) == 0)
        #expect(await Self.exitCode(["--metric", "auc", "--min", "0.999", file]) == 1)
        #expect(await Self.exitCode(["--metric", "loss", "--max", "0.3", file]) == 0)
        #expect(await Self.exitCode(["--metric", "loss", "--max", "0.1", file]) == 1)
        // Bad input: a missing metric, a metric that is not a number, an unreadable or non-object file,
        // no rule, two rules, a rule that is not a number, --beats without --model.
        #expect(await Self.exitCode(["--metric", "f1", "--min", "0.5", file]) == 2)
        #expect(await Self.exitCode(["--metric", "note", "--min", "0.5", file]) == 2)
        #expect(await Self.exitCode(["--metric", "auc", "--min", "0.5", "/nonexistent/metrics.json"]) == 2)
        #expect(await Self.exitCode(["--metric", "auc", "--min", "0.5", try Self.metricsFile("[0.9]")]) == 2)
        #expect(await Self.exitCode(["--metric", "auc", file]) == 2)
        #expect(await Self.exitCode(["--metric", "auc", "--min", "0.5", "--max", "0.9", file]) == 2)
        #expect(await Self.exitCode(["--metric", "auc", "--min", "high", file]) == 2)
        #expect(await Self.exitCode(["--metric", "auc", "--beats", "production", file]) == 2)
        #expect(await Self.exitCode(["--min", "0.5", file]) == 2)
    }

    @Test func beatsComparesWithTheRegistryInAStateDatabase() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let db = "sqlite:\(directory.appendingPathComponent("state.db").path)"
        let store = try await SourceOptions.openStore(db, creating: true)
        try await RegistryFixture.registerAndPromote(store: store, auc: 0.95, alias: "production")
        try await store.close()
        let better = try Self.metricsFile(#"{"auc": 0.97}"#)
        let worse = try Self.metricsFile(#"{"auc": 0.955}"#)
        let beats = ["--metric", "auc", "--beats", "production", "--by", "0.01", "--model", "digits", "--db", db]
        #expect(await Self.exitCode(beats + [better]) == 0)
        #expect(await Self.exitCode(beats + [worse]) == 1)
        // No model of that name: nothing behind the alias, so nothing to beat.
        #expect(
            await Self.exitCode(["--metric", "auc", "--beats", "production", "--model", "fresh", "--db", db, worse])
                == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
