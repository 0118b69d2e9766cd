import Foundation
import SpotwiseCore
import SpotwiseTesting
import Testing

@Suite struct JobSpecParserTests {
    let now = ISO8601DateFormatter().date(from: "2026-11-29T12:00:00Z")!

    func parse(_ yaml: String) -> Result<JobSpec, SpecValidationError> {
        JobSpecParser(now: now).parse(Array(yaml.utf8), file: "spec.yaml")
    }

    func diagnostics(_ yaml: String) -> [SpecDiagnostic] {
        if case .failure(let error) = parse(yaml) { return error.diagnostics }
        return []
    }

    @Test func minimalSpecGetsEveryDefault() throws {
        let spec = try parse("name: tiny\nrun: python3 train.py\n").get()
        #expect(spec.name == "tiny")
        #expect(spec.workdir == ".")
        #expect(spec.resources.nodes == .fixed(1))
        #expect(spec.providers == [ProviderPreference(name: .local)])
        #expect(spec.market == .auto)
        #expect(spec.deadline == nil)
        #expect(spec.checkpoint == CheckpointPolicy(everySteps: 100, keepLast: 3, storage: .file(path: "checkpoints")))
        #expect(spec.retries.maxPreemptions == nil)
        #expect(spec.retries.maxFailures == 2)
        #expect(spec.register == nil)
        #expect(spec.maxCost == nil)
    }

    @Test func fullSpecDecodesEveryField() throws {
        let spec = try parse(
            """
            name: full
            run: torchrun train.py
            workdir: src
            env: {A: "1", B: 2}
            resources: {accelerator: "A100:8", nodes: {min: 2, max: 4}, cpus: 7.5, memory: 16GiB}
            providers:
              - {name: sagemaker, regions: [us-east-1], instance_type: ml.p4d.24xlarge}
              - name: modal
            market: spot
            deadline: 1h30m
            checkpoint: {every_steps: 25, keep_last: 5, storage: "s3://my-bucket/ckpt/"}
            retries: {max_preemptions: 3, max_failures: 0, retry_on_exit_codes: [137, 3]}
            hyperparameters: {lr: 0.01, layers: [64, 32], name: x, warm: true}
            register: {model: clf, gate: {metric: loss, max: 0.3}}
            tags: {team: ml, project: p1}
            max_cost: 99.95
            """
        ).get()
        #expect(spec.workdir == "src")
        #expect(spec.env == ["A": "1", "B": "2"])
        #expect(spec.resources.accelerator == Accelerator(model: "A100", count: 8))
        #expect(spec.resources.nodes == .elastic(min: 2, max: 4))
        #expect(spec.resources.cpus == 7.5)
        #expect(spec.resources.memoryBytes == Int64(17_179_869_184))
        #expect(spec.providers.map(\.name) == [.sagemaker, .modal])
        #expect(spec.providers[0].instanceType == "ml.p4d.24xlarge")
        #expect(spec.market == .spot)
        #expect(spec.deadline == .afterSubmission(seconds: 5_400))
        #expect(spec.checkpoint.storage == .s3(bucket: "my-bucket", prefix: "ckpt"))
        #expect(spec.retries == RetryPolicy(maxPreemptions: 3, maxFailures: 0, retryOnExitCodes: [137, 3]))
        #expect(spec.hyperparameters["lr"] == .double(0.01))
        #expect(spec.hyperparameters["layers"] == .array([.int(64), .int(32)]))
        #expect(spec.hyperparameters["warm"] == .bool(true))
        #expect(spec.register == Registration(model: "clf", gate: QualityGate(metric: "loss", rule: .atMost(0.3))))
        #expect(spec.tags == ["team": "ml", "project": "p1"])
        #expect(spec.maxCost == Money(micros: 99_950_000))
    }

    @Test func everyExampleSurvivesTheJSONTheStateStoreKeepsItAs() throws {
        // The store persists specs as JSON and compares them for idempotency keys: 1 must stay
        // an int (not true), 0.5 a double, and nothing may be dropped.
        for example in try RepositoryPaths.files(in: "jobs", extensions: ["yaml"]) {
            let spec = try JobSpecParser(now: now).parse(contentsOf: example).get()
            let back = try JSONDecoder().decode(JobSpec.self, from: try JSONEncoder().encode(spec))
            #expect(back == spec, "\(example.lastPathComponent)")
        }
        let flags = try parse("name: f\nrun: x\nhyperparameters: {one: 1, zero: 0, yes: true, half: 0.5, none: null}")
            .get()
        let back = try JSONDecoder().decode(JobSpec.self, from: try JSONEncoder().encode(flags))
        #expect(back.hyperparameters["one"] == .int(1) && back.hyperparameters["yes"] == .bool(true))
        #expect(back == flags)
    }

    @Test func jsonIsAcceptedAsWellAsYAML() throws {
        let spec = try parse(#"{"name": "j", "run": "x", "resources": {"nodes": 3}}"#).get()
        #expect(spec.resources.nodes == .fixed(3))
    }

    @Test func equalMinAndMaxIsAFixedGang() throws {
        #expect(try parse("name: g\nrun: x\nresources: {nodes: {min: 2, max: 2}}").get().resources.nodes == .fixed(2))
    }

    @Test func absoluteDeadlineInTheFutureIsKept() throws {
        let spec = try parse("name: d\nrun: x\ndeadline: 2026-11-30T00:00:00Z\n").get()
        #expect(spec.deadline == .at(ISO8601DateFormatter().date(from: "2026-11-30T00:00:00Z")!))
        #expect(spec.deadline?.instant(submittedAt: now) == ISO8601DateFormatter().date(from: "2026-11-30T00:00:00Z"))
    }

    @Test func aDeadlineJustPastIsRefusedButOneJustAheadIsNot() {
        #expect(
            diagnostics("name: d\nrun: x\ndeadline: 2026-11-29T11:59:59Z").map(\.problem) == ["deadline is in the past"]
        )
        #expect(diagnostics("name: d\nrun: x\ndeadline: 2026-11-29T12:00:01Z").isEmpty)
    }

    @Test func unknownFieldNamesTheNearestKnownOne() {
        let found = diagnostics("name: x\nrun: x\nmax_costs: 3\n")
        #expect(found.count == 1)
        #expect(found[0].hint == "did you mean 'max_cost'?")
        #expect(found[0].line == 3 && found[0].column == 1)
    }

    @Test func farMissesGetNoSuggestion() {
        #expect(diagnostics("name: x\nrun: x\nbanana: 3\n").first?.hint == nil)
    }

    @Test func quotedNumbersAreNotNumbers() {
        let found = diagnostics("name: x\nrun: x\nresources: {nodes: \"2\"}")
        #expect(found.map(\.field) == ["resources.nodes"])
        #expect(found.first?.found == "\"2\"")
    }

    @Test func numbersWhereTextBelongsSayHowToFixIt() {
        let found = diagnostics("name: 42\nrun: x")
        #expect(found.first?.hint == "quote it to use it as text")
    }

    @Test func aGateNeedsExactlyOneRule() {
        #expect(
            diagnostics("name: x\nrun: x\nregister: {model: m, gate: {metric: auc}}").first?.problem
                == "gate without a rule")
        #expect(
            diagnostics("name: x\nrun: x\nregister: {model: m, gate: {metric: auc, min: 0.8, by: 0.1}}").first?.problem
                == "'by' only goes with 'beats'")
        let beats = try? parse("name: x\nrun: x\nregister: {model: m, gate: {metric: auc, beats: production}}").get()
        #expect(beats?.register?.gate?.rule == .beatsAlias("production", by: 0))
    }

    @Test func unlimitedPreemptionsIsAWord() throws {
        #expect(try parse("name: x\nrun: x\nretries: {max_preemptions: unlimited}").get().retries.maxPreemptions == nil)
        #expect(
            diagnostics("name: x\nrun: x\nretries: {max_preemptions: lots}").first?.field == "retries.max_preemptions")
    }

    @Test func s3PrefixesWithDotDotAreRefused() {
        #expect(diagnostics("name: x\nrun: x\ncheckpoint: {storage: \"s3://bucket/a/../b\"}").count == 1)
        #expect(diagnostics("name: x\nrun: x\ncheckpoint: {storage: \"s3://Bad_Bucket/a\"}").count == 1)
        #expect(diagnostics("name: x\nrun: x\ncheckpoint: {storage: \"file:///abs/path\"}").isEmpty)
    }

    @Test func anchorsAndAliasesResolve() throws {
        let spec = try parse("name: x\nrun: x\ntags: &t {team: a}\nhyperparameters: *t\n").get()
        #expect(spec.hyperparameters["team"] == .string("a"))
    }

    @Test(arguments: [
        ("36h", 129_600.0), ("90m", 5_400), ("1h30m", 5_400), ("2d", 172_800), ("45s", 45), ("0.5h", 1_800),
        ("1d12h", 129_600),
    ])
    func durationsParse(text: String, seconds: Double) {
        #expect(SpecValueParsingProbe.duration(text) == seconds)
    }

    @Test(arguments: ["", "h", "36", "36x", "1m1h", "1h1h", "-5h", "1.h", ".5h", "1h30"])
    func malformedDurationsDoNotParse(text: String) {
        #expect(SpecValueParsingProbe.duration(text) == nil)
    }

    @Test func nonUTF8PointsAtTheBadByte() {
        let bytes: [UInt8] = Array("name: ok\nrun: caf".utf8) + [0xFF] + Array("\n".utf8)
        guard case .failure(let error) = JobSpecParser(now: now).parse(bytes, file: "f.yaml") else {
            Issue.record("non-UTF-8 accepted")
            return
        }
        #expect(error.diagnostics.count == 1)
        #expect(error.diagnostics[0].line == 2 && error.diagnostics[0].column == 9)
        #expect(error.diagnostics[0].found == "byte 0xFF")
    }

    @Test func anUnreadableFileIsOneClearError() {
        let result = JobSpecParser(now: now).parse(contentsOf: URL(fileURLWithPath: "/nonexistent/spec.yaml"))
        guard case .failure(let error) = result else {
            Issue.record("a missing file validated")
            return
        }
        #expect(error.diagnostics.first?.problem == "cannot read the file")
    }
}

/// Reaches the internal duration grammar through the public parser: a spec whose deadline is
/// the text either validates (and gives seconds) or is refused.
enum SpecValueParsingProbe {
    static func duration(_ text: String) -> Double? {
        let yaml = "name: x\nrun: x\ndeadline: \"\(text)\"\n"
        guard case .success(let spec) = JobSpecParser().parse(Array(yaml.utf8), file: "probe.yaml"),
            case .afterSubmission(let seconds) = spec.deadline
        else { return nil }
        return seconds
    }
}
