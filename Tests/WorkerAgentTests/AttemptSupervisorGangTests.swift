import Checkpoints
import SpotwiseCore
import Testing

@testable import WorkerAgent

/// Gangs: shards, rank 0's commits, a member's notice, a lost peer.
@Suite struct AttemptSupervisorGangTests {
    typealias World = SupervisorWorld

    static func member(rank: Int) -> World {
        World.trained(World.settings(gang: .init(rank: rank, worldSize: 2)), through: 20)
    }

    @Test func rankZeroCommitsAGangStepOnlyWithEveryShard() {
        let world = Self.member(rank: 0)
        world.progress = [World.line(step: 30, checkpoint: true)]
        world.advance(by: .seconds(2))
        #expect(world.actions.contains(.commitShard(step: 30, directory: "step-30", rank: 0)))
        #expect(world.count { $0 == .commitGang(step: 30, worldSize: 2) } > 5)  // tried on every look
        #expect(world.supervisor.committedStep == nil)
        world.completeGangSteps = [30]  // rank 1's shard arrived
        world.advance(by: .milliseconds(100))
        #expect(world.supervisor.committedStep == 30)
        #expect(world.actions.contains(.recordCommit(World.ref(30))))
    }

    @Test func aGangStepMissingAShardAtItsDeadlineIsGivenUp() {
        let world = Self.member(rank: 0)
        world.progress = [World.line(step: 30, checkpoint: true)]
        world.advance(by: .seconds(59))
        #expect(world.supervisor.pendingGang.map(\.step) == [30])
        world.advance(by: .seconds(2))
        #expect(world.supervisor.pendingGang.isEmpty && world.supervisor.committedStep == nil)
        #expect(world.logged("step 30 not committed"))
    }

    @Test func aMembersNoticeStopsTheWholeGangAndRankZeroReportsIt() throws {
        let world = Self.member(rank: 0)
        world.beatAnswers = [.command(.notice)]
        world.onStop = [World.line(step: 21, checkpoint: true)]
        world.exitOnStop = 143
        world.completeGangSteps = [21]
        world.advance(by: .seconds(6))
        #expect(world.actions.contains(.signal(.stop)))
        let finished = try #require(world.finished)
        #expect(finished.outcome == .preempted && finished.notice == true && finished.committedStep == 21)
        // Its own node did not get the notice: it stays to be placed again.
        guard case .gangStopped = world.outcome else {
            Issue.record("rank 0 without its own notice must stay; got \(String(describing: world.outcome))")
            return
        }
    }

    @Test func aMemberWithItsOwnNoticeWaitsForTheAttemptToEnd() {
        let world = Self.member(rank: 1)
        world.notices = [(.spotTermination, .seconds(120))]
        world.onStop = [World.line(step: 21, checkpoint: true)]
        world.exitOnStop = 143
        world.advance(by: .seconds(1))
        #expect(!world.ended)  // rank 0 is still committing the gang's checkpoint
        #expect(world.finished == nil)
        world.beatAnswers = [.command(.continue), .command(.stop)]
        world.advance(by: .seconds(1))
        #expect(world.outcome == .preempted(committedStep: nil))
        #expect(world.finished == nil)  // rank 0 reports for the gang
    }

    @Test func aLostPeerIsReportedAtOnceWithOneLastLookAtPendingShards() throws {
        let world = Self.member(rank: 0)
        world.progress = [World.line(step: 30, checkpoint: true)]
        world.advance(by: .milliseconds(200))
        world.exitStatus = GangExit.peerLostCode
        world.groupAlive = false
        world.advance(by: .milliseconds(300))
        let finished = try #require(world.finished)
        #expect(finished.outcome == .preempted && finished.notice == false)
        #expect(world.performed.last.map { $0.at < .milliseconds(500) } == true)  // not the 60 s a shard gets otherwise
    }
}
