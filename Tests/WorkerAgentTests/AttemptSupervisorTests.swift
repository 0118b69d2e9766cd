import Checkpoints
import SpotwiseCore
import Testing

@testable import WorkerAgent

/// The attempt's rules, by feeding events and advancing a manual clock: no process, no server,
/// no sleeping.
@Suite struct AttemptSupervisorTests {
    typealias World = SupervisorWorld

    /// A single node trained to step 45 of 100 with a checkpoint at 40.
    static var training: World { World.trained(through: 45, checkpointAt: 40, total: 100) }

    @Test func aNoticeBetweenCheckpointsLosesNoStep() throws {
        let world = Self.training
        #expect(world.supervisor.committedStep == 40)
        // The trainer checkpoints at its next step on SIGTERM and exits 143.
        world.onStop = [World.line(step: 46, checkpoint: true)]
        world.exitOnStop = 143
        world.notices = [(.spotTermination, .seconds(120))]
        world.advance(by: .seconds(1))
        #expect(world.outcome == .preempted(committedStep: 46))
        let finished = try #require(world.finished)
        #expect(finished.outcome == .preempted && finished.notice == true && finished.committedStep == 46)
        // Commit, then tell the coordinator, then report: in that order.
        let commit = try #require(world.index { $0 == .commit(step: 46, directory: "step-46") })
        let record = try #require(world.index { $0 == .recordCommit(World.ref(46)) })
        let finish = try #require(world.index { if case .finish = $0 { true } else { false } })
        #expect(commit < record && record < finish)
        // The coordinator heard of the notice at once, on a heartbeat carrying it.
        #expect(
            world.actions.contains {
                if case .heartbeat(let beat) = $0 { beat.notice == "spot-termination" } else { false }
            })
    }

    @Test func aNoticeDuringACommitStillCommitsAndStops() throws {
        let world = Self.training
        // The checkpoint line and the notice arrive in the same look: the commit goes first.
        world.progress = [World.line(step: 50, checkpoint: true)]
        world.notices = [(.preempted, .seconds(30))]
        world.onStop = [World.line(step: 51, checkpoint: true)]
        world.exitOnStop = 143
        world.advance(by: .seconds(1))
        let commit50 = try #require(world.index { $0 == .commit(step: 50, directory: "step-50") })
        let stop = try #require(world.index { $0 == .signal(.stop) })
        #expect(commit50 < stop)
        #expect(world.finished?.committedStep == 51)
    }

    @Test func theTrainerIsKilledWhenTheNoticeWindowRunsOutAndNotBefore() {
        let world = Self.training
        world.notices = [(.preempted, .seconds(30))]
        world.advance(by: .milliseconds(300))
        #expect(world.actions.contains(.signal(.stop)))
        world.advance(by: .seconds(29))
        #expect(!world.actions.contains(.killGroup))
        world.advance(by: .seconds(2))
        let kill = world.performed.first { $0.action == .killGroup }
        #expect(kill.map { $0.at >= .seconds(30) } == true)
        // Killed by the agent after a notice: preempted with notice, the last commit kept.
        world.advance(by: .seconds(1))
        #expect(world.outcome == .preempted(committedStep: 40))
    }

    @Test func aSilentCoordinatorDoesNotStopTrainingAndOutputStaysBounded() {
        var settings = World.settings(heartbeat: .seconds(1))
        settings.maxPendingLines = 50
        let world = World(settings)
        world.defaultBeat = .unreachable
        world.coordinatorUp = false
        world.start()
        for second in 1...30 {
            world.output = (0..<10).map { "line \(second).\($0)" }
            world.progress = [World.line(step: second * 10)]
            world.advance(to: .seconds(second))
        }
        #expect(!world.ended)
        #expect(!world.actions.contains(.killGroup) && !world.actions.contains(.signal(.stop)))
        #expect(world.heartbeats >= 29)
        #expect(world.supervisor.pendingLogs.count <= 50 + 10)
        #expect(world.supervisor.pendingMetrics.count <= 50 + 1)
        // Back: what was kept goes out, newest last.
        world.coordinatorUp = true
        world.advance(by: .seconds(1))
        #expect(world.supervisor.pendingLogs.isEmpty && world.supervisor.pendingMetrics.isEmpty)
    }

    @Test func aFencedAttemptGetsSIGTERMThenSIGKILLAndReportsNothing() {
        let world = Self.training
        world.beatAnswers = [.fenced]
        world.advance(by: .seconds(5))
        #expect(world.actions.contains(.signal(.stop)))
        #expect(!world.actions.contains(.killGroup))
        world.advance(by: .seconds(2))
        #expect(world.actions.contains(.killGroup))
        guard case .fenced = world.outcome else {
            Issue.record("expected fenced, got \(String(describing: world.outcome))")
            return
        }
        #expect(world.finished == nil)
    }

    @Test func aCommitTheCoordinatorRefusesEndsTheAttemptAtOnce() {
        let world = World(World.settings())
        world.fencedOnCommit = true
        world.start()
        world.progress = [World.line(step: 10, checkpoint: true), World.line(step: 11)]
        world.advance(by: .milliseconds(100))
        #expect(world.actions.suffix(2) == [.killGroup, .end(.fenced("403 fenced"))])
    }

    @Test func maxCostStopCommitsTheLastCheckpointAndLeavesTheReportToTheCoordinator() {
        let world = Self.training
        world.beatAnswers = [.command(.stop)]
        world.onStop = [World.line(step: 46, checkpoint: true)]
        world.exitOnStop = 143
        world.advance(by: .seconds(6))
        #expect(world.actions.contains(.commit(step: 46, directory: "step-46")))
        #expect(world.outcome == .fenced("the coordinator said stop"))
        #expect(world.finished == nil)
    }

    @Test func aReplyDuringTheKillGraceChangesNothing() {
        let world = Self.training
        world.beatAnswers = [.command(.stop), .command(.notice), .command(.checkpointNow)]
        world.advance(by: .seconds(5))  // stop: SIGTERM, SIGKILL due at 25 s
        world.advance(by: .seconds(10))  // notice and checkpoint_now arrive during the grace
        #expect(world.count { $0 == .signal(.stop) } == 1)
        #expect(!world.actions.contains(.signal(.checkpointNow)))
        #expect(world.supervisor.notice == nil)
        world.advance(by: .seconds(9))
        #expect(!world.actions.contains(.killGroup))
        world.advance(by: .seconds(2))
        #expect(world.actions.contains(.killGroup))
    }

    @Test func twoNoticesActOnce() {
        let world = Self.training
        // A rebalance recommendation stays up: one checkpoint for it, not one per look.
        world.notices = [(.rebalance, nil), (.rebalance, nil), (.spotTermination, .seconds(120)), (.sigterm, nil)]
        world.advance(by: .seconds(2))
        #expect(world.count { $0 == .signal(.checkpointNow) } == 1)
        #expect(world.count { $0 == .signal(.stop) } == 1)
        #expect(world.supervisor.notice == .spotTermination)
        // Once a termination is in hand, the watchers are not asked again.
        #expect(world.notices.count == 1)
    }

    @Test func aTrainerThatExitsZeroAfterANoticeCompletedOnlyIfItsOutputSaysSo() throws {
        // Finished at the notice: its metrics are there; the model is committed and registered.
        let done = Self.training
        done.metricsFile = ["auc": 0.93]
        done.notices = [(.preempted, .seconds(30))]
        done.exitOnStop = 0
        done.advance(by: .seconds(1))
        #expect(done.outcome == .completed)
        #expect(done.actions.contains(.commitOutput) && done.finished?.metrics == ["auc": 0.93])
        // Stopped early with status 0 and no metrics: preempted with notice, nothing registered.
        let early = Self.training
        early.notices = [(.preempted, .seconds(30))]
        early.exitOnStop = 0
        early.advance(by: .seconds(1))
        #expect(early.outcome == .preempted(committedStep: 40))
        #expect(!early.actions.contains(.commitOutput))
        // Reached its last step (no metrics file): completed.
        let last = Self.training
        last.notices = [(.preempted, .seconds(30))]
        last.onStop = [World.line(step: 100, total: 100)]
        last.exitOnStop = 0
        last.advance(by: .seconds(1))
        #expect(last.outcome == .completed)
    }

    @Test func aFinishTheCoordinatorCannotTakeIsRetriedWithBackoff() throws {
        let world = Self.training
        world.finishFailures = 3
        world.progress = [World.line(step: 100)]
        world.exitStatus = 0
        world.groupAlive = false
        world.metricsFile = ["auc": 0.9]
        world.advance(by: .seconds(1))
        #expect(!world.ended)
        world.advance(by: .seconds(3))
        #expect(world.outcome == .completed)
        let tries = world.performed.filter { if case .finish = $0.action { true } else { false } }.map(\.at)
        #expect(tries.count == 4)
        #expect(zip(tries, tries.dropFirst()).allSatisfy { $1 - $0 >= .milliseconds(125) })
    }

    @Test func theGroupGetsTenSecondsAfterItsFirstProcessExits() {
        let world = Self.training
        world.exitStatus = 0
        world.groupAlive = true  // a wrapper exited; the trainer behind it still writes
        world.advance(by: .seconds(5))
        world.progress = [World.line(step: 60, checkpoint: true)]
        world.advance(by: .milliseconds(100))
        #expect(world.actions.contains(.commit(step: 60, directory: "step-60")))
        #expect(!world.actions.contains(.killGroup))
        world.advance(by: .seconds(6))
        #expect(world.actions.contains(.killGroup))
        #expect(world.ended)
    }
}
