import Foundation
import SpotwiseCore
import StateStore
import Testing

@testable import Registry

@Suite struct ModelRegistryTests {
    static let artifact = ModelArtifact(
        storage: "file://checkpoints", location: "j/model-attempt-1", manifestDigest: String(repeating: "b", count: 64),
        bytes: 100)

    /// A succeeded job of `model` with `metrics` and (unless told otherwise) a committed output.
    static func finishedJob(
        _ id: String, in store: InMemoryStateStore, model: String = "digits", gate: QualityGate?,
        metrics: [String: Double], artifact: ModelArtifact? = artifact
    ) async throws -> StoredJob {
        var spec = JobSpec(name: "digits-\(id)", run: "python3 train.py")
        spec.register = Registration(model: model, gate: gate)
        spec.hyperparameters = ["learning_rate": .double(0.1)]
        let job = try await store.submit(
            JobSubmission(id: JobID(id), spec: spec, idempotencyKey: nil, submittedAt: Date())
        ).job
        var record = job.record
        record.state = .succeeded
        record.finalMetrics = metrics
        record.outputArtifact = artifact
        record.attemptCount = 3
        record.preemptions = 2
        return try await store.update(job.id, expectedVersion: job.version, record: record, events: [], at: Date())
    }

    @Test func aPassingJobBecomesTheNextVersionWithItsLineageAndAFailingOneOnlyARejection() async throws {
        let store = InMemoryStateStore()
        let registry = ModelRegistry(store: store)
        let gate = QualityGate(metric: "auc", rule: .atLeast(0.85))
        let good = try await Self.finishedJob("a", in: store, gate: gate, metrics: ["auc": 0.99, "accuracy": 0.95])
        let decided = try #require(try await registry.decide(good, cost: Money(micros: 5_277), now: Date()))
        #expect(decided.accepted && decided.version == 1 && decided.reason == "gate auc >= 0.85: auc 0.99 >= 0.85")
        let version = try #require(try await store.modelVersions(model: "digits").first)
        #expect(version.artifact == Self.artifact && version.metrics["accuracy"] == 0.95)
        #expect(
            version.lineage.attempts == 3 && version.lineage.interruptions == 2 && version.lineage.costUSD == "0.005277"
        )
        #expect(version.hyperparameters["learning_rate"] == .double(0.1))

        let bad = try await Self.finishedJob("b", in: store, gate: gate, metrics: ["auc": 0.7])
        let rejected = try #require(try await registry.decide(bad, cost: .zero, now: Date()))
        #expect(!rejected.accepted && rejected.version == nil && rejected.reason.contains("0.7 < 0.85"))
        let missing = try await Self.finishedJob("c", in: store, gate: gate, metrics: ["accuracy": 0.99])
        #expect(try await registry.decide(missing, cost: .zero, now: Date())?.accepted == false)
        let noOutput = try await Self.finishedJob("d", in: store, gate: gate, metrics: ["auc": 0.99], artifact: nil)
        let refused = try #require(try await registry.decide(noOutput, cost: .zero, now: Date()))
        #expect(!refused.accepted && refused.reason.contains("not committed"))
        #expect(try await store.modelVersions(model: "digits").count == 1, "rejections create no version")
        let listed = try #require(try await registry.list().first)
        #expect(listed.versions == 1 && listed.rejected == 3)
    }

    @Test func beatsAliasComparesWithTheVersionBehindIt() async throws {
        let store = InMemoryStateStore()
        let registry = ModelRegistry(store: store)
        let gate = QualityGate(metric: "auc", rule: .beatsAlias("production", by: 0.01))
        let first = try await Self.finishedJob("a", in: store, gate: gate, metrics: ["auc": 0.90])
        #expect(try await registry.decide(first, cost: .zero, now: Date())?.version == 1)
        try await registry.promote(model: "digits", version: 1, alias: "production", now: Date())
        let slightly = try await Self.finishedJob("b", in: store, gate: gate, metrics: ["auc": 0.905])
        #expect(try await registry.decide(slightly, cost: .zero, now: Date())?.accepted == false)
        let clearly = try await Self.finishedJob("c", in: store, gate: gate, metrics: ["auc": 0.93])
        let decision = try #require(try await registry.decide(clearly, cost: .zero, now: Date()))
        #expect(decision.accepted && decision.version == 2 && decision.reason.contains("version 1 (production)"))
    }

    @Test func rollbackWalksBackThroughPromotionsAndNeverToggles() async throws {
        let store = InMemoryStateStore()
        let registry = ModelRegistry(store: store)
        for id in ["a", "b", "c"] {
            let job = try await Self.finishedJob(id, in: store, gate: nil, metrics: ["auc": 0.9])
            try await registry.decide(job, cost: .zero, now: Date())
        }
        for version in [1, 2, 3] {
            try await registry.promote(model: "digits", version: version, alias: "production", now: Date())
        }
        #expect(try await registry.promote(model: "digits", version: 3, alias: "production", now: Date()) == nil)
        #expect(try await registry.rollback(model: "digits", alias: "production", now: Date()).to == 2)
        #expect(try await registry.rollback(model: "digits", alias: "production", now: Date()).to == 1)
        await #expect(throws: RegistryError.self) {
            _ = try await registry.rollback(model: "digits", alias: "production", now: Date())
        }
        try await registry.promote(model: "digits", version: 3, alias: "production", now: Date())
        #expect(try await registry.rollback(model: "digits", alias: "production", now: Date()).to == 1)
        let history = try await store.aliasHistory(model: "digits")
        #expect(history.map(\.to) == [1, 2, 3, 2, 1, 3, 1])
        #expect(history.map(\.kind) == [.promote, .promote, .promote, .rollback, .rollback, .promote, .rollback])
        #expect(try await registry.resolve(ModelReference(parsing: "digits@production")).version == 1)
        await #expect(throws: RegistryError.self) {
            _ = try await registry.promote(model: "digits", version: 9, alias: "production", now: Date())
        }
        await #expect(throws: RegistryError.self) {
            _ = try await registry.rollback(model: "digits", alias: "staging", now: Date())
        }
        await #expect(throws: RegistryError.self) {
            _ = try await registry.promote(model: "digits", version: 1, alias: "Bad Alias", now: Date())
        }
    }
}

/// Where aliases point is read in each alias's sequence, never by time (found in review: a clock
/// stepped back between two moves made reads disagree with the compare-and-swap for good).
@Suite struct AliasOrderTests {
    @Test func aliasesFollowTheirSequenceNotTheirTimes() {
        let later = Date(timeIntervalSince1970: 1_796_210_392)
        let earlier = later.addingTimeInterval(-1)
        // As the SQL store returns them: by time, so sequence 2 (stamped earlier) comes first.
        let moves = [
            AliasMove(model: "m", alias: "skew", sequence: 2, from: 1, to: 2, kind: .promote, at: earlier),
            AliasMove(model: "m", alias: "skew", sequence: 1, from: nil, to: 1, kind: .promote, at: later),
            AliasMove(model: "m", alias: "gone", sequence: 2, from: 3, to: 3, kind: .remove, at: earlier),
            AliasMove(model: "m", alias: "gone", sequence: 1, from: nil, to: 3, kind: .promote, at: later),
        ]
        #expect(ModelRegistry.current(moves) == ["skew": 2])
    }

    @Test func deletingAnAliasTheModelDoesNotHaveRecordsNothing() async throws {
        let store = InMemoryStateStore()
        let registry = ModelRegistry(store: store)
        let job = try await ModelRegistryTests.finishedJob("a", in: store, gate: nil, metrics: ["auc": 0.9])
        try await registry.decide(job, cost: .zero, now: Date())
        #expect(try await registry.removeAlias(model: "digits", alias: "production", now: Date()) == nil)
        #expect(try await store.aliasHistory(model: "digits").isEmpty)
        await #expect(throws: RegistryError.self) {
            _ = try await registry.removeAlias(model: "nothing", alias: "production", now: Date())
        }
        try await registry.promote(model: "digits", version: 1, alias: "production", now: Date())
        #expect(try await registry.removeAlias(model: "digits", alias: "production", now: Date())?.kind == .remove)
        #expect(try await registry.aliases(of: "digits").isEmpty)
    }
}
