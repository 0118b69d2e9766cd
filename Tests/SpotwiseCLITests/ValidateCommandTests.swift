import Foundation
import SpotwiseCore
import SpotwiseTesting
import Testing

@testable import SpotwiseCLI

@Suite struct ValidateCommandTests {
    @Test func validFilesPrintOkAndPass() throws {
        let examples = try RepositoryPaths.files(in: "jobs", extensions: ["yaml"]).map(\.path)
        let report = Validate.report(for: examples, parser: JobSpecParser())
        #expect(!report.failed)
        #expect(report.text == examples.map { "\($0): ok\n" }.joined())
    }

    @Test func oneBadFileFailsTheRunButEveryFileIsReported() throws {
        let good = RepositoryPaths.url("jobs/digits.yaml").path
        let bad = RepositoryPaths.url("Tests/SpotwiseCoreTests/Fixtures/bad/nodes-zero.yaml").path
        let report = Validate.report(for: [bad, good], parser: JobSpecParser())
        #expect(report.failed)
        #expect(report.text.hasPrefix("\(bad):4:10: error: resources.nodes: out of range; found 0"))
        #expect(report.text.hasSuffix("\(good): ok\n"))
    }

    @Test func theCommandLineParsesVerbsAndVersion() throws {
        let command = try Spotwise.parseAsRoot(["validate", "a.yaml", "b.yaml"])
        #expect((command as? Validate)?.files == ["a.yaml", "b.yaml"])
        #expect(Spotwise.configuration.version == SpotwiseVersion.current)
        #expect(Spotwise.helpMessage().contains("validate"))
    }
}
