import Foundation
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

    func verdicts(for files: [URL]) throws -> [String: Verdict] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", RepositoryPaths.url("scripts/check-job-spec-schema.py").path,
                RepositoryPaths.url("docs/job-spec.schema.json").path,
            ] + files.map(\.path)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0,
            "the schema checker failed (run ./setup.sh for PyYAML and jsonschema): \(errorText)")
        var byName: [String: Verdict] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let verdict = try JSONDecoder().decode(Verdict.self, from: Data(line.utf8))
            byName[URL(fileURLWithPath: verdict.file).lastPathComponent] = verdict
        }
        return byName
    }

    @Test func schemaAcceptsEveryExample() throws {
        let examples = try RepositoryPaths.files(in: "jobs", extensions: ["yaml"])
        let results = try verdicts(for: examples)
        #expect(results.count == examples.count)
        for (name, verdict) in results {
            #expect(verdict.verdict == "accepted", "\(name): \(verdict.why)")
        }
    }

    @Test func schemaRejectsEveryBadFixtureItCanExpress() throws {
        let fixtures = try RepositoryPaths.files(in: SpecFixtureTests.badDirectory, extensions: ["yaml", "json"])
        let results = try verdicts(for: fixtures)
        #expect(results.count == fixtures.count)
        for (name, verdict) in results {
            let expected = Self.beyondASchema[name] == nil ? "rejected" : "accepted"
            #expect(verdict.verdict == expected, "\(name): the schema \(verdict.verdict) it \(verdict.why)")
        }
    }
}
