import Foundation
import SQLKit
import SpotwiseCore

/// Run tracking (metric points, first steps) and the model registry in SQL.
extension SQLStateStore {
    public func markFirstStep(job: JobID, attempt: Int, at: Date) async throws {
        try await write { db in
            try await db.raw(
                """
                UPDATE attempt_segments SET first_step_at_ms = \(bind: Self.milliseconds(at))
                WHERE job_id = \(bind: job.rawValue) AND attempt = \(bind: Int64(attempt)) AND first_step_at_ms IS NULL
                """
            ).run()
        }
    }

    public func recordMetrics(job: JobID, attempt: Int, resumedFromStep: Int, points: [MetricPoint]) async throws {
        let backend = backend
        try await transaction { db in
            guard try await db.raw("SELECT id FROM jobs WHERE id = \(bind: job.rawValue)").first() != nil else {
                throw StateStoreError.jobNotFound(job)
            }
            try await db.raw(
                """
                DELETE FROM metric_points WHERE job_id = \(bind: job.rawValue) AND attempt < \(bind: Int64(attempt))
                    AND step > \(bind: Int64(resumedFromStep))
                """
            ).run()
            for point in points {
                // A point of an older attempt never replaces a newer attempt's.
                let conflict =
                    backend == .sqlite
                    ? "ON CONFLICT (job_id, name, step) DO UPDATE SET attempt = excluded.attempt, value = excluded.value WHERE metric_points.attempt <= excluded.attempt"
                    : "ON CONFLICT (job_id, name, step) DO UPDATE SET attempt = EXCLUDED.attempt, value = EXCLUDED.value WHERE metric_points.attempt <= EXCLUDED.attempt"
                try await db.raw(
                    """
                    INSERT INTO metric_points (job_id, name, step, attempt, value)
                    VALUES (\(bind: job.rawValue), \(bind: point.name), \(bind: Int64(point.step)),
                        \(bind: Int64(point.attempt)), \(bind: point.value))
                    \(unsafeRaw: conflict)
                    """
                ).run()
            }
        }
    }

    public func metrics(job: JobID) async throws -> [MetricPoint] {
        try await exclusive {
            try await database.raw(
                """
                SELECT name, step, attempt, value FROM metric_points WHERE job_id = \(bind: job.rawValue)
                ORDER BY name, step
                """
            ).all().map { row in
                MetricPoint(
                    name: try row.decode(column: "name", as: String.self),
                    step: Int(try row.decode(column: "step", as: Int64.self)),
                    value: try row.decode(column: "value", as: Double.self),
                    attempt: Int(try row.decode(column: "attempt", as: Int64.self)))
            }
        }
    }

    // MARK: Registry

    static func decision(_ row: any SQLRow) throws -> GateDecision {
        var decision = try decodeJSON(
            GateDecision.self, try row.decode(column: "decision_json", as: String.self), what: "gate decision")
        decision.decidedAt = date(try row.decode(column: "decided_at_ms", as: Int64.self))
        decision.version = try row.decode(column: "version", as: Int64?.self).map { Int($0) }
        return decision
    }

    static func modelVersion(_ row: any SQLRow) throws -> ModelVersion {
        var version = try decodeJSON(
            ModelVersion.self, try row.decode(column: "version_json", as: String.self), what: "model version")
        version.version = Int(try row.decode(column: "version", as: Int64.self))
        version.createdAt = date(try row.decode(column: "created_at_ms", as: Int64.self))
        return version
    }

    public func decide(_ decision: GateDecision, version: ModelVersion?) async throws -> GateDecision {
        let decisionJSON = try Self.json(decision)
        let versionJSON = try version.map { try Self.json($0) }
        return try await transaction { db in
            if let row = try await db.raw(
                """
                SELECT decided_at_ms, version, decision_json FROM gate_decisions WHERE job_id = \(bind: decision.job)
                """
            ).first() {
                return try Self.decision(row)
            }
            var decided = decision
            if let version, let versionJSON {
                let row = try await db.raw(
                    "SELECT COALESCE(MAX(version), 0) AS newest FROM model_versions WHERE model = \(bind: version.model)"
                ).first()
                let number = (try row?.decode(column: "newest", as: Int64.self) ?? 0) + 1
                try await db.raw(
                    """
                    INSERT INTO model_versions (model, version, job_id, created_at_ms, version_json)
                    VALUES (\(bind: version.model), \(bind: number), \(bind: version.job),
                        \(bind: Self.milliseconds(version.createdAt)), \(bind: versionJSON))
                    """
                ).run()
                decided.version = Int(number)
            }
            try await db.raw(
                """
                INSERT INTO gate_decisions (job_id, model, decided_at_ms, accepted, version, decision_json)
                VALUES (\(bind: decided.job), \(bind: decided.model), \(bind: Self.milliseconds(decided.decidedAt)),
                    \(bind: Int64(decided.accepted ? 1 : 0)), \(bind: decided.version.map { Int64($0) }), \(bind: decisionJSON))
                """
            ).run()
            decided.decidedAt = Self.date(Self.milliseconds(decided.decidedAt))
            return decided
        }
    }

    public func gateDecision(job: JobID) async throws -> GateDecision? {
        try await exclusive {
            try await database.raw(
                """
                SELECT decided_at_ms, version, decision_json FROM gate_decisions WHERE job_id = \(bind: job.rawValue)
                """
            ).first().map(Self.decision)
        }
    }

    public func gateDecisions(model: String?) async throws -> [GateDecision] {
        let filter = model.map { SQLQueryString("WHERE model = \(bind: $0)") } ?? SQLQueryString("")
        return try await exclusive {
            try await database.raw(
                """
                SELECT decided_at_ms, version, decision_json FROM gate_decisions \(filter)
                ORDER BY decided_at_ms, job_id
                """
            ).all().map(Self.decision)
        }
    }

    public func modelVersions(model: String?) async throws -> [ModelVersion] {
        let filter = model.map { SQLQueryString("WHERE model = \(bind: $0)") } ?? SQLQueryString("")
        return try await exclusive {
            try await database.raw(
                """
                SELECT version, created_at_ms, version_json FROM model_versions \(filter) ORDER BY model, version
                """
            ).all().map(Self.modelVersion)
        }
    }

    public func moveAlias(
        model: String, alias: String, expectedFrom: Int?, to version: Int, kind: AliasMove.Kind, at: Date
    ) async throws -> AliasMove {
        try await transaction { db in
            let exists = try await db.raw(
                """
                SELECT version FROM model_versions WHERE model = \(bind: model) AND version = \(bind: Int64(version))
                """
            ).first()
            guard exists != nil else { throw StateStoreError.noSuchModelVersion(model: model, version: version) }
            let last = try await db.raw(
                """
                SELECT sequence, to_version, kind FROM alias_moves WHERE model = \(bind: model) AND alias = \(bind: alias)
                ORDER BY sequence DESC LIMIT 1
                """
            ).first()
            let sequence = Int(try last?.decode(column: "sequence", as: Int64.self) ?? 0) + 1
            let current = try last.flatMap { row -> Int? in
                guard try row.decode(column: "kind", as: String.self) != AliasMove.Kind.remove.rawValue else {
                    return nil
                }
                return Int(try row.decode(column: "to_version", as: Int64.self))
            }
            guard current == expectedFrom else {
                throw StateStoreError.aliasMoved(model: model, alias: alias, expected: expectedFrom, actual: current)
            }
            let move = AliasMove(
                model: model, alias: alias, sequence: sequence, from: current, to: version, kind: kind,
                at: Self.date(Self.milliseconds(at)))
            try await db.raw(
                """
                INSERT INTO alias_moves (model, alias, sequence, from_version, to_version, kind, at_ms)
                VALUES (\(bind: model), \(bind: alias), \(bind: Int64(sequence)), \(bind: current.map { Int64($0) }),
                    \(bind: Int64(version)), \(bind: move.kind.rawValue), \(bind: Self.milliseconds(at)))
                """
            ).run()
            return move
        }
    }

    public func aliasHistory(model: String) async throws -> [AliasMove] {
        try await exclusive {
            try await database.raw(
                """
                SELECT alias, sequence, from_version, to_version, kind, at_ms FROM alias_moves
                WHERE model = \(bind: model) ORDER BY at_ms, alias, sequence
                """
            ).all().map { row in
                let kind = try row.decode(column: "kind", as: String.self)
                return AliasMove(
                    model: model, alias: try row.decode(column: "alias", as: String.self),
                    sequence: Int(try row.decode(column: "sequence", as: Int64.self)),
                    from: try row.decode(column: "from_version", as: Int64?.self).map { Int($0) },
                    to: Int(try row.decode(column: "to_version", as: Int64.self)),
                    kind: AliasMove.Kind(rawValue: kind) ?? .promote,
                    at: Self.date(try row.decode(column: "at_ms", as: Int64.self)))
            }
        }
    }

    // MARK: Capacity launches

    public func recordLaunch(_ launch: CapacityLaunchRecord) async throws {
        let pool = try Self.json(launch.pool)
        try await transaction { db in
            guard try await db.raw("SELECT id FROM jobs WHERE id = \(bind: launch.job.rawValue)").first() != nil else {
                throw StateStoreError.jobNotFound(launch.job)
            }
            try await db.raw("DELETE FROM capacity_launches WHERE job_id = \(bind: launch.job.rawValue)").run()
            try await db.raw(
                """
                INSERT INTO capacity_launches (job_id, provider, handle, worker_name, pool_json, sequence, launched_at_ms,
                    confirmed)
                VALUES (\(bind: launch.job.rawValue), \(bind: launch.provider), \(bind: launch.handle),
                    \(bind: launch.workerName), \(bind: pool), \(bind: Int64(launch.sequence)),
                    \(bind: Self.milliseconds(launch.launchedAt)), \(bind: Int64(launch.confirmed ? 1 : 0)))
                """
            ).run()
        }
    }

    public func removeLaunch(job: JobID) async throws {
        try await write { db in
            try await db.raw("DELETE FROM capacity_launches WHERE job_id = \(bind: job.rawValue)").run()
        }
    }

    public func launches() async throws -> [CapacityLaunchRecord] {
        try await exclusive {
            try await database.raw(
                """
                SELECT job_id, provider, handle, worker_name, pool_json, sequence, launched_at_ms, confirmed
                FROM capacity_launches
                ORDER BY launched_at_ms, job_id
                """
            ).all().map { row in
                CapacityLaunchRecord(
                    job: JobID(try row.decode(column: "job_id", as: String.self)),
                    provider: try row.decode(column: "provider", as: String.self),
                    handle: try row.decode(column: "handle", as: String.self),
                    workerName: try row.decode(column: "worker_name", as: String.self),
                    pool: try Self.decodeJSON(
                        WorkerPool.self, try row.decode(column: "pool_json", as: String.self), what: "launch pool"),
                    sequence: Int(try row.decode(column: "sequence", as: Int64.self)),
                    launchedAt: Self.date(try row.decode(column: "launched_at_ms", as: Int64.self)),
                    confirmed: try row.decode(column: "confirmed", as: Int64.self) != 0)
            }
        }
    }
}
