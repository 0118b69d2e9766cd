import Coordinator
import Testing

@Suite struct AccessTokensTests {
    /// A token beginning with '-' read as an option on the worker's command line: one demo in 64
    /// started workers that all exited at once, and it waited for them forever.
    @Test func generatedTokensAreLongUrlSafeAndNeverLookLikeAnOption() {
        var seen: Set<String> = []
        for _ in 0..<5_000 {
            let token = AccessTokens.generate()
            #expect(token.count == 43)
            #expect(token.first.map { $0.isLetter || $0.isNumber } == true, "\(token)")
            #expect(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            seen.insert(token)
        }
        #expect(seen.count == 5_000)
    }
}
