import SpotwiseCore
import Testing

@Suite struct MoneyTests {
    @Test(
        arguments: [
            ("12", 12_000_000), ("12.5", 12_500_000), ("0.000001", 1), ("99.95", 99_950_000), ("-3.25", -3_250_000),
        ] as [(String, Int64)])
    func decimalDollarsParseExactly(text: String, micros: Int64) {
        #expect(Money(decimalDollars: text) == Money(micros: micros))
    }

    @Test(arguments: ["", ".5", "1.", "1.0000001", "1e3", "abc", "1.2.3", "99999999999999999999"])
    func malformedAmountsDoNotParse(text: String) {
        #expect(Money(decimalDollars: text) == nil)
    }

    @Test func centsRoundHalfAwayFromZero() {
        #expect(Money(micros: 12_345_000).description == "$12.35")
        #expect(Money(micros: 12_344_999).description == "$12.34")
        #expect(Money(micros: -5_000).description == "-$0.01")
        #expect(Money(micros: -4_999).description == "$0.00")
        #expect(Money(micros: 7).exactDescription == "0.000007")
    }

    @Test func sumsAreExact() {
        // 0.1 + 0.2 is not 0.3 in binary floating point; in micro-dollars it is.
        #expect(Money(decimalDollars: "0.1")! + Money(decimalDollars: "0.2")! == Money(decimalDollars: "0.3")!)
    }
}

@Suite struct MoneyDurationTests {
    @Test func aPricePerHourOverADurationRoundsHalfUpToTheMicroDollar() {
        let price = Money(micros: 1_200_000)  // $1.20 per hour
        #expect(price.perHour(over: 3_600_000) == Money(micros: 1_200_000))
        #expect(price.perHour(over: 1_000) == Money(micros: 333))  // 333.33...
        #expect(Money(micros: 5).perHour(over: 360_000) == Money(micros: 1))  // 0.5 rounds up
        #expect(Money(micros: 4).perHour(over: 360_000) == Money(micros: 0))  // 0.4 rounds down
        #expect(price.perHour(over: -5) == .zero)
        // $100/h for a year does not overflow.
        #expect(Money(micros: 100_000_000).perHour(over: 365 * 86_400_000) == Money(micros: 876_000_000_000))
    }
}
