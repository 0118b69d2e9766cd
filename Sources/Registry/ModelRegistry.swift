import Foundation
import SpotwiseCore
import StateStore

/// The model registry over a state store: the gate's decision on finished jobs, versions, aliases
/// and their history. The coordinator's routes and the CLI (reading a state file directly) share it.
public struct ModelRegistry: Sendable {
    public let store: any StateStore

    public init(store: any StateStore) {
        self.store = store
    }

    // MARK: Decisions

    /// Decides a succeeded job's model: evaluates its gate against its final metrics and, when it
    /// passes, registers a version with its artifact and lineage. Jobs without `register` are
    /// skipped (nil); a job decided before returns that decision.
    @discardableResult
    public func decide(_ job: StoredJob, cost: Money, now: Date) async throws -> GateDecision? {
        guard job.state == .succeeded, let registration = job.spec.register else { return nil }
        if let decided = try await store.gateDecision(job: job.id) { return decided }
        let metrics = job.record.finalMetrics ?? [:]
        var verdict = GateVerdict(passed: true, reason: "no gate in the spec")
        if let gate = registration.gate {
            var baseline: GateBaseline?
            if case .beatsAlias(let alias, _) = gate.rule,
                let current = try await aliases(of: registration.model)[alias],
                let version = try await store.modelVersions(model: registration.model).first(where: {
                    $0.version == current
                })
            {
                baseline = GateBaseline(alias: alias, version: current, metrics: version.metrics)
            }
            verdict = gate.evaluate(metrics, baseline: baseline)
            verdict.reason = "gate \(gate.summary): \(verdict.reason)"
        }
        if verdict.passed, job.record.outputArtifact == nil {
            verdict = GateVerdict(
                passed: false, reason: "the trainer's output directory was not committed: nothing to register")
        }
        let decision = GateDecision(
            job: job.id.rawValue, model: registration.model, decidedAt: now, accepted: verdict.passed,
            reason: verdict.reason, metrics: metrics)
        var version: ModelVersion?
        if verdict.passed, let artifact = job.record.outputArtifact {
            version = ModelVersion(
                model: registration.model, version: 0, job: job.id.rawValue, createdAt: now, artifact: artifact,
                metrics: metrics, hyperparameters: job.spec.hyperparameters,
                lineage: ModelLineage(
                    job: job.id.rawValue, jobName: job.spec.name, attempts: job.record.attemptCount,
                    interruptions: job.record.preemptions, checkpointStep: job.record.committedCheckpoint?.step,
                    checkpointDigest: job.record.committedCheckpoint?.manifestDigest, costUSD: cost.exactDescription))
        }
        return try await store.decide(decision, version: version)
    }

    // MARK: Reading

    /// Where each alias of `model` points now.
    public func aliases(of model: String) async throws -> [String: Int] {
        Self.current(try await store.aliasHistory(model: model))
    }

    public func list() async throws -> [ModelSummary] {
        let versions = try await store.modelVersions(model: nil)
        let decisions = try await store.gateDecisions(model: nil)
        let names = Set(versions.map(\.model)).union(decisions.map(\.model)).sorted()
        var summaries: [ModelSummary] = []
        for name in names {
            let own = versions.filter { $0.model == name }
            summaries.append(
                ModelSummary(
                    model: name, versions: own.count, latest: own.last, aliases: try await aliases(of: name),
                    rejected: decisions.filter { $0.model == name && !$0.accepted }.count))
        }
        return summaries
    }

    public func detail(_ model: String) async throws -> ModelDetail {
        try ModelReference.checkModel(model)
        let versions = try await store.modelVersions(model: model)
        let decisions = try await store.gateDecisions(model: model)
        guard !versions.isEmpty || !decisions.isEmpty else { throw RegistryError.notFound("no model \(model)") }
        let history = try await store.aliasHistory(model: model)
        return ModelDetail(
            model: model, versions: versions,
            aliases: Self.current(history), aliasHistory: history,
            decisions: decisions)
    }

    /// The version a reference names.
    public func resolve(_ reference: ModelReference) async throws -> ModelVersion {
        let versions = try await store.modelVersions(model: reference.model)
        guard !versions.isEmpty else { throw RegistryError.notFound("model \(reference.model) has no versions") }
        switch reference.selector {
        case .latest:
            return versions.last!
        case .version(let number):
            guard let found = versions.first(where: { $0.version == number }) else {
                throw RegistryError.notFound(
                    "model \(reference.model) has no version \(number) (versions 1-\(versions.last!.version))")
            }
            return found
        case .alias(let alias):
            guard let number = try await aliases(of: reference.model)[alias],
                let found = versions.first(where: { $0.version == number })
            else {
                throw RegistryError.notFound("model \(reference.model) has no alias \(alias)")
            }
            return found
        }
    }

    // MARK: Aliases

    /// Points `alias` at `version`. Returns nil when it already points there (nothing recorded).
    @discardableResult
    public func promote(model: String, version: Int, alias: String, now: Date) async throws -> AliasMove? {
        try ModelReference.checkModel(model)
        try ModelReference.checkAlias(alias)
        _ = try await resolve(ModelReference(model: model, selector: .version(version)))
        let current = try await aliases(of: model)[alias]
        guard current != version else { return nil }
        return try await store.moveAlias(
            model: model, alias: alias, expectedFrom: current, to: version, kind: .promote, at: now)
    }

    /// Deletes `alias` (recorded in its history as a removal). An alias the model does not have
    /// is nothing to delete: nil, nothing recorded (as MLflow answers); an unknown model is 404.
    @discardableResult
    public func removeAlias(model: String, alias: String, now: Date) async throws -> AliasMove? {
        try ModelReference.checkModel(model)
        try ModelReference.checkAlias(alias)
        guard let current = try await aliases(of: model)[alias] else {
            guard try await !store.modelVersions(model: model).isEmpty else {
                throw RegistryError.notFound("no model \(model)")
            }
            return nil
        }
        return try await store.moveAlias(
            model: model, alias: alias, expectedFrom: current, to: current, kind: .remove, at: now)
    }

    /// Moves `alias` back to the version it pointed to before its current one: promotions push,
    /// rollbacks pop, so rolling back twice goes two promotions back (never toggles).
    public func rollback(model: String, alias: String, now: Date) async throws -> AliasMove {
        try ModelReference.checkModel(model)
        try ModelReference.checkAlias(alias)
        let stack = Self.aliasStack(try await store.aliasHistory(model: model).filter { $0.alias == alias })
        guard let current = stack.last else { throw RegistryError.notFound("model \(model) has no alias \(alias)") }
        guard stack.count >= 2 else {
            throw RegistryError.conflict(
                "alias \(alias) of \(model) has pointed only at version \(current): nothing to roll back to")
        }
        return try await store.moveAlias(
            model: model, alias: alias, expectedFrom: current, to: stack[stack.count - 2], kind: .rollback, at: now)
    }

    /// Where each alias points after its moves, taken in each alias's own sequence (the order the
    /// store's compare-and-swap wrote them), never by time: a clock stepped back between two moves
    /// would otherwise make reads disagree with the next move's expected value for good.
    public static func current(_ moves: [AliasMove]) -> [String: Int] {
        moves.sorted { ($0.alias, $0.sequence) < ($1.alias, $1.sequence) }.reduce(into: [:]) { current, move in
            current[move.alias] = move.pointsAt
        }
    }

    /// The versions an alias was promoted through that are still "under" it, oldest first.
    static func aliasStack(_ moves: [AliasMove]) -> [Int] {
        var stack: [Int] = []
        for move in moves.sorted(by: { $0.sequence < $1.sequence }) {
            switch move.kind {
            case .promote: stack.append(move.to)
            case .rollback:
                if !stack.isEmpty { stack.removeLast() }
                if stack.last != move.to { stack.append(move.to) }
            case .remove:
                // Deleted: nothing under it to roll back to; a later promotion starts afresh.
                stack.removeAll()
            }
        }
        return stack
    }
}
