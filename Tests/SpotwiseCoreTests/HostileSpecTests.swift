import Foundation
import Testing

@testable import SpotwiseCore

/// Issue 14, items 1, 2 and 5: specs that took a coordinator or `spotwise validate` down. Each is
/// refused by the parser (the API and the CLI share it) with a clear message, before any tree is
/// built from it.
@Suite struct HostileSpecTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-29T12:00:00Z")!

    func problems(_ text: String) -> [SpecDiagnostic] {
        switch JobSpecParser(now: Self.now).parse(Array(text.utf8), file: "hostile.yaml") {
        case .success: return []
        case .failure(let error): return error.diagnostics
        }
    }

    /// "Billion laughs": each level lists the previous one ten times.
    static func aliasBomb(levels: Int, under field: String = "hyperparameters") -> String {
        var lines = ["name: bomb", "run: python3 train.py", "\(field):", "  l0: &l0 [\"lol\"]"]
        for level in 1...levels {
            let items = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",")
            lines.append("  l\(level): &l\(level) [\(items)]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test(arguments: [6, 9, 30])
    func anAliasBombIsRefusedBeforeItExpands(levels: Int) throws {
        let text = Self.aliasBomb(levels: levels)
        #expect(text.utf8.count < 2_000)
        let found = problems(text)
        let first = try #require(found.first)
        #expect(first.problem == "expands to too many nodes")
        #expect(first.allowed == "at most \(InputLimits.maxExpandedNodes) nodes (anchors and aliases included)")
        #expect(first.line > 3)
    }

    @Test func aliasedMappingKeysAreCountedLikeAnyAlias() throws {
        // Yams hashes mapping keys node by node while composing: a key that is an alias of an
        // alias of ... costs as much as its expansion.
        var lines = ["name: keys", "run: python3 train.py", "hyperparameters:", "  k0: &k0 {a: 1, b: 2, c: 3, d: 4}"]
        for level in 1...12 {
            let keys = (0..<8).map { "? [*k\(level - 1), \($0)] : \($0)" }.joined(separator: ", ")
            lines.append("  k\(level): &k\(level) {\(keys)}")
        }
        let first = try #require(problems(lines.joined(separator: "\n")).first)
        #expect(first.problem == "expands to too many nodes")
    }

    @Test(arguments: [65, 600, 990])
    func deeplyNestedHyperparametersAreRefused(depth: Int) throws {
        let nested = String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth)
        let first = try #require(problems("name: deep\nrun: python3 train.py\nhyperparameters: \(nested)\n").first)
        #expect(first.problem == "nested too deeply")
        #expect(first.allowed == "at most \(InputLimits.maxNestingDepth) levels")
    }

    @Test func nestingJustInsideTheLimitIsFine() {
        // The document's own mapping is the first level.
        let depth = InputLimits.maxNestingDepth - 1
        let nested = String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(problems("name: deep\nrun: python3 train.py\nhyperparameters: \(nested)\n").isEmpty)
    }

    @Test func anAliasThatNestsPastTheLimitOnceExpandedIsRefused() throws {
        let depth = 40
        let nested = String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth)
        let text = """
            name: deep
            run: python3 train.py
            hyperparameters:
              x: &x \(nested)
              y: \(String(repeating: "{b: ", count: 30))*x\(String(repeating: "}", count: 30))

            """
        let first = try #require(problems(text).first)
        #expect(first.problem == "nested too deeply")
        #expect(first.found?.contains("alias *x") == true)
    }

    @Test func tooManyAliasesAreRefused() throws {
        let items = Array(repeating: "*v", count: InputLimits.maxAliases + 1).joined(separator: ", ")
        let text = "name: many\nrun: python3 train.py\nhyperparameters:\n  v: &v 1\n  list: [\(items)]\n"
        let first = try #require(problems(text).first)
        #expect(first.problem == "too many aliases")
    }

    @Test func ordinaryAnchorsStillWork() throws {
        let text = """
            name: anchors
            run: python3 train.py
            env: &common
              LOG_LEVEL: info
              SEED: "7"
            hyperparameters:
              optimizer: &adam {name: adam, lr: 0.001}
              warmup: *adam
              layers: [64, 64, 32]

            """
        #expect(problems(text).isEmpty)
        let spec = try JobSpecParser(now: Self.now).parse(Array(text.utf8), file: "anchors.yaml").get()
        #expect(spec.env["SEED"] == "7")
    }

    @Test func aSpecLargerThanTheLimitIsRefusedBeforeParsing() throws {
        let line = "# padding line of a spec that is far too long\n"
        let padding = String(repeating: line, count: InputLimits.maxSpecBytes / line.utf8.count + 1)
        let text = "name: big\nrun: python3 train.py\n" + padding
        #expect(text.utf8.count > InputLimits.maxSpecBytes)
        let first = try #require(problems(text).first)
        #expect(first.problem == "spec too large")
        #expect(first.allowed == "at most \(InputLimits.maxSpecBytes) bytes")
    }

    @Test(arguments: ["999999999999999d", "365d", "90d1s", "2161h", "9999-12-31T00:00:00Z", "2027-03-01T00:00:00Z"])
    func deadlinesPastNinetyDaysAreRefused(deadline: String) throws {
        let first = try #require(problems("name: far\nrun: python3 train.py\ndeadline: \(deadline)\n").first)
        #expect(first.field == "deadline")
        #expect(first.problem == "deadline too far away")
    }

    @Test(arguments: ["90d", "2160h", "30d", "2027-02-27T12:00:00Z"])
    func deadlinesUpToNinetyDaysAreAccepted(deadline: String) {
        #expect(problems("name: far\nrun: python3 train.py\ndeadline: \(deadline)\n").isEmpty)
    }
}
