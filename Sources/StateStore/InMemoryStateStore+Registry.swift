import Foundation
import SpotwiseCore

/// Run tracking and the model registry, in memory.
extension InMemoryStateStore {
    public func markFirstStep(job: JobID, attempt: Int, at: Date) async throws {
        guard let index = segmentsByJob[job]?.firstIndex(where: { $0.attempt == attempt }),
            segmentsByJob[job]?[index].firstStepAt == nil
        else { return }
        segmentsByJob[job]?[index].firstStepAt = at
    }

    public func recordMetrics(job: JobID, attempt: Int, resumedFromStep: Int, points: [MetricPoint]) async throws {
        guard try await self.job(job) != nil else { throw StateStoreError.jobNotFound(job) }
        var series = metricPoints[job] ?? [:]
        for name in series.keys {
            series[name] = series[name]?.filter { $0.key <= resumedFromStep || $0.value.attempt >= attempt }
        }
        for point in points where (series[point.name]?[point.step]?.attempt ?? 0) <= point.attempt {
            series[point.name, default: [:]][point.step] = point
        }
        metricPoints[job] = series
    }

    public func metrics(job: JobID) async throws -> [MetricPoint] {
        let series = metricPoints[job] ?? [:]
        return series.keys.sorted().flatMap { name in series[name]!.values.sorted { $0.step < $1.step } }
    }

    public func decide(_ decision: GateDecision, version: ModelVersion?) async throws -> GateDecision {
        if let existing = decisions.first(where: { $0.job == decision.job }) { return existing }
        var decided = decision
        if var version {
            version.version = (versions.filter { $0.model == version.model }.map(\.version).max() ?? 0) + 1
            versions.append(version)
            decided.version = version.version
        }
        decisions.append(decided)
        return decided
    }

    public func gateDecision(job: JobID) async throws -> GateDecision? {
        decisions.first { $0.job == job.rawValue }
    }

    public func gateDecisions(model: String?) async throws -> [GateDecision] {
        decisions.filter { model == nil || $0.model == model }
    }

    public func modelVersions(model: String?) async throws -> [ModelVersion] {
        versions.filter { model == nil || $0.model == model }
    }

    public func moveAlias(
        model: String, alias: String, expectedFrom: Int?, to version: Int, kind: AliasMove.Kind, at: Date
    ) async throws -> AliasMove {
        guard versions.contains(where: { $0.model == model && $0.version == version }) else {
            throw StateStoreError.noSuchModelVersion(model: model, version: version)
        }
        let history = moves.filter { $0.model == model && $0.alias == alias }
        let current = history.last?.pointsAt
        guard current == expectedFrom else {
            throw StateStoreError.aliasMoved(model: model, alias: alias, expected: expectedFrom, actual: current)
        }
        let move = AliasMove(
            model: model, alias: alias, sequence: history.count + 1, from: current, to: version, kind: kind, at: at)
        moves.append(move)
        return move
    }

    public func aliasHistory(model: String) async throws -> [AliasMove] {
        moves.filter { $0.model == model }
    }

    public func recordLaunch(_ launch: CapacityLaunchRecord) async throws {
        guard jobExists(launch.job) else { throw StateStoreError.jobNotFound(launch.job) }
        capacityLaunches[launch.job] = launch
    }

    public func removeLaunch(job: JobID) async throws { capacityLaunches[job] = nil }

    public func launches() async throws -> [CapacityLaunchRecord] {
        capacityLaunches.values.sorted { ($0.launchedAt, $0.job) < ($1.launchedAt, $1.job) }
    }
}
