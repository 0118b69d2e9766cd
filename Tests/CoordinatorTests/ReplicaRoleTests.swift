import Coordinator
import SpotwiseCore
import SpotwiseTesting
import StateStore
import Synchronization
import Testing

/// `ReplicaRole`: what a replica is, decided from claims on its own monotonic clock.
@Suite struct ReplicaRoleTests {
    func claim(_ holder: String, epoch: UInt64) -> LeadershipClaim {
        LeadershipClaim(
            leadership: Leadership(holder: holder, address: "http://\(holder)", epoch: epoch, expiresAtMilliseconds: 0),
            databaseMilliseconds: 0)
    }

    @Test func aReplicaLeadsOnlyAfterItsTakeoverAndUntilItsClaimRunsOut() {
        let clock = ManualLeaseClock(1_000)
        let role = ReplicaRole(replica: "a", address: "http://a", localClock: clock, single: false)
        #expect(role.role == .starting && !role.acts && role.leadingFence() == nil)

        let fence = LeadershipFence(holder: "a", epoch: 4)
        #expect(role.record(claim("a", epoch: 4), sentAt: 1_000, ttlMilliseconds: 10_000) == .takeOver(fence))
        #expect(!role.acts)  // not before the takeover was carried out
        role.lead(fence, sentAt: 1_000, ttlMilliseconds: 10_000)
        #expect(role.role == .leader && role.leadingFence() == fence && role.health.leader?.epoch == 4)

        clock.advance(milliseconds: 3_000)
        #expect(role.record(claim("a", epoch: 4), sentAt: 4_000, ttlMilliseconds: 10_000) == .renewed)
        clock.advance(milliseconds: 9_999)  // 13,999: the renewal sent at 4,000 lasts to 14,000
        #expect(role.acts)
        #expect(!role.claimFailed())
        clock.advance(milliseconds: 1)
        #expect(!role.acts && role.role == .follower)  // its own reckoning: time ran out
        #expect(role.claimFailed())

        // Another replica took over meanwhile: a follower, with the new leader in /health.
        #expect(role.record(claim("b", epoch: 5), sentAt: 14_000, ttlMilliseconds: 10_000) == .none)
        #expect(
            role.health
                == HealthReply(
                    role: .follower, replica: "a", leader: .init(replica: "b", address: "http://b", epoch: 5)))
        // Back as leader: a new epoch is a takeover again.
        #expect(
            role.record(claim("a", epoch: 6), sentAt: 30_000, ttlMilliseconds: 10_000)
                == .takeOver(LeadershipFence(holder: "a", epoch: 6)))
    }

    @Test func aLeaderThatLosesAClaimStepsDownAtOnce() {
        let clock = ManualLeaseClock(0)
        let role = ReplicaRole(replica: "a", address: "", localClock: clock, single: false)
        let fence = LeadershipFence(holder: "a", epoch: 1)
        _ = role.record(claim("a", epoch: 1), sentAt: 0, ttlMilliseconds: 10_000)
        role.lead(fence, sentAt: 0, ttlMilliseconds: 10_000)
        #expect(role.record(claim("b", epoch: 2), sentAt: 100, ttlMilliseconds: 10_000) == .stepDown)
        #expect(!role.acts && role.leadingFence() == nil)
    }

    @Test func aSingleCoordinatorAlwaysActsAndHasNoLeader() {
        let role = ReplicaRole(replica: "only", address: "", single: true)
        #expect(role.acts && role.role == .single && role.leadingFence() == nil)
        #expect(role.record(claim("x", epoch: 9), sentAt: 0, ttlMilliseconds: 1) == .none)
        #expect(role.health == HealthReply(role: .single, replica: "only", leader: nil))
    }

    /// The election over the leadership twin: two replicas, one leads; the other takes over only
    /// after the leader stopped renewing for the claim's time, and the lease clock follows the
    /// database's.
    @Test func twoElectionsOverOneRowHaveOneLeaderAndATakeoverAfterTheTime() async {
        let database = ManualLeaseClock(50_000)
        let row = InMemoryLeadershipStore(clock: database)
        let local = ManualLeaseClock(0)
        let settings = LeaderElectionService.Settings(ttlMilliseconds: 9_000)
        #expect(settings.renewMilliseconds == 3_000)
        let taken = SharedCounter()
        func election(_ name: String) -> (LeaderElectionService, ReplicaRole, DatabaseLeaseClock) {
            let role = ReplicaRole(replica: name, address: name, localClock: local, single: false)
            let leaseClock = DatabaseLeaseClock(local: local)
            let service = LeaderElectionService(
                store: row, role: role, settings: settings, leaseClock: leaseClock,
                logger: .init(label: "test")
            ) { _, _ in taken.add() }
            return (service, role, leaseClock)
        }
        let (a, aRole, aClock) = election("a")
        let (b, bRole, _) = election("b")
        #expect(await a.electOnce() == .takeOver(LeadershipFence(holder: "a", epoch: 1)))
        #expect(await b.electOnce() == .none)
        #expect(aRole.acts && !bRole.acts && taken.value == 1)
        #expect(aClock.nowMilliseconds() == 50_000)  // the database's clock, through the local one

        // a stops renewing: b takes over once the claim's time has run out, not before.
        database.advance(milliseconds: 8_999)
        local.advance(milliseconds: 8_999)
        #expect(await b.electOnce() == .none)
        database.advance(milliseconds: 1)
        local.advance(milliseconds: 1)
        #expect(!aRole.acts)  // a's own reckoning agrees
        #expect(await b.electOnce() == .takeOver(LeadershipFence(holder: "b", epoch: 2)))
        #expect(bRole.acts && taken.value == 2)
        #expect(await a.electOnce() == .stepDown && aRole.role == .follower)
    }
}

final class SharedCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}
