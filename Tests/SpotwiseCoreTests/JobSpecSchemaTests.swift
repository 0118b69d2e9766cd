import Foundation
import Spawning
import SpotwiseTesting
import Testing

/// The JSON Schema editors use must agree with `spotwise validate`: it accepts every example and
/// rejects every bad fixture, except the few whose problem a schema cannot express.
@Suite struct JobSpecSchemaTests {
    /// Problems that need the clock or compare two fields; only `spotwise validate` catches them.
    static let beyondASchema: [String: String] = [
        "deadline-in-past.yaml": "needs the current time",
        "deadline-too-far-absolute.yaml": "needs the current time",
        "deadline-too-far.yaml": "adds up a duration's units against 90 days",
        "nodes-min-greater-than-max.yaml": "compares two fields",
        "duplicate-field.yaml": "PyYAML keeps the last of duplicate keys, so the schema never sees both",
        "empty-field-twice.yaml": "PyYAML keeps the last of duplicate keys, so the schema never sees both",
    ]

    struct Verdict: Decodable {
        var file: String
        var verdict: String
        var why: String
    }

    /// The checker's verdict on each file, by file name. Its stderr goes to a file of its own (a
    /// shell redirects it and execs Python, as a `ChildProcess`), so a warning never splits a
    /// verdict line.
    func verdicts(for files: [URL]) async throws -> [String: Verdict] {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString).err")
        defer { try? FileManager.default.removeItem(at: errors) }
        let process = try ChildProcess(
            executable: "/bin/sh",
            arguments: [
                "-c", #"err=$1 && shift && exec "$@" 2>"$err""#, "sh", errors.path, "/usr/bin/env", "python3",
                RepositoryPaths.url("scripts/check-job-spec-schema.py").path,
                RepositoryPaths.url("docs/job-spec.schema.json").path,
            ] + files.map(\.path),
            environment: ProcessInfo.processInfo.environment)
        let lines = await process.waitForEndOfOutput()
        let status = await process.waitForExit()
        let errorText = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        try #require(
            status == 0, "the schema checker failed (run ./setup.sh for PyYAML and jsonschema): \(errorText)")
        var byName: [String: Verdict] = [:]
        for line in lines where !line.isEmpty {
            let verdict = try JSONDecoder().decode(Verdict.self, from: Data(line.utf8))
            byName[URL(fileURLWithPath: verdict.file).lastPathComponent] = verdict
        }
        return byName
    }

    @Test func schemaAcceptsEveryExample() async throws {
        let examples = try RepositoryPaths.files(in: "jobs", extensions: ["yaml"])
        let results = try await verdicts(for: examples)
        #expect(results.count == examples.count)
        for (name, verdict) in results {
            #expect(verdict.verdict == "accepted", "\(name): \(verdict.why)")
        }
    }

    @Test func schemaRejectsEveryBadFixtureItCanExpress() async throws {
        let fixtures = try RepositoryPaths.files(in: SpecFixtureTests.badDirectory, extensions: ["yaml", "json"])
        let results = try await verdicts(for: fixtures)
        #expect(results.count == fixtures.count)
        for (name, verdict) in results {
            let expected = Self.beyondASchema[name] == nil ? "rejected" : "accepted"
            #expect(verdict.verdict == expected, "\(name): the schema \(verdict.verdict) it \(verdict.why)")
        }
    }
}
