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

    /// Worker secrets are stored as lowercase hex SHA-256: the known digests of FIPS 180-2's
    /// examples, so a faster hex encoder can never store a digest no token matches.
    @Test func tokenDigestsAreLowercaseHexSHA256() {
        #expect(
            AccessTokens.hexDigest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(AccessTokens.hexDigest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
