import Foundation
import Scheduler
import SpotwiseCore
import StateStore

/// Elastic gangs (`resources.nodes: {min, max}`) grow back: a running gang below its maximum
/// whose pool has idle workers again is asked to checkpoint and stop, and the next pass places
/// it with the larger size (it resumes from that checkpoint; the trainer learns the new world
/// size from its environment). Shrinking needs nothing here: a gang that lost members is placed
/// again with what its pool has, never fewer than `min`.
extension JobScheduler {
    /// How long a gang runs before it is resized, so a pool's capacity flickering back and forth
    /// does not restart it over and over.
    var resizeMinimumAgeMilliseconds: Int64 { 4 * leasePolicy.leaseMilliseconds }

    /// Returns the history lines written, by job.
    @discardableResult
    func growElasticGangs(running: [StoredJob], leases: [Lease], idle: [IdleWorker]) async throws -> [JobID: String] {
        var lines: [JobID: String] = [:]
        var free = idle
        let leaseByJob = Dictionary(leases.map { ($0.job, $0) }, uniquingKeysWith: { a, _ in a })
        for job in running {
            guard case .elastic(_, let maximum) = job.spec.resources.nodes, let live = job.record.liveAttempt,
                let lease = leaseByJob[job.id], lease.epoch == live.epoch, !lease.revoked,
                lease.members.count < maximum,
                let lead = try? await store.worker(lease.members.first ?? ""), let pool = lead.pool
            else { continue }
            let group = free.filter {
                $0.provider.rawValue == lead.provider && $0.pool.region == pool.region
                    && $0.pool.market == pool.market && $0.pool.instanceType == pool.instanceType
            }
            guard !group.isEmpty else { continue }
            let size = min(maximum, lease.members.count + group.count)
            let now = leaseClock.nowMilliseconds()
            guard
                board.mayResize(
                    job.id, epoch: live.epoch, atMilliseconds: now, minimumAgeMilliseconds: resizeMinimumAgeMilliseconds
                )
            else { continue }
            let line =
                "\(group.count) idle worker(s) in \(lead.provider)/\(pool.region) again: the gang of \(lease.members.count) checkpoints and restarts as \(size) (max \(maximum))"
            // Written first: among replicas the store is the leader's fenced view, so a deposed
            // leader's pass stops here and asks no gang to resize.
            try await store.appendHistory(job: job.id, lines: [line], at: wallClock())
            guard
                board.requestResize(
                    job.id, epoch: live.epoch, to: size, atMilliseconds: now,
                    minimumAgeMilliseconds: resizeMinimumAgeMilliseconds)
            else { continue }
            let taken = Set(group.prefix(size - lease.members.count).map(\.id))
            free.removeAll { taken.contains($0.id) }
            lines[job.id] = line
        }
        return lines
    }
}
