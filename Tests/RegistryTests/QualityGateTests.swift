import Registry
import SpotwiseCore
import Testing

@Suite struct QualityGateTests {
    @Test func thresholdsPassAndFailWithTheirNumbersInTheReason() {
        let gate = QualityGate(metric: "auc", rule: .atLeast(0.85))
        let pass = gate.evaluate(["auc": 0.9984])
        #expect(pass.passed && pass.reason == "auc 0.9984 >= 0.85")
        let fail = gate.evaluate(["auc": 0.84])
        #expect(!fail.passed && fail.reason == "auc 0.84 < 0.85")
        #expect(gate.evaluate(["auc": 0.85]).passed, "the bound itself passes")
        let loss = QualityGate(metric: "loss", rule: .atMost(0.3))
        #expect(loss.evaluate(["loss": 0.2]).passed && !loss.evaluate(["loss": 0.31]).passed)
    }

    @Test func aMissingOrNonFiniteMetricFails() {
        let gate = QualityGate(metric: "auc", rule: .atLeast(0.85))
        let missing = gate.evaluate(["accuracy": 0.99])
        #expect(!missing.passed && missing.reason.contains("missing") && missing.reason.contains("accuracy"))
        #expect(!gate.evaluate([:]).passed)
        #expect(!gate.evaluate(["auc": .nan]).passed)
        #expect(!QualityGate(metric: "loss", rule: .atMost(1)).evaluate(["loss": -.infinity]).passed)
    }

    @Test func beatingAnAliasNeedsTheMargin() {
        let gate = QualityGate(metric: "auc", rule: .beatsAlias("production", by: 0.01))
        let baseline = GateBaseline(alias: "production", version: 3, metrics: ["auc": 0.90])
        #expect(gate.evaluate(["auc": 0.911], baseline: baseline).passed)
        let short = gate.evaluate(["auc": 0.905], baseline: baseline)
        #expect(
            !short.passed && short.reason.contains("version 3") && short.reason.contains("not at least 0.01 better"))
        let strict = QualityGate(metric: "auc", rule: .beatsAlias("production", by: 0))
        #expect(!strict.evaluate(["auc": 0.90], baseline: baseline).passed, "equal does not beat")
        #expect(strict.evaluate(["auc": 0.9001], baseline: baseline).passed)
        // Nothing behind the alias: the first model has nothing to beat.
        let first = gate.evaluate(["auc": 0.5], baseline: nil)
        #expect(first.passed && first.reason.contains("nothing to beat"))
        // A baseline without the metric cannot be beaten or compared: a failure.
        #expect(
            !gate.evaluate(["auc": 0.99], baseline: GateBaseline(alias: "production", version: 1, metrics: [:])).passed)
        #expect(!gate.evaluate(["loss": 0.1], baseline: baseline).passed)
    }

    @Test func referencesParseAndBadOnesSayWhatIsAllowed() throws {
        #expect(try ModelReference(parsing: "digits") == ModelReference(model: "digits", selector: .latest))
        #expect(try ModelReference(parsing: "digits:3") == ModelReference(model: "digits", selector: .version(3)))
        #expect(
            try ModelReference(parsing: "digits@production")
                == ModelReference(model: "digits", selector: .alias("production")))
        #expect(try ModelReference(parsing: "Digits_v2.1:2").model == "Digits_v2.1", "the spec's model names")
        for bad in ["digits:0", "digits:x", "../etc", "-digits", "digits@Prod", "", "digits@", "a/b"] {
            #expect(throws: RegistryError.self, "\(bad)") { try ModelReference(parsing: bad) }
        }
        do {
            _ = try ModelReference(parsing: "digits:x")
        } catch {
            #expect(error.description.contains("digits:3"))
        }
    }
}
