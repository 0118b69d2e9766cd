import Foundation
import SpotwiseTesting
import Testing

/// Tests that need PostgreSQL or moto must be reported as skipped without them, never pass by
/// returning early: these read the test sources and fail on a test that would.
@Suite struct ServerGatingTests {
    /// Every `.swift` file under `Tests/` but this one, with its path relative to the repository.
    static func testSources() throws -> [(path: String, text: String)] {
        let root = RepositoryPaths.url("Tests")
        let walker = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        return try walker.compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" && $0.lastPathComponent != "ServerGatingTests.swift" }
            .map { url in
                (
                    String(url.path.dropFirst(RepositoryPaths.root.path.count + 1)),
                    try String(contentsOf: url, encoding: .utf8)
                )
            }
            .sorted { $0.path < $1.path }
    }

    @Test func noTestReadsAServerVariableItselfOrSaysSkippedAndReturns() throws {
        let sources = try Self.testSources()
        #expect(sources.count > 20, "found only \(sources.count) test sources under Tests/")
        for (path, text) in sources {
            for forbidden in [#"environment["SPOTWISE_TEST_"#, #"print("skipped"#] {
                #expect(
                    !text.contains(forbidden),
                    "\(path) has \(forbidden): use TestServers and the .needsPostgres / .needsMoto traits")
            }
        }
    }

    @Test func everyStoreConformanceTestHasATwinOnPostgres() throws {
        let sources = try Self.testSources().filter { $0.path.hasPrefix("Tests/StateStoreTests/") }
        let all = sources.map(\.text).joined(separator: "\n")
        let parameterized = all.matches(of: #/func (\w+)\(kind: StoreKind\)/#).map { String($0.output.1) }
        #expect(parameterized.count >= 22, "found only \(parameterized.count) tests parameterized on StoreKind")
        let compact = all.filter { !$0.isWhitespace }
        for name in parameterized {
            #expect(
                compact.contains(".\(name)(kind:.postgres)"),
                "\(name)(kind:) has no twin on PostgreSQL: add one to its file's ...OnPostgres suite (.needsPostgres)")
        }
        #expect(
            compact.firstMatch(of: #/arguments:\[[^\]]*\.postgres/#) == nil,
            "PostgreSQL in a test's arguments: it runs without .needsPostgres there")
        for suite in all.matches(of: #/@Suite(\([^)]*\))? struct (\w+OnPostgres)/#) {
            #expect(suite.output.1 == "(.needsPostgres)", "\(suite.output.2) does not carry .needsPostgres")
        }
    }
}
