import Logging
import ServiceLifecycle
import SpotwiseCore
import StateStore

/// Replicas on one PostgreSQL: claims (or renews) leadership every `renewMilliseconds` on
/// `clock`, keeps `ReplicaRole` and the shared lease clock in step, and carries out a takeover
/// (`onTakeover`, under the new fence) before this replica acts as leader. On graceful shutdown a
/// leader resigns, so the next replica takes over at its next claim instead of after the time.
public struct LeaderElectionService: Service {
    public struct Settings: Sendable {
        /// How long a claim lasts on the database's clock.
        public var ttlMilliseconds: Int64
        /// How often the replica claims (a leader renews): a third of the time, so two claims
        /// may fail before a leader steps down.
        public var renewMilliseconds: Int64

        public init(ttlMilliseconds: Int64 = 10_000, renewMilliseconds: Int64? = nil) {
            self.ttlMilliseconds = ttlMilliseconds
            self.renewMilliseconds = renewMilliseconds ?? max(1, ttlMilliseconds / 3)
        }
    }

    let store: any LeadershipStore
    let role: ReplicaRole
    let settings: Settings
    let leaseClock: DatabaseLeaseClock?
    /// Carries out a takeover under the new fence; given how long nobody led before it (nil:
    /// nobody ever led).
    let onTakeover: @Sendable (LeadershipFence, _ vacancyMilliseconds: Int64?) async throws -> Void
    let logger: Logger
    let clock: any Clock<Duration>

    public init(
        store: any LeadershipStore, role: ReplicaRole, settings: Settings, leaseClock: DatabaseLeaseClock?,
        logger: Logger, clock: any Clock<Duration> = ContinuousClock(),
        onTakeover: @escaping @Sendable (LeadershipFence, _ vacancyMilliseconds: Int64?) async throws -> Void
    ) {
        self.store = store
        self.role = role
        self.settings = settings
        self.leaseClock = leaseClock
        self.onTakeover = onTakeover
        self.logger = logger
        self.clock = clock
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let transition = await electOnce()
                try await clock.sleep(for: .milliseconds(nextClaimIn(after: transition)))
            }
        }
        if role.leadingFence() != nil {
            try? await store.resignLeadership(holder: role.replica)
            logger.info("leadership resigned on shutdown")
        }
    }

    /// A leader renews every `renewMilliseconds`; a follower claims again then, or just after the
    /// leader's claim runs out if that comes sooner, so a takeover follows a dead leader's time
    /// within a round trip instead of within a renewal period.
    func nextClaimIn(after transition: ReplicaRole.Transition) -> Int64 {
        guard role.leadingFence() == nil, let leader = role.leader, let leaseClock else {
            return settings.renewMilliseconds
        }
        let untilExpiry = leader.expiresAtMilliseconds - leaseClock.nowMilliseconds() + 20
        return max(20, min(settings.renewMilliseconds, untilExpiry))
    }

    /// One claim and what follows from it; returns the transition.
    @discardableResult
    public func electOnce() async -> ReplicaRole.Transition {
        let sent = role.localClock.nowMilliseconds()
        let before = leaseClock?.localMilliseconds()
        let claim: LeadershipClaim
        do {
            claim = try await store.claimLeadership(
                holder: role.replica, address: role.address, ttlMilliseconds: settings.ttlMilliseconds)
        } catch {
            logger.error("leadership claim failed: \(error)")
            if role.claimFailed() { logger.warning("stepped down: leadership could not be renewed in time") }
            return .none
        }
        if let leaseClock, let before {
            leaseClock.observe(
                database: claim.databaseMilliseconds, before: before, after: leaseClock.localMilliseconds())
        }
        let transition = role.record(claim, sentAt: sent, ttlMilliseconds: settings.ttlMilliseconds)
        switch transition {
        case .takeOver(let fence):
            do {
                try await onTakeover(fence, claim.vacancyMilliseconds)
                role.lead(fence, sentAt: sent, ttlMilliseconds: settings.ttlMilliseconds)
                logger.info("leading the coordinators (leadership epoch \(fence.epoch))")
            } catch {
                // Resigned, so another replica may take over rather than this one holding the
                // row without acting.
                logger.error("takeover under epoch \(fence.epoch) failed; resigning: \(error)")
                try? await store.resignLeadership(holder: role.replica)
            }
        case .stepDown:
            logger.warning("no longer leading: \(claim.leadership.holder) leads (epoch \(claim.leadership.epoch))")
        case .renewed, .none:
            break
        }
        return transition
    }
}
