import Checkpoints
import SpotwiseCore
import Testing

@testable import WorkerAgent

/// Restoring: a restore longer than a lease heartbeats beside it, a fence stops it, and a gang
/// member resumes from its part.
@Suite struct AttemptSupervisorRestoreTests {
    typealias World = SupervisorWorld

    @Test func aRestoreLongerThanALeaseKeepsHeartbeatingTheAttempt() {
        let world = World(World.settings(resume: 400, heartbeat: .seconds(5)))
        world.start()
        #expect(world.actions == [.restore(atMostStep: 400)])
        world.advance(to: .seconds(61))  // four leases of 15 s
        let beats = world.performed.filter { if case .heartbeat = $0.action { true } else { false } }
        #expect(beats.count == 12)
        #expect(beats.allSatisfy { if case .heartbeat(let beat) = $0.action { beat.epoch == 9 } else { false } })
        #expect(!world.actions.contains(.observe))
        world.send(.restored(.init(step: 400, bytes: 1 << 30, skipped: [.init(step: 450, reason: "torn")])))
        #expect(world.actions.contains(.startTrainer(resume: .whole)))
        #expect(world.supervisor.committedStep == 400 && world.supervisor.startStep == 400)
        #expect(world.logged("step 450 skipped: torn"))
        #expect(world.supervisor.restoreMilliseconds == 61_000)
    }

    @Test func aFencedAttemptStopsItsRestore() {
        let world = World(World.settings(resume: 400))
        world.beatAnswers = [.fenced]
        world.start()
        world.advance(to: .seconds(5))
        #expect(world.actions.suffix(2) == [.cancelRestore, .end(.fenced("409 stale_epoch"))])
        #expect(world.heartbeats == 1)
    }

    @Test func aStopDuringARestoreStartsNoTrainer() {
        let world = World(World.settings(resume: 400))
        world.beatAnswers = [.command(.stop)]
        world.start()
        world.advance(to: .seconds(5))
        #expect(world.outcome == .fenced("the coordinator said stop"))
        #expect(!world.actions.contains { if case .startTrainer = $0 { true } else { false } })
    }

    @Test func aGangMemberResumesFromItsRanksPart() {
        let world = World(World.settings(gang: .init(rank: 2, worldSize: 4), resume: 300))
        world.start()
        world.send(.restored(.init(step: 300, bytes: 10, skipped: [], writtenWorldSize: 2)))
        #expect(world.actions.contains(.startTrainer(resume: .rank(2))))
        #expect(world.logged("written by a gang of 2; this one has 4"))
    }

    @Test func nothingToRestoreStartsFromStepZero() {
        let world = World(World.settings(resume: 300))
        world.start()
        world.send(.restored(.init(step: nil, bytes: 0, skipped: [])))
        #expect(world.actions.contains(.startTrainer(resume: nil)))
        #expect(world.supervisor.committedStep == nil && world.supervisor.startStep == 0)
    }

    @Test func aRestoreThatFailsIsReportedAsInfrastructure() throws {
        let world = World(World.settings(resume: 300))
        world.start()
        world.send(.infrastructureFailed("restore failed: bucket gone"))
        #expect(world.outcome == .infrastructure("restore failed: bucket gone"))
        #expect(world.finished?.outcome == .infrastructure)
        #expect(!world.actions.contains(.killGroup))
    }
}
