import Checkpoints
import SpotwiseCore
import Testing

@testable import WorkerAgent

/// The rules at the edges: commands, names, output bounds, the finish's retries, cancellation.
@Suite struct AttemptSupervisorEdgeTests {
    typealias World = SupervisorWorld

    static func running(_ settings: AttemptSupervisor.Settings = World.settings()) -> World {
        World.trained(settings, through: 5)
    }

    /// Rank 0 of two whose trainer announced step 30 and exited: it waits for rank 1's shard.
    static func rankZeroSettling() -> World {
        let world = World(World.settings(gang: .init(rank: 0, worldSize: 2), heartbeat: .seconds(1)))
        world.start()
        world.progress = [World.line(step: 30, checkpoint: true)]
        world.exitStatus = 0
        world.groupAlive = false
        return world
    }

    @Test func checkpointNowAsksTheTrainerForACheckpoint() {
        let world = Self.running()
        world.beatAnswers = [.command(.checkpointNow)]
        world.advance(by: .seconds(5))
        #expect(world.count { $0 == .signal(.checkpointNow) } == 1)
        #expect(!world.actions.contains(.signal(.stop)))
    }

    @Test func aCheckpointNameThatLeavesTheStagingDirectoryIsRefused() {
        let world = Self.running()
        world.progress = [ProgressReader.Line(step: 10, checkpoint: "../escape")]
        world.advance(by: .milliseconds(100))
        #expect(!world.actions.contains { if case .commit = $0 { true } else { false } })
        #expect(world.logged("refused checkpoint directory name '../escape'"))
    }

    @Test func aCheckpointWrittenAfterTheGroupDiedIsStillCommittedOnTheLastLook() throws {
        let world = Self.running()
        world.exitStatus = 143
        world.groupAlive = false
        world.advance(by: .milliseconds(100))  // the look that sees the exit
        world.progress = [World.line(step: 50, checkpoint: true)]  // arrives just after
        world.advance(by: .seconds(1))
        let commit = try #require(world.index { $0 == .commit(step: 50, directory: "step-50") })
        let finish = try #require(world.index { if case .finish = $0 { true } else { false } })
        #expect(commit < finish)
    }

    @Test func aFencedHeartbeatAfterTheTrainerExitedKillsTheGroupAndEnds() {
        let world = Self.running(World.settings(heartbeat: .milliseconds(100)))
        world.exitStatus = 0
        world.groupAlive = true
        world.beatAnswers = [.fenced]
        world.advance(by: .milliseconds(300))
        #expect(world.actions.suffix(2) == [.killGroup, .end(.fenced("409 stale_epoch"))])
        #expect(world.finished == nil)
    }

    @Test func aGangStepsDeadlineIsNoLaterThanTheNoticesKill() {
        let world = World(World.settings(gang: .init(rank: 0, worldSize: 2), noticeWindow: .seconds(10)))
        world.start()
        world.notices = [(.preempted, .seconds(10))]
        world.advance(by: .milliseconds(300))
        world.progress = [World.line(step: 30, checkpoint: true)]
        world.advance(by: .milliseconds(100))
        let deadline = world.supervisor.pendingGang.first?.deadline
        #expect(deadline.map { $0 <= .seconds(11) } == true)  // not 60 s: the node is gone by then
    }

    @Test func rankZeroHeartbeatsWhileItWaitsForTheLastShards() {
        let world = Self.rankZeroSettling()
        world.advance(by: .seconds(1))
        let before = world.heartbeats
        world.advance(by: .seconds(10))
        #expect(!world.ended)
        #expect(world.heartbeats >= before + 9)
        world.completeGangSteps = [30]
        world.advance(by: .milliseconds(200))
        #expect(world.supervisor.committedStep == 30 && world.outcome == .completed)
    }

    @Test func aMemberWaitingForTheGangsEndLeavesAtTheNoticesDeadline() {
        let world = World(World.settings(gang: .init(rank: 1, worldSize: 2)))
        world.start()
        world.notices = [(.spotTermination, .seconds(20))]
        world.exitOnStop = 143
        world.advance(by: .seconds(1))
        #expect(!world.ended)
        world.advance(by: .seconds(18))
        #expect(!world.ended)
        world.advance(by: .seconds(2))
        #expect(world.outcome == .preempted(committedStep: nil))
    }

    @Test func aFencedFinishEndsAndTwentyFailuresGiveUp() {
        let fenced = Self.running()
        fenced.fencedOnFinish = true
        fenced.exitStatus = 1
        fenced.groupAlive = false
        fenced.advance(by: .seconds(1))
        #expect(fenced.outcome == .fenced("403 fenced"))

        let unreachable = Self.running()
        unreachable.finishFailures = 1_000
        unreachable.exitStatus = 1
        unreachable.groupAlive = false
        unreachable.advance(by: .seconds(600))
        #expect(unreachable.outcome == .failed(exitCode: 1))
        #expect(unreachable.count { if case .finish = $0 { true } else { false } } == 20)
    }

    @Test func backoffIsBetweenHalfAndAllOfItsCeilingAndSpreadByWorker() {
        for attempt in 1...10 {
            let ceiling = Duration.milliseconds(min(8_000, 250 << min(attempt - 1, 5)))
            let waits = (0..<50).map { AttemptSupervisor.backoff(try: attempt, worker: "worker-\($0)") }
            #expect(waits.allSatisfy { $0 >= ceiling / 2 && $0 <= ceiling })
            #expect(Set(waits).count > 10)
        }
    }

    @Test func aFencedSendDropsTheOutputAndAFailedOneKeepsIt() {
        let world = Self.running()
        world.coordinatorUp = false
        world.output = ["a", "b"]
        world.advance(by: .seconds(1))
        #expect(world.supervisor.pendingLogs.contains("b"))
        world.fencedSends = true
        world.advance(by: .seconds(1))
        #expect(world.supervisor.pendingLogs.isEmpty && world.supervisor.pendingMetrics.isEmpty)
    }

    @Test func longLinesAreCutOnACharacterBoundary() {
        let line = String(repeating: "é", count: 10)  // 2 bytes each
        #expect(AttemptSupervisor.truncated(line, toUTF8Bytes: 5) == "éé")
        #expect(AttemptSupervisor.truncated("short", toUTF8Bytes: 5) == "short")
        #expect(AttemptSupervisor.truncated("🙂🙂", toUTF8Bytes: 7) == "🙂")
    }

    @Test func metricPointsKeepFiniteValuesAndOnlyRankZeroSendsThem() {
        let world = Self.running()
        world.progress = [
            ProgressReader.Line(step: 6, metrics: ["loss": 0.25, "nan": .nan, "inf": .infinity, "": 1])
        ]
        world.advance(by: .seconds(1))
        let sent = world.actions.compactMap { action -> [WorkerProtocol.MetricBatch.Line]? in
            if case .sendMetrics(let lines, _) = action { lines } else { nil }
        }.flatMap { $0 }
        #expect(sent.first { $0.step == 6 }?.metrics == ["loss": 0.25])
        let member = Self.running(World.settings(gang: .init(rank: 1, worldSize: 2)))
        member.advance(by: .seconds(2))
        #expect(!member.actions.contains { if case .sendMetrics = $0 { true } else { false } })
        #expect(world.logged("timing: restore 0 ms, first step"))
    }

    @Test func theAgentStoppingKillsTheTrainerAndEnds() {
        let world = Self.running()
        world.send(.cancelled)
        #expect(world.actions.suffix(3) == [.cancelRestore, .killGroup, .end(.fenced("the agent was stopped"))])
    }

    @Test func aStopWhileRankZeroSettlesGivesUpTheMissingShards() {
        let world = Self.rankZeroSettling()
        world.beatAnswers = [.command(.continue), .command(.stop)]
        world.advance(by: .seconds(3))
        #expect(world.ended)
        #expect(world.logged("step 30 not committed"))
    }
}
