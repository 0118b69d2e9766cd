import SpotwiseCore
import Testing

/// The byte scan that refuses a deep JSON body before a decoder recurses into it.
@Suite struct InputLimitsTests {
    static func depth(_ text: String) -> Int? {
        // The smallest limit the text stays within.
        (0...100).first { InputLimits.jsonNestingBeyond($0, in: Array(text.utf8)) == nil }
    }

    @Test func theOutermostCollectionCountsAndStringsDoNot() {
        #expect(Self.depth("") == 0)
        #expect(Self.depth("1") == 0)
        #expect(Self.depth("{}") == 1)
        #expect(Self.depth(#"{"a": [1, {"b": []}]}"#) == 4)
        #expect(Self.depth(#"{"a": "[[[[{{{{"}"#) == 1)
        #expect(Self.depth(#"{"a": "\"[[[[", "b": "\\", "c": [1]}"#) == 2)
        #expect(Self.depth("]]]]{") == 1)
    }

    @Test func theLineAndColumnAreWhereTheLimitIsPassed() throws {
        let text = "{\n  \"é\": [[\n[\n"
        let at = try #require(InputLimits.jsonNestingBeyond(3, in: Array(text.utf8)))
        #expect(at.line == 3 && at.column == 1)
        #expect(InputLimits.jsonNestingBeyond(4, in: Array(text.utf8)) == nil)
    }

    @Test func aMillionOpenBracketsStopAtTheLimit() {
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
        #expect(InputLimits.jsonNestingBeyond(InputLimits.maxNestingDepth, in: bytes)?.column == 65)
    }
}
