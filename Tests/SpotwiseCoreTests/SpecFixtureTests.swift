import Foundation
import SpotwiseCore
import SpotwiseTesting
import Testing

/// Every bad fixture must produce exactly the messages in its `.expected` file; every example
/// spec must validate. Set SPOTWISE_UPDATE_GOLDENS=1 to rewrite the `.expected` files (then
/// read the diff before committing it).
@Suite struct SpecFixtureTests {
    static let fixedNow = ISO8601DateFormatter().date(from: "2026-11-29T12:00:00Z")!
    static let badDirectory = "Tests/SpotwiseCoreTests/Fixtures/bad"

    static func badFixtures() throws -> [URL] {
        try RepositoryPaths.files(in: badDirectory, extensions: ["yaml", "json"])
    }

    @Test func thereAreAtLeastTwentyFiveBadFixtures() throws {
        #expect(try Self.badFixtures().count >= 25)
    }

    @Test(arguments: try badFixtures())
    func badFixtureReportsItsExactErrors(fixture: URL) throws {
        let parser = JobSpecParser(now: Self.fixedNow)
        let result = parser.parse(contentsOf: fixture, displayName: fixture.lastPathComponent)
        guard case .failure(let error) = result else {
            Issue.record("\(fixture.lastPathComponent) validated, but it is a bad fixture")
            return
        }
        let actual = error.description + "\n"
        let expectedURL = fixture.deletingPathExtension().appendingPathExtension("expected")
        if ProcessInfo.processInfo.environment["SPOTWISE_UPDATE_GOLDENS"] == "1" {
            try actual.write(to: expectedURL, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(actual == expected)
        // Every message names the file, a line and column, and a field.
        for diagnostic in error.diagnostics {
            #expect(diagnostic.file == fixture.lastPathComponent)
            #expect(diagnostic.line >= 1 && diagnostic.column >= 1)
            #expect(!diagnostic.field.isEmpty)
        }
    }

    @Test func everyExampleSpecValidates() throws {
        let examples = try RepositoryPaths.files(in: "jobs", extensions: ["yaml"])
        #expect(examples.count >= 2)
        for example in examples {
            let result = JobSpecParser(now: Self.fixedNow).parse(contentsOf: example)
            if case .failure(let error) = result {
                Issue.record("\(example.lastPathComponent) does not validate:\n\(error)")
            }
        }
    }

    @Test func examplesCoverOneSingleNodeAndOneMultiNodeJob() throws {
        let specs = try RepositoryPaths.files(in: "jobs", extensions: ["yaml"]).compactMap {
            try? JobSpecParser(now: Self.fixedNow).parse(contentsOf: $0).get()
        }
        #expect(specs.contains { $0.resources.nodes.maximumCount == 1 })
        #expect(specs.contains { $0.resources.nodes.maximumCount > 1 })
    }

    @Test func allErrorsOfAFileAreReportedTogether() throws {
        let fixture = RepositoryPaths.url("\(Self.badDirectory)/many-errors.yaml")
        let result = JobSpecParser(now: Self.fixedNow).parse(contentsOf: fixture)
        guard case .failure(let error) = result else {
            Issue.record("many-errors.yaml validated")
            return
        }
        #expect(error.diagnostics.count >= 10)
        let lines = error.diagnostics.map(\.line)
        #expect(lines == lines.sorted())
    }
}
