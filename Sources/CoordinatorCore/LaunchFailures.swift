import Foundation
import Scheduler
import SpotwiseCore

/// What launches that failed teach the coordinator, as one value (decided here, kept by
/// `CapacityLauncher`): a pool's spot offer is withheld for a while after its provider had no
/// spot capacity (the provider said: none now), and launches that failed for any other reason
/// spend their job's infrastructure budget (`SchedulingCore.launchFailures`).
public struct LaunchFailures: Hashable, Sendable {
    /// How a launch failed, as the provider's error classified it.
    public enum Kind: Hashable, Sendable {
        /// The provider had no capacity of the pool.
        case capacity
        /// Anything else the provider refused or failed (quota, credentials, a bad request...).
        case other
    }

    /// How long a pool's spot offer is withheld after a capacity failure.
    public var withholdSeconds: Double
    /// Spot offers withheld (by `offerKey`), until when.
    public private(set) var spotWithheldUntil: [String: Date] = [:]
    /// Launches per job that failed for other reasons than capacity.
    public private(set) var failedLaunches: [JobID: Int] = [:]

    public init(withholdSeconds: Double = 600) { self.withholdSeconds = withholdSeconds }

    /// One pool of one provider, whatever its market.
    public static func offerKey(_ provider: ProviderName, _ pool: WorkerPool) -> String {
        "\(provider.rawValue):\(pool.region):\(pool.instanceType)"
    }

    /// A launch of `job` on `pool` failed as `kind` (nil: the provider gave no reason, which
    /// teaches nothing).
    public mutating func record(_ kind: Kind?, job: JobID, provider: ProviderName, pool: WorkerPool, at now: Date) {
        switch kind {
        case .capacity:
            if pool.market == .spot {
                spotWithheldUntil[Self.offerKey(provider, pool)] = now.addingTimeInterval(withholdSeconds)
            }
        case .other: failedLaunches[job, default: 0] += 1
        case nil: break
        }
    }

    /// The offers the planner may choose now: spot offers of a pool withheld until later are not.
    public func available(_ offers: [IdleWorker], at now: Date) -> [IdleWorker] {
        offers.filter { offer in
            guard offer.pool.market == .spot, let until = spotWithheldUntil[Self.offerKey(offer.provider, offer.pool)]
            else { return true }
            return now >= until
        }
    }
}
