import Checkpoints
import SpotwiseCore
import Testing

@testable import WorkerAgent

/// Random worlds (seeded): whatever the trainer, the watchers and the coordinator do, the
/// attempt ends, ends once, reports only after the trainer is gone, and commits every checkpoint
/// the trainer announced before it reports.
@Suite struct AttemptSupervisorPropertyTests {
    @Test(arguments: 0..<300) func anyWorldEndsOnceWithEveryAnnouncedCheckpointCommittedFirst(seed: Int) throws {
        var random = SeededGenerator(seed: UInt64(seed))
        let gang: AttemptSupervisor.Gang? =
            Bool.random(using: &random) ? .init(rank: Int.random(in: 0...1, using: &random), worldSize: 2) : nil
        let world = SupervisorWorld(
            SupervisorWorld.settings(
                gang: gang, resume: Bool.random(using: &random) ? 50 : nil,
                heartbeat: .milliseconds(Int.random(in: 200...5000, using: &random)),
                noticeWindow: .seconds(Int64.random(in: 2...120, using: &random))))
        world.start()
        if world.supervisor.phase != .running {
            world.advance(by: .seconds(Int64.random(in: 0...20, using: &random)))
            world.send(.restored(.init(step: 50, bytes: 1, skipped: [])))
        }
        var step = 50
        var announced: [Int] = []
        for _ in 0..<200 where !world.ended {
            switch Int.random(in: 0..<20, using: &random) {
            case 0:
                world.notices.append(
                    ([.spotTermination, .rebalance, .preempted, .sigterm].randomElement(using: &random)!, nil))
            case 1:
                world.beatAnswers.append(
                    [.command(.stop), .command(.notice), .command(.checkpointNow), .unreachable, .fenced].randomElement(
                        using: &random)!)
            case 2: world.coordinatorUp.toggle()
            case 3 where world.exitStatus == nil:
                world.exitStatus = [0, 1, 143, 75].randomElement(using: &random)!
                world.groupAlive = Bool.random(using: &random)
            case 4: world.exitOnStop = [0, 143, nil].randomElement(using: &random)!
            case 5: world.groupAlive = false
            case 6: world.fencedOnCommit = Int.random(in: 0..<10, using: &random) == 0
            case 7: world.fencedSends = Int.random(in: 0..<5, using: &random) == 0
            default:
                if world.exitStatus == nil || world.groupAlive {
                    step += 1
                    let checkpoint = step % 7 == 0
                    if checkpoint {
                        announced.append(step)
                        world.completeGangSteps.insert(step)
                    }
                    world.progress.append(SupervisorWorld.line(step: step, checkpoint: checkpoint))
                }
            }
            world.advance(by: .milliseconds(Int64.random(in: 10...3000, using: &random)))
        }
        // Whatever is left: the trainer goes, and the attempt must end within its bounds.
        world.groupAlive = false
        if world.exitStatus == nil { world.exitStatus = 137 }
        world.advance(by: .seconds(600))
        let ends = world.actions.filter { if case .end = $0 { true } else { false } }
        #expect(ends.count == 1, "seed \(seed): \(ends.count) ends")
        #expect(world.actions.last.map { if case .end = $0 { true } else { false } } == true)
        guard let finish = world.index(of: { if case .finish = $0 { true } else { false } }) else { return }
        #expect(world.stuck == 0, "seed \(seed): left with no action and no tick")
        // A report comes after the trainer was seen gone (or killed), unless it never started.
        let gone = (world.exitSeenAt.map { $0 < finish } ?? false) || world.actions.prefix(finish).contains(.killGroup)
        #expect(gone || world.finished?.outcome == .infrastructure, "seed \(seed): report before the trainer was gone")
        // Every checkpoint announced (and so looked at) before the report was committed before it.
        let committedBefore = Set(
            world.actions.prefix(finish).compactMap { action -> Int? in
                switch action {
                case .commit(let at, _), .commitShard(let at, _, _): at
                default: nil
                }
            })
        let looked = world.performed.prefix(finish).filter { $0.action == .observe }.count
        if looked > 0, world.finished?.outcome != .infrastructure {
            for at in announced where at <= (world.supervisor.step ?? 0) {
                #expect(
                    committedBefore.contains(at), "seed \(seed): step \(at) announced, not committed before the report")
            }
        }
        // No step the coordinator hears of as committed was not committed.
        if let reported = world.finished?.committedStep, gang == nil {
            #expect(committedBefore.contains(reported) || reported == 50)
        }
    }
}
