import Foundation
import Registry
import SpotwiseCore
import StateStore

/// A state database with one registered version of model `digits`, behind an alias.
enum RegistryFixture {
    static func registerAndPromote(store: any StateStore, auc: Double, alias: String) async throws {
        var spec = JobSpec(name: "digits", run: "python3 train.py")
        spec.register = Registration(model: "digits")
        let job = try await store.submit(
            JobSubmission(id: JobID("job-1"), spec: spec, idempotencyKey: nil, submittedAt: Date())
        ).job
        var record = job.record
        record.state = .succeeded
        record.finalMetrics = ["auc": auc]
        record.outputArtifact = ModelArtifact(
            storage: "file://checkpoints", location: "job-1/model-attempt-1",
            manifestDigest: String(repeating: "e", count: 64), bytes: 1)
        let succeeded = try await store.update(
            job.id, expectedVersion: job.version, record: record, events: [], at: Date())
        let registry = ModelRegistry(store: store)
        try await registry.decide(succeeded, cost: .zero, now: Date())
        try await registry.promote(model: "digits", version: 1, alias: alias, now: Date())
    }
}
