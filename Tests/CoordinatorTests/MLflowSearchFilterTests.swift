import Foundation
import SpotwiseCore
import Testing

@testable import Coordinator

/// The filter grammar MLflow's searches take, and its paging tokens.
@Suite struct MLflowSearchFilterTests {
    let keys = ["name", "run_id"]

    @Test func parsesTheClausesMLflowsClientSends() throws {
        let filter = try MLflowSearchFilter(
            parsing: "name = 'digits-classifier' and `run_id` IN ('job-1', 'job-2')", keys: keys)
        #expect(
            filter.clauses == [
                .init(key: "name", op: .equal, values: ["digits-classifier"]),
                .init(key: "run_id", op: .isIn, values: ["job-1", "job-2"]),
            ])
        #expect(filter.matches(["name": "digits-classifier", "run_id": "job-2"]))
        #expect(!filter.matches(["name": "digits-classifier", "run_id": "job-3"]))
        #expect(try MLflowSearchFilter(parsing: "  ", keys: keys).clauses.isEmpty)
        #expect(try MLflowSearchFilter(parsing: "name != 'a'", keys: keys).matches(["name": "b"]))
        #expect(try MLflowSearchFilter(parsing: "name ILIKE 'DIG%'", keys: keys).matches(["name": "digits"]))
        #expect(!(try MLflowSearchFilter(parsing: "name LIKE 'DIG%'", keys: keys).matches(["name": "digits"])))
        #expect(try MLflowSearchFilter(parsing: "\"name\" = 'it''s'", keys: keys).matches(["name": "it's"]))
        // MLflow 3's client adds this to every search; a tag that is absent reads as empty.
        let prompts = try MLflowSearchFilter(
            parsing: "name = 'm' AND tag.`mlflow.prompt.is_prompt` != 'true'", keys: keys)
        #expect(prompts.clauses.last == .init(key: "tag.mlflow.prompt.is_prompt", op: .notEqual, values: ["true"]))
        #expect(prompts.matches(["name": "m"]))
        #expect(!prompts.matches(["name": "m", "tag.mlflow.prompt.is_prompt": "true"]))
        #expect(try MLflowSearchFilter(parsing: "tags.team = 'vision'", keys: keys).matches(["tag.team": "vision"]))
        // Digits after the first character, as in Spotwise's own spotwise.metric.f1.
        #expect(
            try MLflowSearchFilter(parsing: "tag.k8s = 'x' AND tag.spotwise.metric.f1 = '1.0'", keys: keys).clauses.map(
                \.key) == ["tag.k8s", "tag.spotwise.metric.f1"])
    }

    @Test func refusesWhatItDoesNotAnswerWithWhereAndWhatIsAllowed() {
        let cases: [(String, String)] = [
            ("team = 'x'", "'team' cannot be filtered on here; the keys are 'name', 'run_id', tag.NAME"),
            ("tag. = 'x'", "expected a key"),
            ("name = 'a' OR name = 'b'", "at character 12: expected AND"),
            ("name ~ 'a'", "expected =, !=, LIKE, ILIKE or IN"),
            ("name = a", "expected a value in single quotes"),
            ("name = 'a", "the quoted value is not closed"),
            ("name IN 'a'", "expected ( after IN"),
            ("name IN ('a' 'b')", "expected , or ) in the IN list"),
            ("`name = 'a'", "the quoted key is not closed"),
            ("= 'a'", "expected a key"),
            (String(repeating: "name = 'a' AND ", count: 400), "at most 4096 are read"),
        ]
        for (text, expected) in cases {
            #expect(throws: MLflowSearchFilter.Refusal.self) { try MLflowSearchFilter(parsing: text, keys: keys) }
            do {
                _ = try MLflowSearchFilter(parsing: text, keys: keys)
            } catch {
                #expect(error.message.contains(expected), "\(text.prefix(40)): \(error.message)")
            }
        }
    }

    /// LIKE against a reference built on NSRegularExpression, over random texts and patterns of a
    /// small alphabet (so that matches happen), and in linear time for patterns of many `%`.
    @Test func likeAgreesWithARegularExpressionOnRandomPatterns() throws {
        var random = SeededGenerator(seed: 14)
        let alphabet: [Character] = ["a", "b", "-"]
        for _ in 0..<2_000 {
            let text = String(
                (0..<Int.random(in: 0...8, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            let pattern = String(
                (0..<Int.random(in: 0...6, using: &random)).map { _ in
                    (alphabet + ["%", "_"]).randomElement(using: &random)!
                })
            let regex =
                "^"
                + pattern.map {
                    $0 == "%" ? ".*" : $0 == "_" ? "." : NSRegularExpression.escapedPattern(for: String($0))
                }.joined() + "$"
            let expected =
                try NSRegularExpression(pattern: regex).firstMatch(
                    in: text, range: NSRange(text.startIndex..., in: text)) != nil
            #expect(
                MLflowSearchFilter.like(Array(text.unicodeScalars), Array(pattern.unicodeScalars)) == expected,
                "'\(text)' LIKE '\(pattern)'")
        }
        let long = Array(String(repeating: "a", count: 2_000).unicodeScalars)
        let stars = Array((String(repeating: "%a", count: 1_000) + "b").unicodeScalars)
        #expect(!MLflowSearchFilter.like(long, stars))
    }

    /// A key repeated thousands of times sorts as once: each key is kept once, so a read-only
    /// caller cannot make every comparison walk a long list.
    @Test func repeatedOrderByKeysAreKeptOnce() throws {
        let clauses = Array(repeating: "name DESC", count: 5_000) + ["version_number", "name ASC"]
        let orders = try MLflowAPI.sortOrders(clauses, keys: MLflowAPI.versionOrderKeys)
        #expect(orders.map(\.key) == ["name", "version_number"])
        #expect(orders.map(\.ascending) == [false, true])
        #expect(
            try MLflowAPI.sortOrders([], keys: MLflowAPI.versionOrderKeys).map(\.key) == ["name", "version_number"])
        #expect(throws: (any Error).self) { try MLflowAPI.sortOrders(["size"], keys: MLflowAPI.versionOrderKeys) }
    }

    /// MLflow's client form-encodes its queries: `+` is a space, `%2B` a plus.
    @Test func queriesAreFormDecoded() {
        let query = MLflowQuery("filter=name+%3D+%27a%2Bb%27&order_by=name+DESC&order_by=version_number&empty=&bad=%zz")
        #expect(query["filter"] == "name = 'a+b'")
        #expect(query.all("order_by") == ["name DESC", "version_number"])
        #expect(query["empty"] == "" && query["missing"] == nil && query["bad"] == "%zz")
        #expect(MLflowQuery(nil)["filter"] == nil)
    }

    @Test func pageTokensRoundTripAndForgedOnesAreRefused() throws {
        let page = try MLflowPage(maxResults: "7", pageToken: nil, defaultSize: 100, largest: 1_000)
        let (first, next) = page.slice(Array(1...20))
        #expect(first == Array(1...7))
        let second = try MLflowPage(maxResults: "7", pageToken: next, defaultSize: 100, largest: 1_000)
        #expect(second.slice(Array(1...20)).items == Array(8...14))
        let last = try MLflowPage(
            maxResults: "7", pageToken: MLflowPage.token(offset: 14), defaultSize: 100, largest: 1_000)
        #expect(last.slice(Array(1...20)).items == Array(15...20) && last.slice(Array(1...20)).next == nil)
        #expect(try MLflowPage(maxResults: nil, pageToken: "", defaultSize: 100, largest: 1_000).size == 100)
        let plusFive = Data("offset:+5".utf8).base64EncodedString()
        for (size, token) in [
            ("0", nil), ("1001", nil), ("x", nil), ("+5", nil), ("007", nil), ("", nil), (nil, "forged"),
            (nil, MLflowPage.token(offset: -1)), (nil, plusFive),
        ] {
            #expect(throws: MLflowPage.Refusal.self) {
                try MLflowPage(maxResults: size, pageToken: token, defaultSize: 100, largest: 1_000)
            }
        }
    }
}
